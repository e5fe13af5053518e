"""`forecast demo`: LSTM vs persistence on bundled Seattle weather (the README's first command)."""

from __future__ import annotations

import argparse

from forecast.cli.common import (
    add_command,
    add_threads,
    add_training_options,
    begin,
    show_progress,
    training_settings,
)

DESCRIPTION = """Train an LSTM (Lightning, gradient clipping on) on the first 80% of the bundled Seattle daily
weather, forecast next-day temp_max on the last 20%, and compare with persistence: a backtest plus a plot.

example: forecast demo --out runs/demo"""


def register(sub: argparse._SubParsersAction) -> None:
    summary = "train an LSTM on bundled Seattle weather and compare it with persistence"
    p = add_command(sub, "demo", help=summary, description=DESCRIPTION)
    p.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    add_training_options(p)
    p.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    p.add_argument("--no-progress", action="store_true", help="hide the training progress bar")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG figure")
    add_threads(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from forecast.demo import run_demo

    begin(args)
    result = run_demo(args.out, seed=args.seed, progress_bar=show_progress(args), plots=not args.no_plots,
                      **training_settings(args))
    print(f"Seattle next-day temp_max, test {result['test_start']} .. ({result['test_rows']} days)")
    print(f"  LSTM        MAE {result['mae_lstm']:.3f} °C   ({result['epochs']} epochs, {result['fit_seconds']:.1f} s)")
    print(f"  persistence MAE {result['mae_persistence']:.3f} °C")
    verdict = "beats" if result["lstm_beats_persistence"] else "does NOT beat"
    print(f"The LSTM {verdict} persistence on this split.")
    figure = "" if args.no_plots else f" and {result['out_dir']}/forecast.png"
    print(f"wrote {result['out_dir']}/forecasts.csv{figure}")
    return 0
