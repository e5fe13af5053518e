"""`forecast sweep CONFIG.yaml`: search every family on the same splits with Optuna, choose by validation,
report on test."""

from __future__ import annotations

import argparse

from forecast.cli.common import add_command, add_threads, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    from forecast.data.sources.files import MISSING_POLICIES

    p = add_command(
        sub, "sweep",
        help="hyperparameter sweep over model families (Optuna), resumable, many workers",
        description="Search RNN, GRU, LSTM and scikit-learn families on the same time-ordered splits with "
        "Optuna (pruning on validation loss), choose the family with the best validation MAE, then refit "
        "each family's best on train+validation and report them on the untouched test part beside "
        "persistence, with Diebold-Mariano p-values.\n"
        "Rerunning the same command resumes the study. Workers on many machines share one study by "
        "running the same command with the same --storage (e.g. PostgreSQL), also from a cold start.\n\n"
        "examples:\n"
        "  forecast sweep experiments/weather.yaml --n-trials 30 --workers 2\n"
        "  forecast sweep experiments/stocks.yaml --storage postgresql://user@db-host/optuna",
    )
    p.add_argument("config", help="sweep config (YAML): data, spec, families, n_trials, ...")
    p.add_argument("--storage", help="Optuna storage URL (default: SQLite file <out>/study.db)")
    p.add_argument("--n-trials", type=positive_int,
                   help="finished trials the study should hold (overrides the config)")
    p.add_argument("--workers", type=positive_int, default=1,
                   help="local worker processes on one study (default: 1)")
    add_threads(p, per_process=" With --workers each worker gets N, so workers x N cores are busy.")
    p.add_argument("--study", dest="study_name", help="study name (overrides the config)")
    p.add_argument("--timeout", type=float, help="stop starting trials after this many seconds")
    p.add_argument("--max-epochs", type=positive_int,
                   help="epoch budget of recurrent models (overrides the config)")
    p.add_argument("--out", dest="out_dir", help="output folder (overrides the config)")
    p.add_argument("--time-col", metavar="COL", help="time column of DATA (overrides the config's time_col)")
    p.add_argument("--sort", action="store_true", default=None,
                   help="sort out-of-order rows of DATA instead of refusing them (overrides the config's sort)")
    p.add_argument("--missing", choices=MISSING_POLICIES,
                   help="missing values in the columns the spec reads: error (default), drop, ffill, "
                        "interpolate or keep (overrides the config's missing)")
    p.add_argument("--mlflow", metavar="URI",
                   help="record every trial as an MLflow run at this tracking URI, e.g. sqlite:///runs/mlflow.db "
                        "(overrides the config's mlflow; needs pip install 'forecast[mlflow]')")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--no-plots", action="store_true", help="write no PNG figures (leaderboard, Optuna plots)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from forecast.cli.common import apply_threads, data_notes, read, show_progress
    from forecast.io import check_output_dir
    from forecast.sweeps.config import SweepConfig
    from forecast.sweeps.data import prepare
    from forecast.sweeps.runner import run_sweep
    from forecast.sweeps.worker import drop_interrupt_tracebacks

    drop_interrupt_tracebacks()
    # Config, then data (run_sweep checks the splits): every check runs before a study, folder or file exists.
    config = SweepConfig.from_yaml(args.config).with_overrides(
        storage=args.storage, n_trials=args.n_trials, study_name=args.study_name, timeout=args.timeout,
        max_epochs=args.max_epochs, out_dir=args.out_dir, time_col=args.time_col, sort=args.sort,
        missing=args.missing, mlflow=args.mlflow,
    )
    check_output_dir(config.out_dir)
    with data_notes():
        frame = prepare(read(config.data, config.time_col, config.spec.id_col, config.spec.numeric_inputs,
                             sort=config.sort), config)
    apply_threads(args)
    result = run_sweep(config, frame, workers=args.workers, threads=args.threads,
                       progress_bar=show_progress(args), plots=not args.no_plots)
    print(f"study {config.study_name!r}: {result.n_complete} complete, {result.n_pruned} pruned trials")
    from forecast.leaderboard import dm_legend, format_leaderboard

    print(format_leaderboard(result.leaderboard, ["mae", "rmse", "mase"]))
    print(dm_legend(result.leaderboard))
    print(result.summary)
    for name, path in result.files.items():
        print(f"  {name}: {path}")
    return 0
