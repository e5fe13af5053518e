"""`forecast backtest`: rolling-origin comparison of models against persistence, with a leaderboard."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from forecast.cli.common import (
    add_command,
    add_common,
    add_interval_options,
    add_threads,
    add_window_options,
    begin,
    interval_settings,
    names,
    note,
    positive_int,
    read,
    show_progress,
    window_spec,
)
from forecast.errors import InputError

EXAMPLE = """examples:
  forecast backtest seattle-weather --target temp_max --features precipitation,temp_min,wind \\
      --models lstm,gru,rnn,naive,ridge --lookback 30 --test-size 0.2 --out runs/seattle
  forecast backtest stocks --id-col ticker --target close --models gru,ridge,naive \\
      --target-transform log_return --refit-every 60 --out runs/stocks
  forecast backtest msft --target close --models gru,always_up --task direction --out runs/msft-direction

DATA is a CSV/Parquet file (a time column and one column per variable; a long file adds a series
column, named with --id-col) or a bundled dataset name (see `forecast datasets`). The last --test-size
of the time steps is the test period; every model forecasts each of its origins from the data up to
that origin only. Persistence (naive; persist_direction with --task direction) is always included and
each model is tested against it (one-sided Diebold-Mariano tests, on the
loss of the ranking metric: absolute error for MASE; 5% level). Writes leaderboard.csv/.png,
forecasts.csv, scores.csv (per horizon step), refits.csv, summary.txt and forecast/residual plots.
With --intervals 0.8,0.95 every model is wrapped in conformal intervals (lower_80, upper_80, ...): the
leaderboard adds coverage, width and Winkler score per level and CRPS, and calibration.png is drawn.
"""


def _size(text: str) -> float | int:
    """A fraction (0.2) or a number of time steps (300)."""
    try:
        return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction like 0.2 or a number of steps, got {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    from forecast.cli.common import add_rnn_options

    p = add_command(
        sub, "backtest", help="compare models against persistence on a rolling-origin test period",
        description="Backtest models on DATA: same origins for all, data up to each origin only, "
                    "scores per horizon step, significance against persistence, leaderboard and plots.",
        epilog=EXAMPLE, data=True,
    )
    add_window_options(p, id_help=" (default for bundled data: its own, e.g. ticker)")
    p.add_argument("--models", type=names, action="extend", metavar="NAME[,NAME]",
                   help="registered model names (default: the library's choice for the task, "
                        "forecast.evaluate.DEFAULT_MODELS: rnn,gru,lstm,naive; with --task direction "
                        "rnn,gru,lstm,always_up)")
    p.add_argument("--test-size", type=_size, default=0.2,
                   help="fraction (0.2) or number of time steps (300) at the end to test on (default 0.2)")
    p.add_argument("--refit-every", type=positive_int, metavar="K",
                   help="refit every K origins on an expanding window (default: fit once before the test)")
    p.add_argument("--stride", type=positive_int, default=1, help="forecast from every Nth origin (default 1)")
    p.add_argument("--each-origin", action="store_true",
                   help="forecast each test origin from the data cut there, instead of all origins at once: "
                        "much faster for the statistical models (autoets, autoarima, ...), which run forward "
                        "once per origin; slower for the others")
    add_rnn_options(p, who=" of RNNs")  # the network and training options fit takes too
    p.add_argument("--hidden-size", type=positive_int, help="hidden units of RNNs (default 64)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--target-transform", choices=("none", "log", "diff", "pct_change", "log_return"),
                   help="every model forecasts the target transformed (e.g. log_return for prices): RNNs "
                        "themselves, the others through a wrapper; direction models refuse. Scored in the "
                        "target's units; the benchmark stays persistence on the target itself")
    p.add_argument("--task", choices=("regression", "quantile", "direction"),
                   help="RNN task: point forecasts, quantile intervals, or up/down direction (classification)")
    add_interval_options(p)
    p.add_argument("--season", type=positive_int, default=1, help="season of the MASE scale (default 1)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write the report to")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    add_threads(p)
    add_common(p)
    p.set_defaults(handler=handle)


def _series_column(data: str, id_col: str | None) -> str | None:
    """--id-col, or for a bundled dataset its own series column (e.g. ticker)."""
    from forecast import datasets

    if id_col is None and data in datasets.names() and not Path(data).exists():
        return datasets.spec(data).id_col
    return id_col


def handle(args: argparse.Namespace) -> int:
    from forecast.cli.common import rnn_settings
    from forecast.evaluate import backtest
    from forecast.models import registry

    begin(args)
    models = list(dict.fromkeys(args.models)) if args.models else None  # None: the library's default by task
    unknown = [m for m in models or () if not registry.known(m)]
    if unknown:
        raise InputError(f"unknown model(s) {', '.join(map(repr, unknown))} in --models; "
                         f"choose from: {', '.join(registry.names())} (see `forecast models`)")
    spec = window_spec(args, _series_column(args.data, args.id_col))
    frame = read(args.data, args.time_col, spec.id_col, spec.numeric_inputs, missing=args.missing, sort=args.sort)
    needed = [*spec.columns, *([spec.id_col] if spec.id_col else [])]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InputError(f"{args.data}: no column(s) {', '.join(map(repr, missing))}; columns are "
                         f"{', '.join(map(str, frame.columns))}; check --target/--features/--id-col")
    params = {"seed": args.seed, "progress_bar": False,
              "hidden_size": args.hidden_size, "target_transform": args.target_transform, "task": args.task,
              **rnn_settings(args), **interval_settings(args)}
    result = backtest(
        models, frame, spec, test_size=args.test_size, refit_every=args.refit_every, stride=args.stride,
        params={k: v for k, v in params.items() if v is not None or k == "patience"}, season=args.season,
        predict_each_origin=args.each_origin,
        progress=show_progress(args), out=args.out,
    )
    paths = result.write(args.out, plots=not args.no_plots)
    improving = result.refits.loc[result.refits["still_improving"].eq(True), "model"].unique()
    if len(improving):
        note(f"{', '.join(improving)}: the best validation loss came at the last epoch: still improving: "
             "raise --max-epochs")
    print(_table(result.leaderboard, result.task))
    print()
    print(result.summary)
    print(f"wrote {len(paths)} files to {args.out}: {', '.join(sorted(p.name for p in paths.values()))}",
          file=sys.stderr)
    return 0


def _table(board: pd.DataFrame, task: str) -> str:
    """The leaderboard's main columns as aligned text, with the line that says which DM test they show."""
    from forecast.intervals import coverage_columns
    from forecast.leaderboard import dm_legend, format_leaderboard

    metrics = ["accuracy", "brier", "log_loss"] if task == "direction" else ["mae", "rmse", "mase"]
    metrics += [c for c in coverage_columns(board)] + (["crps"] if "crps" in board else [])
    return f"{format_leaderboard(board, metrics)}\n{dm_legend(board)}"
