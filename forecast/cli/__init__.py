"""The `forecast` command: parses arguments, calls the library, prints, and maps errors to exit codes.

Each subcommand lives in its own module with `register(subparsers)`; the module's handler returns an
exit code. Only this package exits the process.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import pkgutil
import sys
import traceback
import warnings
from collections.abc import Iterator

from forecast.errors import ForecastError, InputError

# Subcommands are the modules of this package that define `register`; `forecast --help` lists them in
# this order, then any others alphabetically.
ORDER = ("datasets", "fetch", "fit", "predict", "export", "backtest", "sweep", "demo", "experiment", "benchmark")

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="forecast",
        description="Forecast stock prices and weather with RNNs, and check them against simple baselines.",
    )
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in command_names():
        importlib.import_module(f"forecast.cli.{name}").register(sub)
    return parser


def command_names() -> list[str]:
    """Names of the subcommand modules in this package, in help order."""
    found = [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_") and m.name != "common"]
    rank = {name: k for k, name in enumerate(ORDER)}
    return sorted(found, key=lambda name: (rank.get(name, len(ORDER)), name))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns (and exits with) the exit code."""
    from forecast.interrupts import keep_interrupts

    keep_interrupts()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        with _warnings_as_notes(enabled=not args.debug):
            code = args.handler(args)
    except KeyboardInterrupt:
        print("forecast: interrupted", file=sys.stderr)
        code = 130
    except (InputError, FileNotFoundError, KeyError, ValueError) as exc:
        _report(exc, args.debug)
        code = EXIT_BAD_INPUT
    except ForecastError as exc:
        _report(exc, args.debug)
        code = EXIT_FAILURE
    except Exception as exc:  # the one place that turns any failure into an exit code
        _report(exc, args.debug)
        code = EXIT_FAILURE
    return code


@contextlib.contextmanager
def _warnings_as_notes(enabled: bool) -> Iterator[None]:
    """Show each distinct warning (ours or a library's) once, as one `forecast: note:` line instead of
    Python's two-line `file:line: Category: message` form; --debug keeps the raw form."""
    if not enabled:
        yield
        return
    from forecast.cli.common import note

    seen: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        text = (str(message).strip().splitlines() or [category.__name__])[0]
        if text not in seen:
            seen.add(text)
            note(text)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def _report(exc: BaseException, debug: bool) -> None:
    if debug:
        traceback.print_exception(exc)
    message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    first_line = str(message).strip().splitlines()[0] if str(message).strip() else type(exc).__name__
    print(f"forecast: error: {first_line}", file=sys.stderr)


def run() -> None:
    sys.exit(main())
