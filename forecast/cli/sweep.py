"""`forecast sweep CONFIG.yaml`: search every family on the same splits with Optuna, then rank on test."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="hyperparameter sweep over model families (Optuna), resumable, many workers",
        description="Search RNN, GRU, LSTM and scikit-learn families on the same time-ordered splits with "
        "Optuna (pruning on validation loss), then refit each family's best on train+validation and rank "
        "them on the untouched test part beside persistence, with Diebold-Mariano p-values.\n"
        "Rerunning the same command resumes the study. Workers on many machines share one study by "
        "running the same command with the same --storage (e.g. PostgreSQL).\n\n"
        "examples:\n"
        "  forecast sweep experiments/weather.yaml --n-trials 30 --workers 2\n"
        "  forecast sweep experiments/stocks.yaml --storage postgresql://user@db-host/optuna",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config", help="sweep config (YAML): data, spec, families, n_trials, ...")
    p.add_argument("--storage", help="Optuna storage URL (default: SQLite file <out>/study.db)")
    p.add_argument("--n-trials", type=int, help="finished trials the study should hold (overrides the config)")
    p.add_argument("--workers", type=int, default=1, help="local worker processes on one study (default: 1)")
    p.add_argument("--study", dest="study_name", help="study name (overrides the config)")
    p.add_argument("--timeout", type=float, help="stop starting trials after this many seconds")
    p.add_argument("--max-epochs", type=int, help="epoch budget of recurrent models (overrides the config)")
    p.add_argument("--out", dest="out_dir", help="output folder (overrides the config)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # run trials only (no report)
    p.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    p.set_defaults(handler=handle)


def _drop_interrupt_tracebacks() -> None:
    """Optuna logs an interrupted trial as failed, with the KeyboardInterrupt's traceback; the CLI says
    `forecast: interrupted` instead."""
    import logging

    def keep(record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, KeyboardInterrupt) and "KeyboardInterrupt" not in record.getMessage()

    logging.getLogger("optuna.study._optimize").addFilter(keep)


def handle(args: argparse.Namespace) -> int:
    from forecast.sweeps.config import SweepConfig
    from forecast.sweeps.runner import evaluate_best, open_study, optimize, run_workers

    _drop_interrupt_tracebacks()

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    config = SweepConfig.from_yaml(args.config).with_overrides(
        storage=args.storage, n_trials=args.n_trials, study_name=args.study_name, timeout=args.timeout,
        max_epochs=args.max_epochs, out_dir=args.out_dir,
    )
    from forecast.cli.common import show_progress

    progress = show_progress(args)  # no bar when stderr is not a terminal
    if args.worker or args.workers <= 1:
        study = optimize(config, progress_bar=progress)
        if args.worker:
            return 0
    else:
        run_workers(config, args.workers, args.config, progress_bar=progress)
        study = open_study(config)
    result = evaluate_best(config, study)
    print(f"study {config.study_name!r}: {result.n_complete} complete, {result.n_pruned} pruned trials")
    columns = [c for c in ("rank", "model", "mae", "rmse", "mase", "dm_p_value", "beats_benchmark")
               if c in result.leaderboard]
    print(result.leaderboard[columns].to_string(index=False))
    print(result.summary)
    for name, path in result.files.items():
        print(f"  {name}: {path}")
    return 0
