"""A sweep worker process: run trials of one study until it holds `n_trials` finished ones, then exit.

`run_workers` starts these; on another machine start one by hand with the same storage:

    python -m forecast.sweeps.worker CONFIG.yaml-or-JSON [--threads N] [--no-progress]

CONFIG is a sweep config file or its JSON (`SweepConfig.to_dict`, what `run_workers` passes, overrides
included). A worker never writes a report: the process that started it evaluates the study afterwards.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import threading
import time
import warnings
from typing import TYPE_CHECKING

from forecast.interrupts import keep_interrupts

if TYPE_CHECKING:
    from forecast.sweeps.config import SweepConfig

EXIT_INTERRUPTED = 130


def read_config(text: str) -> SweepConfig:
    """A SweepConfig from a JSON object (as `run_workers` passes it) or from a YAML file's path."""
    from forecast.sweeps.config import SweepConfig

    if text.lstrip().startswith("{"):
        return SweepConfig.from_dict(json.loads(text), source="worker config")
    return SweepConfig.from_yaml(text)


def drop_interrupt_tracebacks() -> None:
    """Optuna logs an interrupted trial as failed, with the KeyboardInterrupt's traceback; an interrupted
    sweep says so in one line instead (the CLI's `forecast: interrupted`)."""

    def keep(record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, KeyboardInterrupt) and "KeyboardInterrupt" not in record.getMessage()

    logging.getLogger("optuna.study._optimize").addFilter(keep)


def _stop_with(parent: int, every: float = 1.0) -> None:
    """Interrupt this process (as Ctrl-C would: the running trial is marked failed) once `parent` is gone,
    so workers never outlive a parent killed without the chance to stop them."""
    import _thread

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        while True:  # again while this process lives: an interrupt that lands in a teardown can be lost
            _thread.interrupt_main()
            time.sleep(15 * every)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def build_parser() -> argparse.ArgumentParser:
    """The worker's few options (the sweep's settings travel in CONFIG)."""
    parser = argparse.ArgumentParser(prog="python -m forecast.sweeps.worker", description=__doc__.splitlines()[0])
    parser.add_argument("config", help="sweep config file (YAML) or its JSON")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default 0: torch's own choice)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--parent", type=int, help="process id to stop with (set by run_workers)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the trials; exit code 0, or 130 when interrupted."""
    args = build_parser().parse_args(argv)
    keep_interrupts()  # a Ctrl-C that lands in a finalizer still stops the worker, quietly
    if args.parent is not None:
        _stop_with(args.parent)
    try:  # everything, imports too: an interrupt while starting up is still one quiet exit code
        from forecast.errors import DataWarning
        from forecast.sweeps.data import load
        from forecast.sweeps.runner import optimize

        drop_interrupt_tracebacks()
        config = read_config(args.config)
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        with warnings.catch_warnings():  # the starting process has shown the data's notes once already
            warnings.simplefilter("ignore", DataWarning)
            frame = load(config)
        optimize(config, frame=frame, progress_bar=not args.no_progress)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
