"""`forecast benchmark etth1`: reproduce the published ETTh1 benchmark with our models and baselines."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from forecast.cli.common import add_command, add_threads, apply_threads
from forecast.errors import InputError

BENCHMARKS = ("etth1",)


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "benchmark",
        help="reproduce a published benchmark (ETTh1) and print our numbers as JSON",
        description=(
            "Run the ETTh1 benchmark under the Informer/DLinear protocol (train rows 0-8640, validation\n"
            "8640-11520, test 11520-14400, z-score on the training rows, MSE/MAE on the normalized scale)\n"
            "for the repeat-last-value and Ridge baselines and the RNN, GRU and LSTM. Prints the results as\n"
            "JSON on stdout and one progress line per model on stderr.\n\n"
            "example: forecast benchmark etth1 --horizons 24,48,168 --setting both --threads 2 --out runs/etth1\n"
            "example: forecast benchmark etth1 --quick"
        ),
    )
    p.add_argument("name", choices=BENCHMARKS, help="which benchmark")
    p.add_argument("--horizons", default=None, help="comma-separated horizons (default 24,48,168; quick: 24)")
    p.add_argument("--setting", default="both", choices=("univariate", "multivariate", "both"),
                   help="univariate (OT only), multivariate (7 columns in and out) or both (default)")
    p.add_argument("--models", default=None, help="comma-separated models from repeat,ridge,rnn,gru,lstm (default all)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: tiny networks, 2 training batches, every 24th test window (seconds, not minutes)")
    p.add_argument("--rnn-normalize", default=None, choices=("last", "none"),
                   help="recurrent nets forecast the change from the origin's value (last, default) or not (none)")
    p.add_argument("--rnn-skip", default=None, choices=("linear", "none"),
                   help="add a linear map of each target's lookback to the recurrent head (linear, default) or not")
    add_threads(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the network weights and batch order (default 0)")
    p.add_argument("--out", default=None, help="folder for results.json and results.md (the markdown table)")
    p.set_defaults(handler=handle)


def _int_list(text: str, option: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise InputError(f"{option} {text!r} must be comma-separated integers, e.g. 24,48,168") from None


def config_from_args(args: argparse.Namespace):
    """The ETTh1Config the command line asks for."""
    from forecast.benchmarks.etth1 import SETTINGS, ETTh1Config

    overrides: dict = {"seed": args.seed}
    if args.horizons is not None:
        overrides["horizons"] = _int_list(args.horizons, "--horizons")
    overrides["settings"] = SETTINGS if args.setting == "both" else (args.setting,)
    if args.models is not None:
        overrides["models"] = tuple(m.strip() for m in args.models.split(",") if m.strip())
    config = ETTh1Config.quick(**overrides) if args.quick else ETTh1Config(**overrides)
    changes = {k: v for k, v in (("normalize", args.rnn_normalize), ("skip", args.rnn_skip)) if v is not None}
    return replace(config, recurrent=replace(config.recurrent, **changes)) if changes else config


def canonical_command(args: argparse.Namespace, config) -> str:
    """The full command line that reproduces this run (every choice spelled out)."""
    setting = "both" if len(config.settings) == 2 else config.settings[0]
    parts = ["forecast benchmark etth1", f"--horizons {','.join(map(str, config.horizons))}",
             f"--setting {setting}", f"--models {','.join(config.models)}", f"--seed {config.seed}"]
    if args.quick:
        parts.append("--quick")
    parts += [f"--rnn-normalize {config.recurrent.normalize}", f"--rnn-skip {config.recurrent.skip}"]
    parts.append(f"--threads {args.threads}")
    return " ".join(parts)


def handle(args: argparse.Namespace) -> int:
    config = config_from_args(args)  # validate before importing torch or reading data
    if args.out:
        from forecast.io import check_output_dir

        check_output_dir(args.out)
    from forecast.benchmarks import etth1
    from forecast.io import atomic_path

    apply_threads(args)

    def progress(row: dict) -> None:
        print(f"{row['setting']:>12} H={row['horizon']:<4} {row['model']:<6} MSE {row['mse']:.4f}  "
              f"MAE {row['mae']:.4f}  ({row['seconds']:.1f} s)", file=sys.stderr, flush=True)

    result = etth1.run(config, log=progress)
    result["command"] = canonical_command(args, config)
    text = json.dumps(result, indent=2)
    if args.out:
        out = Path(args.out)
        with atomic_path(out / "results.json") as tmp:
            tmp.write_text(text + "\n")
        with atomic_path(out / "results.md") as tmp:
            tmp.write_text(etth1.markdown_table(result))
    print(text)
    return 0
