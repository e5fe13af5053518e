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
    from forecast.cli.common import positive_float, positive_int

    p = add_command(
        sub, "benchmark",
        help="run the ETTh1 long-horizon benchmark (several seeds) and write mean/std beside published rows",
        description=(
            "Run the ETTh1 benchmark under the Informer/DLinear protocol (train rows 0-8640, validation\n"
            "8640-11520, test 11520-14400, z-score on the training rows, MSE/MAE on the normalized scale over\n"
            "every test window) at H=96/192/336/720 and lookbacks 96 and 336, univariate (OT) and\n"
            "multivariate (7 columns), for repeat-last-value, Ridge and the recurrent networks, one fit per\n"
            "seed. Prints the results as JSON on stdout (every run, and the mean and standard deviation over\n"
            "seeds per row); --out also writes results.json and results.md (rewritten after every finished\n"
            "fit, so an interrupted run keeps what it finished). Progress goes to a terminal only.\n\n"
            "example: forecast benchmark etth1 --seeds 1,2,3 --workers 2 --out runs/etth1\n"
            "example: forecast benchmark etth1 --horizons 96 --lookbacks 96 --seeds 1 --setting univariate\n"
            "example: forecast benchmark etth1 --quick"
        ),
    )
    p.add_argument("name", choices=BENCHMARKS, help="which benchmark")
    p.add_argument("--horizons", default=None, help="comma-separated horizons (default 96,192,336,720; quick: 24)")
    p.add_argument("--lookbacks", default=None,
                   help="comma-separated lookbacks of Ridge and the recurrent networks (default 96,336; quick: 48)")
    p.add_argument("--seeds", default=None,
                   help="comma-separated seeds, one recurrent fit each (default 1,2,3; quick: 1)")
    p.add_argument("--setting", default="both", choices=("univariate", "multivariate", "both"),
                   help="univariate (OT only), multivariate (7 columns in and out) or both (default)")
    p.add_argument("--models", default=None,
                   help="comma-separated models from repeat,ridge,rnn,gru,lstm (default repeat,ridge,gru)")
    p.add_argument("--recipe", default=None, choices=("segments", "highway", "segrnn", "pointwise"),
                   help="recurrent recipe: segments (SegRNN-style on a 2-core budget, default), highway "
                        "(segments plus a ridge-fitted linear highway, --rnn-skip ridge, on last-value "
                        "normalization), segrnn (SegRNN's own width and epochs, about 13x slower) or pointwise "
                        "(issue 14's rows)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: tiny networks, 2 training batches, every 24th test window (seconds, not minutes)")
    p.add_argument("--rnn-normalize", default=None, choices=("last", "revin", "none"),
                   help="recurrent nets forecast the change from the origin's value (last: pointwise, segrnn "
                        "and highway recipes), from the lookback's mean in its std (revin: segments recipe) or "
                        "the value itself (none)")
    p.add_argument("--rnn-skip", default=None, choices=("linear", "ridge", "none"),
                   help="add a linear map of each target's lookback to the recurrent head, learned with it "
                        "(linear, pointwise recipe's default) or fitted by ridge regression first and frozen "
                        "(ridge), or not (none, segments recipe's default)")
    p.add_argument("--rnn-ema-half-life", type=positive_float, default=None, metavar="EPOCHS",
                   help="validate and keep a moving average of the recurrent nets' weights with this half-life "
                        "in epochs (default: the recipe's, off)")
    p.add_argument("--workers", type=positive_int, default=1,
                   help="processes running fits side by side, each with --threads threads (default 1)")
    add_threads(p)
    p.add_argument("--no-progress", action="store_true", help="no progress lines, even on a terminal")
    p.add_argument("--out", default=None, help="folder for results.json and results.md (the markdown table)")
    p.set_defaults(handler=handle)


def _int_list(text: str, option: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise InputError(f"{option} {text!r} must be comma-separated integers, e.g. {EXAMPLES[option]}") from None


EXAMPLES = {"--horizons": "96,192,336,720", "--lookbacks": "96,336", "--seeds": "1,2,3"}


def config_from_args(args: argparse.Namespace):
    """The ETTh1Config the command line asks for."""
    from forecast.benchmarks.etth1 import DEFAULT_RECIPE, RECIPES, SETTINGS, ETTh1Config

    overrides: dict = {"recipe": args.recipe or DEFAULT_RECIPE}
    for option in EXAMPLES:
        text = getattr(args, option[2:])
        if text is not None:
            overrides[option[2:]] = _int_list(text, option)
    overrides["settings"] = SETTINGS if args.setting == "both" else (args.setting,)
    if args.models is not None:
        overrides["models"] = tuple(m.strip() for m in args.models.split(",") if m.strip())
    if not args.quick:
        overrides["recurrent"] = RECIPES[overrides["recipe"]]
    config = ETTh1Config.quick(**overrides) if args.quick else ETTh1Config(**overrides)
    changes = {k: v for k, v in (("normalize", args.rnn_normalize), ("skip", args.rnn_skip),
                                 ("ema_half_life", args.rnn_ema_half_life)) if v is not None}
    return replace(config, recurrent=replace(config.recurrent, **changes)) if changes else config


def canonical_command(args: argparse.Namespace, config) -> str:
    """The full command line that reproduces this run (every choice spelled out)."""
    setting = "both" if len(config.settings) == 2 else config.settings[0]
    parts = ["forecast benchmark etth1", f"--horizons {','.join(map(str, config.horizons))}",
             f"--lookbacks {','.join(map(str, config.lookbacks))}", f"--seeds {','.join(map(str, config.seeds))}",
             f"--setting {setting}", f"--models {','.join(config.models)}", f"--recipe {config.recipe}"]
    if args.quick:
        parts.append("--quick")
    parts += [f"--rnn-normalize {config.recurrent.normalize}", f"--rnn-skip {config.recurrent.skip}"]
    if config.recurrent.ema_half_life is not None:
        parts.append(f"--rnn-ema-half-life {config.recurrent.ema_half_life:g}")
    parts += [f"--workers {args.workers}", f"--threads {args.threads}"]
    return " ".join(parts)


def handle(args: argparse.Namespace) -> int:
    config = config_from_args(args)  # validate before importing torch or reading data
    if args.out:
        from forecast.io import check_output_dir

        check_output_dir(args.out)
    import time

    from forecast.benchmarks import etth1
    from forecast.io import atomic_path

    apply_threads(args)
    command = canonical_command(args, config)
    show = sys.stderr.isatty() and not args.no_progress
    total, rows, started = len(etth1.cells(config)), [], time.perf_counter()

    def write(result: dict) -> str:
        result["command"] = command
        text = json.dumps(result, indent=2)
        if args.out:
            out = Path(args.out)
            with atomic_path(out / "results.json") as tmp:
                tmp.write_text(text + "\n")
            with atomic_path(out / "results.md") as tmp:
                tmp.write_text(f"`{command}`\n\n" + etth1.markdown_table(result))
        return text

    def progress(row: dict) -> None:
        rows.append(row)
        if args.out:  # an interrupted run keeps every finished fit
            write(etth1.result_document(config, rows, seconds=time.perf_counter() - started,
                                        workers=args.workers, complete=False))
        if show:
            seed = "" if row["seed"] is None else f" seed {row['seed']}"
            print(f"[{len(rows)}/{total}] {row['setting']:>12} H={row['horizon']:<4} L={row['lookback']:<4} "
                  f"{row['model']:<6}{seed}  MSE {row['mse']:.4f}  MAE {row['mae']:.4f}  ({row['seconds']:.1f} s)",
                  file=sys.stderr, flush=True)

    result = etth1.run(config, workers=args.workers, log=progress)
    print(write(result))
    return 0
