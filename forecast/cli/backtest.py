"""`forecast backtest`: rolling-origin comparison of models against persistence, with a leaderboard."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from forecast.errors import InputError

EXAMPLE = """examples:
  forecast backtest seattle-weather --target temp_max --features precipitation,temp_min,wind \\
      --models lstm,gru,rnn,naive,ridge --lookback 30 --test-size 0.2 --out runs/seattle
  forecast backtest stocks --id-col ticker --target close --models gru,naive,drift \\
      --target-transform log_return --refit-every 60 --out runs/stocks
  forecast backtest msft --target close --models gru,always_up --task direction --out runs/msft-direction

DATA is a CSV/Parquet file (a time column and one column per variable; a long file adds a series
column, named with --id-col) or a bundled dataset name (see `forecast datasets`). The last --test-size
of the time steps is the test period; every model forecasts each of its origins from the data up to
that origin only. Persistence (naive; persist_direction with --task direction) is always included and
each model is tested against it (Diebold-Mariano, 5% level). Writes leaderboard.csv/.png,
forecasts.csv, scores.csv (per horizon step), refits.csv, summary.txt and forecast/residual plots.
"""


def _names(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return items


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _size(text: str) -> float | int:
    """A fraction (0.2) or a number of time steps (300)."""
    try:
        return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction like 0.2 or a number of steps, got {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "backtest", help="compare models against persistence on a rolling-origin test period",
        description="Backtest models on DATA: same origins for all, data up to each origin only, "
                    "scores per horizon step, significance against persistence, leaderboard and plots.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("data", metavar="DATA", help="CSV/Parquet file or bundled dataset name")
    p.add_argument("--target", type=_names, action="extend", required=True, metavar="COL[,COL]",
                   help="column(s) to forecast")
    p.add_argument("--models", type=_names, action="extend", metavar="NAME[,NAME]",
                   help="registered model names (default: rnn,gru,lstm,naive; with --task direction: "
                        "rnn,gru,lstm,always_up)")
    p.add_argument("--features", type=_names, action="extend", default=[], metavar="COL[,COL]",
                   help="covariates observed up to the forecast origin")
    p.add_argument("--calendar", type=_names, action="extend", default=[], metavar="NAME[,NAME]",
                   help="calendar features from the time index: dayofweek, dayofyear, hour, month")
    p.add_argument("--id-col", metavar="COL",
                   help="series column of a long file (default for bundled data: its own, e.g. ticker)")
    p.add_argument("--time-col", metavar="COL", help="time column of a file (default: date/timestamp/time/"
                                                      "datetime, else the first column)")
    p.add_argument("--missing", choices=("error", "drop", "ffill", "interpolate"), default="error",
                   help="what to do with empty cells in a file (default: error, naming the first one)")
    p.add_argument("--lookback", type=_positive, default=30, help="input window length (default 30)")
    p.add_argument("--horizon", type=_positive, default=1, help="steps to forecast (default 1)")
    p.add_argument("--test-size", type=_size, default=0.2,
                   help="fraction (0.2) or number of time steps (300) at the end to test on (default 0.2)")
    p.add_argument("--refit-every", type=_positive, metavar="K",
                   help="refit every K origins on an expanding window (default: fit once before the test)")
    p.add_argument("--stride", type=_positive, default=1, help="forecast from every Nth origin (default 1)")
    p.add_argument("--epochs", type=_positive, default=20, help="maximum training epochs of RNNs (default 20)")
    p.add_argument("--hidden-size", type=_positive, help="hidden units of RNNs (default 64)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--target-transform", choices=("none", "log", "diff", "pct_change", "log_return"),
                   help="model the target transformed (e.g. log_return for prices); reported in original units")
    p.add_argument("--task", choices=("regression", "quantile", "direction"),
                   help="RNN task: point forecasts, quantile intervals, or up/down direction (classification)")
    p.add_argument("--season", type=_positive, default=1, help="season of the MASE scale (default 1)")
    p.add_argument("--threads", type=_positive, metavar="N",
                   help="CPU threads for torch (default: torch's own); 1 is fastest for small RNNs on a busy machine")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write the report to")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(handler=handle)


def _read_data(data: str, time_col: str | None, id_col: str | None, missing: str) -> tuple[pd.DataFrame, str | None]:
    """A bundled dataset by name, or a validated CSV/Parquet file (`forecast.load_table`); returns the
    time-indexed frame and its series column (for bundled data, the dataset's own unless given)."""
    from forecast import datasets
    from forecast.data.sources.files import load_table

    if data in datasets.names():
        return datasets.load(data), id_col or datasets.spec(data).id_col
    if not Path(data).exists():
        raise InputError(f"{data}: no such file, and not a bundled dataset ({', '.join(datasets.names())})")
    return load_table(data, time_col=time_col, id_col=id_col, missing=missing), id_col


def handle(args: argparse.Namespace) -> int:
    from forecast.config import WindowSpec
    from forecast.evaluate import backtest
    from forecast.models import registry

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    default = ["rnn", "gru", "lstm", "always_up"] if args.task == "direction" else ["rnn", "gru", "lstm", "naive"]
    models = list(dict.fromkeys(args.models or default))
    unknown = [m for m in models if m not in registry.names()]
    if unknown:
        raise InputError(f"unknown model(s) {', '.join(map(repr, unknown))} in --models; "
                         f"choose from: {', '.join(registry.names())}")
    frame, id_col = _read_data(args.data, args.time_col, args.id_col, args.missing)
    needed = [*args.target, *args.features, *([id_col] if id_col else [])]
    missing = [c for c in dict.fromkeys(needed) if c not in frame.columns]
    if missing:
        raise InputError(f"{args.data}: no column(s) {', '.join(map(repr, missing))}; columns are "
                         f"{', '.join(map(str, frame.columns))}; check --target/--features/--id-col")
    spec = WindowSpec(target=tuple(args.target), lookback=args.lookback, horizon=args.horizon,
                      features=tuple(f for f in args.features if f not in args.target),
                      calendar=tuple(args.calendar), id_col=id_col)
    params = {"max_epochs": args.epochs, "seed": args.seed, "progress_bar": False,
              "hidden_size": args.hidden_size, "target_transform": args.target_transform, "task": args.task}
    result = backtest(
        models, frame, spec, test_size=args.test_size, refit_every=args.refit_every, stride=args.stride,
        params={k: v for k, v in params.items() if v is not None}, season=args.season,
        progress=not args.no_progress,
    )
    paths = result.write(args.out, plots=not args.no_plots)
    print(_table(result.leaderboard, result.task))
    print()
    print(result.summary)
    print(f"wrote {len(paths)} files to {args.out}: {', '.join(sorted(p.name for p in paths.values()))}",
          file=sys.stderr)
    return 0


def _table(board: pd.DataFrame, task: str) -> str:
    """The leaderboard's main columns as aligned text."""
    metrics = ["accuracy", "brier", "log_loss"] if task == "direction" else ["mae", "rmse", "mase"]
    columns = ["rank", "model", *(["target"] if board["target"].nunique() > 1 else []), "n", *metrics,
               "dm_p_better", "beats_benchmark", "fit_seconds", "predict_seconds"]
    shown = board[[c for c in columns if c in board.columns]].rename(columns={"dm_p_better": "dm_p"})
    return shown.to_string(index=False, float_format=lambda v: f"{v:.4g}", na_rep="-")
