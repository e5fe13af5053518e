"""Helpers the commands share: list options, window options, threads, progress, reading DATA, loading a model
folder."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import pandas as pd

from forecast.errors import InputError


def add_command(sub: argparse._SubParsersAction, name: str, *, help: str, description: str,
                epilog: str | None = None, data: bool = False) -> argparse.ArgumentParser:
    """A subcommand whose description and examples keep their line breaks; `data`: it reads a table, DATA."""
    parser = sub.add_parser(name, help=help, description=description, epilog=epilog,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    if data:
        parser.add_argument("data", metavar="DATA", help="CSV/Parquet file or bundled dataset name")
    return parser


def begin(args: argparse.Namespace) -> None:
    """Before any work: fail on an output folder that cannot be written (--out), then apply --threads."""
    from forecast.io import check_output_dir

    check_output_dir(args.out)
    apply_threads(args)


def names(text: str) -> list[str]:
    """argparse type for comma-separated column names: 'a,b' -> ['a', 'b'] (repeat the flag to add more)."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"expected one or more comma-separated names, got {text!r}")
    return items


def floats(text: str) -> list[float]:
    """argparse type for comma-separated numbers: '0.1,0.5,0.9' -> [0.1, 0.5, 0.9]."""
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers like 0.1,0.5,0.9, got {text!r}") from None


def _whole_number(text: str, low: int, wanted: str) -> int:
    """`text` as an integer >= `low`, or an argparse error saying what was `wanted`."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type for an integer >= 1."""
    return _whole_number(text, 1, "a number >= 1")


def non_negative_int(text: str) -> int:
    """argparse type for an integer >= 0."""
    return _whole_number(text, 0, "a number >= 0")


def positive_float(text: str) -> float:
    """argparse type for a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


DEFAULT_THREADS = 1
"""torch CPU threads of every command that trains or predicts, unless --threads says otherwise. One thread:
a short LSTM fit on 2 idle cores took 1.79 s with 1 thread and 1.74 s with torch's own 2; with the cores
busy it took 18 s with 1 and 89 s with 2, spinning 8x the CPU time (experiments/benchmarks/threads.py,
results/threads_{quiet,busy}.json)."""


def threads(text: str) -> int:
    """argparse type for --threads: a number >= 1, or 0 for torch's own choice (one per core)."""
    return _whole_number(text, 0, "a number >= 1 (or 0 for one per core)")


def add_threads(parser: argparse.ArgumentParser, per_process: str = "") -> None:
    """--threads, the same on every command that trains or predicts; `apply_threads` puts it into effect.
    per_process: a sentence the help adds (e.g. how worker processes share it)."""
    parser.add_argument("--threads", type=threads, default=DEFAULT_THREADS, metavar="N",
                        help=f"CPU threads for torch (default {DEFAULT_THREADS}: fastest for small recurrent "
                             f"models, and safe on a busy machine; 0: one per core).{per_process}")


def apply_threads(args: argparse.Namespace) -> None:
    """Set torch's intra-op thread count from --threads (0 leaves torch's own choice)."""
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars only on a terminal and without --no-progress: a redirected stream gets no bar spam.
    Both streams count: our bars go to stderr, Lightning's training bar to stdout."""
    return not getattr(args, "no_progress", False) and sys.stderr.isatty() and sys.stdout.isatty()


def add_common(parser: argparse.ArgumentParser) -> None:
    """Options every data command takes (also accepted after the subcommand name)."""
    from forecast.data.reading import DEFAULT_MISSING
    from forecast.data.sources.files import MISSING_POLICIES

    parser.add_argument("--time-col", metavar="COL",
                        help="name of the time column (default: date, timestamp, time, datetime, ds, or the "
                             "first column of ISO dates)")
    parser.add_argument("--missing", choices=MISSING_POLICIES, default=DEFAULT_MISSING,
                        help=f"empty cells of DATA: keep them (default {DEFAULT_MISSING}; windows that touch one "
                             "are skipped, as for skipped timestamps), error, drop their rows, or ffill / "
                             "interpolate them and skipped timestamps within each series")
    parser.add_argument("--sort", action="store_true",
                        help="sort DATA's rows by time (default: refuse a file whose timestamps go backwards)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback on errors")


DEFAULT_LOOKBACK = 30
"""Input window length of `fit` and `backtest` unless --lookback says otherwise (a month of daily data)."""


def add_window_options(parser: argparse.ArgumentParser, *, id_help: str = "") -> None:
    """What a window reads, the same on every command that builds windows from DATA (`window_spec` reads
    them back). id_help: a sentence added to --id-col's help (e.g. a command's default)."""
    parser.add_argument("--target", type=names, action="extend", required=True, metavar="COL[,COL]",
                        help="column(s) to forecast")
    parser.add_argument("--features", type=names, action="extend", default=[], metavar="COL[,COL]",
                        help="covariates observed up to the forecast origin")
    parser.add_argument("--known-future", type=names, action="extend", default=[], metavar="COL[,COL]",
                        help="covariates known in advance over the horizon (e.g. planned values)")
    parser.add_argument("--calendar", type=names, action="extend", default=[], metavar="NAME[,NAME]",
                        help="calendar features from the time index: dayofweek, dayofyear, hour, month")
    parser.add_argument("--categorical", type=names, action="extend", default=[], metavar="COL[,COL]",
                        help="text columns fed through embeddings (e.g. a weather label)")
    parser.add_argument("--id-col", metavar="COL", help=f"series column of a long file (one series per value){id_help}")
    parser.add_argument("--lookback", type=positive_int, default=DEFAULT_LOOKBACK,
                        help=f"input window length (default {DEFAULT_LOOKBACK})")
    parser.add_argument("--horizon", type=positive_int, default=1, help="steps to forecast (default 1)")


def window_spec(args: argparse.Namespace, id_col: str | None = None):
    """The WindowSpec the window options describe; `id_col` replaces --id-col (e.g. a bundled default)."""
    from forecast.config import WindowSpec

    return WindowSpec(
        target=tuple(args.target), lookback=args.lookback, horizon=args.horizon,
        features=tuple(f for f in args.features if f not in args.target),
        known_future=tuple(args.known_future), calendar=tuple(args.calendar),
        categorical=tuple(args.categorical), id_col=id_col if id_col is not None else args.id_col,
    )


def add_interval_options(parser: argparse.ArgumentParser) -> None:
    """--distribution, --intervals, --interval-method, --calibration-window: a distributional head and
    conformal prediction intervals (`interval_settings` reads them)."""
    _add_distribution_option(parser)
    parser.add_argument("--intervals", type=floats, metavar="LEVEL[,LEVEL]",
                        help="conformal prediction intervals at these nominal levels, e.g. 0.8,0.95: writes "
                             "lower_80, upper_80, ... columns, calibrated on each model's own out-of-sample errors")
    parser.add_argument("--interval-method", choices=("split", "aci"),
                        help="split: the conformal quantile of all errors known at each origin (default); "
                             "aci: adaptive, the level follows recent misses (for drifting error scales)")
    parser.add_argument("--calibration-window", type=positive_int, metavar="N",
                        help="calibrate on the latest N errors of each series and step only (default: all "
                             "errors known at the origin)")


def _add_distribution_option(parser: argparse.ArgumentParser) -> None:
    """--distribution: RNNs train a Gaussian or Student-t head by negative log-likelihood."""
    from forecast.models.distributions import DISTRIBUTIONS

    parser.add_argument("--distribution", choices=DISTRIBUTIONS,
                        help="RNNs forecast a distribution (negative log-likelihood): its median, with lower_/"
                             "upper_ bounds at 0.8 and 0.95 (predict --intervals picks others); with "
                             "--intervals the bounds are conformal instead")


def _distribution_settings(args: argparse.Namespace) -> dict:
    """The registry.build settings --distribution asks for ({} without it)."""
    if not getattr(args, "distribution", None):
        return {}
    if getattr(args, "task", None) not in (None, "distribution"):
        raise InputError(f"--distribution trains a distribution, --task {args.task} something else; keep one")
    return {"task": "distribution", "distribution": args.distribution}


def interval_settings(args: argparse.Namespace) -> dict:
    """The registry.build settings the interval options ask for: the distribution's, then the conformal
    wrapper's ({} without --distribution and --intervals)."""
    distribution = _distribution_settings(args)
    chosen = {"interval_method": args.interval_method, "calibration_window": args.calibration_window}
    chosen = {k: v for k, v in chosen.items() if v is not None}
    if not args.intervals:
        if chosen:
            raise InputError(f"--{'/--'.join(k.replace('_', '-') for k in chosen)} tune conformal intervals; "
                             "add --intervals 0.8,0.95 to ask for them")
        return distribution
    return {**distribution, "intervals": tuple(args.intervals), **chosen}


def note(message: str) -> None:
    """A one-line remark on stderr that is not an error."""
    print(f"forecast: note: {message}", file=sys.stderr)


def note_extra_columns(frame: pd.DataFrame, used: Iterable[str], source: str) -> None:
    """Extra columns are ignored, not an error: say which, so a typo in a column name is noticed."""
    used = set(used)
    extra = [str(c) for c in frame.columns if c not in used]
    if extra:
        shown = ", ".join(extra[:8]) + (", ..." if len(extra) > 8 else "")
        note(f"{source}: ignoring {len(extra)} column(s) the model does not read: {shown}")


def check_output_path(path: str, suffixes: tuple[str, ...] = (".csv", ".parquet", ".pq")) -> None:
    """Fail before any work when the output file cannot be written (extension, kind, parent folder)."""
    from forecast.io import check_output_file

    check_output_file(path, suffixes)


def load_model_dir(path: str):
    """Load a saved model; a damaged or foreign folder is an InputError naming it (never a KeyError)."""
    from forecast.models.loading import load_model

    try:
        return load_model(path)
    except InputError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        what = f"missing entry {exc.args[0]!r}" if isinstance(exc, KeyError) and exc.args else str(exc)
        raise InputError(f"{path}: model.json does not describe a model this forecast can load ({what}); "
                         "it is damaged or from another version: retrain it") from None
    except Exception as exc:  # safetensors raises its own error types for truncated files
        raise InputError(f"{path}: cannot read the model weights ({type(exc).__name__}: {exc}); "
                         "the folder is damaged: save or retrain the model") from None


def check_columns(frame: pd.DataFrame, spec, source: str) -> None:
    """Fail with one line naming the file and the columns a WindowSpec reads that it lacks."""
    missing = [c for c in spec.columns if c not in frame.columns]
    if missing:
        raise InputError(f"{source}: missing column(s) {', '.join(map(repr, missing))}; columns are "
                         f"{', '.join(map(str, frame.columns))}; check --target/--features/--categorical")


def read(data: str, time_col: str | None, id_col: str | None, numeric: tuple[str, ...], *,
         missing: str | None = None, sort: bool = False) -> pd.DataFrame:
    """`read_data` under the --missing/--sort policies (None: the default), with the loader's DataWarnings
    (gaps, sorting, separators) printed as one-line notes."""
    from forecast.data.reading import read_data

    policy = {"missing": missing} if missing is not None else {}
    with data_notes():
        return read_data(data, time_col, id_col, numeric=numeric, sort=sort, **policy)


@contextmanager
def data_notes() -> Iterator[None]:
    """Print the DataWarnings (gaps, sorting, filled or dropped values) raised inside as one-line notes, once
    the block succeeds: an error stays the only line."""
    import warnings

    from forecast.errors import DataWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        yield
    for warning in caught:
        if issubclass(warning.category, DataWarning):
            note(str(warning.message).splitlines()[0])
        else:
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)


def add_training_options(parser: argparse.ArgumentParser, *, who: str = "") -> None:
    """--max-epochs (alias --epochs), --patience and --ema-half-life, the same on every command that trains RNNs
    (`training_settings` reads them). who: how the help names the models (e.g. "of RNNs")."""
    from forecast.models.training import DEFAULT_TRAIN

    parser.add_argument("--max-epochs", "--epochs", dest="max_epochs", type=positive_int, metavar="N",
                        help=f"most training epochs{who} (default {DEFAULT_TRAIN.max_epochs}; training stops "
                             "earlier once validation stops improving, see --patience)")
    parser.add_argument("--patience", type=non_negative_int, metavar="N",
                        help=f"stop after N epochs without a lower validation loss and keep the best epoch's "
                             f"weights (default {DEFAULT_TRAIN.patience}; 0: train all --max-epochs)")
    parser.add_argument("--ema-half-life", type=positive_float, metavar="EPOCHS",
                        help="validate, keep and save an exponential moving average of the weights with this "
                             "half-life in epochs instead of the raw weights (default: off)")


def training_settings(args: argparse.Namespace) -> dict:
    """The registry.build settings --max-epochs/--patience/--ema-half-life ask for (only those given)."""
    chosen: dict = {} if args.max_epochs is None else {"max_epochs": args.max_epochs}
    if args.patience is not None:
        chosen["patience"] = args.patience or None  # 0: never stop early
    if args.ema_half_life is not None:
        chosen["ema_half_life"] = args.ema_half_life
    return chosen


def add_network_options(parser: argparse.ArgumentParser) -> None:
    """The recurrent network's shape options (head, segments, channels, normalization) on fit and backtest;
    `network_settings` reads them. Defaults are RNNForecaster's own, declared there once."""
    parser.add_argument("--head", choices=("direct", "segments", "transducer"),
                        help="how RNNs forecast the horizon: direct (default; from the final state), segments "
                             "(SegRNN's parallel decoding in segments of --segment steps) or transducer (from "
                             "every input step)")
    parser.add_argument("--segment", type=positive_int, metavar="W",
                        help="RNNs read the lookback in segments of W steps, one recurrent step each (default 1: "
                             "step by step); W at most --lookback, ideally dividing it")
    parser.add_argument("--channel-independent", action="store_const", const=True,
                        help="RNNs forecast each --target column as its own series through shared weights")
    parser.add_argument("--channel-embedding-dim", type=non_negative_int, metavar="N",
                        help="with --channel-independent: a learned vector of N values per target column "
                             "(default 0: none)")
    parser.add_argument("--normalize", choices=("auto", "none", "last", "revin"),
                        help="RNN inputs relative to each window: last (minus the origin's value), revin (the "
                             "window's mean/std), none; auto (default): last for --head direct/segments")
    parser.add_argument("--skip", choices=("none", "linear", "ridge"),
                        help="add a linear map of the lookback to the RNN's forecast, with --head direct/segments: "
                             "linear (learned with the network) or ridge (fitted by ridge regression before "
                             "training and frozen; the RNN learns the rest); default none")


def network_settings(args: argparse.Namespace) -> dict:
    """The registry.build settings the network options ask for (only those given)."""
    names_ = ("head", "segment", "channel_independent", "channel_embedding_dim", "normalize", "skip")
    return {k: getattr(args, k) for k in names_ if getattr(args, k) is not None}


def add_rnn_options(parser: argparse.ArgumentParser, *, who: str = "") -> None:
    """The training (`add_training_options`) and network (`add_network_options`) options of RNNs, for
    commands that build them (fit, backtest); `rnn_settings` reads them back."""
    add_training_options(parser, who=who)
    add_network_options(parser)


def rnn_settings(args: argparse.Namespace) -> dict:
    """The registry.build settings `add_rnn_options` asked for (only those given)."""
    return training_settings(args) | network_settings(args)
