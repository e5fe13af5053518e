"""Run a sweep: create or resume the study, optimize (in this process or N worker processes), then refit
each family's best trial on train+validation, score it on the untouched test part beside the benchmarks,
and write the leaderboard, Optuna's plots and the best model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from forecast.errors import ForecastError, InputError
from forecast.sweeps.config import SweepConfig
from forecast.sweeps.objective import Objective, build_model, is_recurrent, params_of
from forecast.sweeps.splits import FrameSplit
from forecast.sweeps.storage import make_pruner, open_storage, storage_url

FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


@dataclass
class SweepResult:
    """What a sweep found: the study, each family's best trial and the test leaderboard."""

    study: optuna.Study
    leaderboard: pd.DataFrame | None = None
    summary: str = ""
    best_trials: dict[str, optuna.trial.FrozenTrial] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    @property
    def n_complete(self) -> int:
        return sum(t.state == optuna.trial.TrialState.COMPLETE for t in self.study.trials)

    @property
    def n_pruned(self) -> int:
        return sum(t.state == optuna.trial.TrialState.PRUNED for t in self.study.trials)


def load_data(data: str) -> pd.DataFrame:
    """A bundled dataset by name, or a CSV/Parquet file."""
    from forecast import datasets

    if data in datasets.names():
        return datasets.load(data)
    from forecast.data.sources.files import load_table

    return load_table(data)


def open_study(config: SweepConfig) -> optuna.Study:
    """Create the study or load it if it exists (resume); sampler seeded by the study's seed."""
    storage = open_storage(storage_url(config.storage, config.out_dir),
                           heartbeat_interval=config.heartbeat_interval, grace_period=config.grace_period,
                           max_retry=config.max_retry)
    with warnings.catch_warnings():  # multivariate/group TPE is "experimental"; it suits family branches
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(seed=config.seed, multivariate=True, group=True)
    study = optuna.create_study(
        study_name=config.study_name, storage=storage, direction="minimize", load_if_exists=True,
        sampler=sampler, pruner=make_pruner(config.pruner),
    )
    study.set_user_attr("families", list(config.families))
    return study


def finished_trials(study: optuna.Study) -> int:
    return sum(t.state in FINISHED for t in study.get_trials(deepcopy=False))


def optimize(config: SweepConfig, frame: pd.DataFrame | None = None, *, progress_bar: bool = True) -> optuna.Study:
    """Run trials in this process until the study holds `n_trials` finished (complete or pruned) trials."""
    frame = load_data(config.data) if frame is None else frame
    split = FrameSplit.by_fraction(frame, config.spec, config.val_size, config.test_size)
    study = open_study(config)
    remaining = config.n_trials - finished_trials(study)
    if remaining <= 0:
        return study
    objective = Objective(split, config.families, lookbacks=config.lookbacks, seed=config.seed,
                          max_epochs=config.max_epochs)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(
        objective,
        n_trials=remaining,
        timeout=config.timeout,
        callbacks=[optuna.study.MaxTrialsCallback(config.n_trials, states=FINISHED)],
        catch=(ForecastError,),  # a diverged trial (NaN loss) fails alone; the sweep goes on
        show_progress_bar=progress_bar,
        gc_after_trial=True,
    )
    return study


def run_workers(config: SweepConfig, workers: int, config_path: str | None, *, progress_bar: bool = True) -> None:
    """Start `workers` processes on the same study (`forecast sweep ... --worker`), splitting the CPU threads."""
    if config_path is None:
        raise InputError("--workers needs the sweep config file so each worker can read it")
    url = storage_url(config.storage, config.out_dir)
    open_study(config)  # create it once, before the workers race to
    threads = max(1, (os.cpu_count() or 1) // workers)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    command = [sys.executable, "-m", "forecast", "sweep", config_path, "--worker", "--storage", url,
               "--study", config.study_name, "--n-trials", str(config.n_trials), "--threads", str(threads),
               "--max-epochs", str(config.max_epochs)]
    if config.timeout:
        command += ["--timeout", str(config.timeout)]
    procs = [subprocess.Popen([*command, *([] if k == 0 and progress_bar else ["--no-progress"])], env=env)
             for k in range(workers)]
    try:
        codes = [p.wait() for p in procs]
    except KeyboardInterrupt:  # Ctrl-C reaches the workers too; a SIGINT to this process alone must stop them
        _stop(procs)
        raise
    if any(codes):
        raise InputError(f"sweep: {sum(c != 0 for c in codes)} of {workers} workers failed (exit codes {codes})")


def _stop(procs: list[subprocess.Popen], grace: float = 10.0) -> None:
    """Interrupt worker processes (their running trial is marked failed), then kill any still alive."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    for proc in procs:
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def best_per_family(study: optuna.Study) -> dict[str, optuna.trial.FrozenTrial]:
    """Each family's best complete trial."""
    best: dict[str, optuna.trial.FrozenTrial] = {}
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        family = trial.params["family"]
        if family not in best or trial.value < best[family].value:
            best[family] = trial
    return best


def evaluate_best(config: SweepConfig, study: optuna.Study, frame: pd.DataFrame | None = None,
                  *, write: bool = True) -> SweepResult:
    """Refit each family's best trial on train+validation, forecast the test part, rank against the
    benchmarks with Diebold-Mariano p-values, and write the outputs."""
    from forecast.leaderboard import build_leaderboard, summarize

    frame = load_data(config.data) if frame is None else frame
    split = FrameSplit.by_fraction(frame, config.spec, config.val_size, config.test_size)
    objective = Objective(split, config.families, lookbacks=config.lookbacks, seed=config.seed,
                          max_epochs=config.max_epochs)
    best = best_per_family(study)
    if not best:
        raise InputError("sweep: no trial completed, so there is nothing to evaluate; run more trials")
    forecasts: dict[str, pd.DataFrame] = {}
    timings: dict[str, dict[str, float]] = {}
    fitted: dict[str, Any] = {}
    candidates = [(f"{family} (trial {trial.number})", *params_of(trial)) for family, trial in best.items()]
    candidates += [(name, name, None, {}) for name in config.benchmarks]
    for label, family, lookback, params in candidates:
        model = build_model(family, params, seed=config.seed, max_epochs=config.max_epochs)
        spec = objective.spec_for(lookback)
        started = time.perf_counter()
        if is_recurrent(model):
            model.set_params(val_size=0.1)  # early stopping data come from train+val, never from test
        model.fit(split.train_val, spec)
        fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        predicted = model.predict(frame, origin="all")
        timings[label] = {"fit_seconds": fit_seconds, "predict_seconds": time.perf_counter() - started}
        forecasts[label] = split.targets_in(predicted, part=2)
        fitted[label] = model
    board = build_leaderboard(forecasts, frame, target=config.spec.targets[0] if len(config.spec.targets) == 1
                              else None, id_col=config.spec.id_col, benchmark="naive", timings=timings)
    result = SweepResult(study, board, summarize(board), best)
    if write:
        result.files = write_outputs(config, result, fitted)
    return result


def write_outputs(config: SweepConfig, result: SweepResult, fitted: dict[str, Any]) -> dict[str, str]:
    """Leaderboard CSV/PNG, summary, Optuna plots and the best model (when it can be saved safely)."""
    from forecast.io import atomic_path
    from forecast.leaderboard import write_leaderboard

    out = Path(config.out_dir)
    files = {k: str(v) for k, v in write_leaderboard(result.leaderboard, out).items()}
    with atomic_path(out / "summary.txt") as tmp:
        tmp.write_text(result.summary + "\n")
    files["summary"] = str(out / "summary.txt")
    files.update(write_study_plots(result.study, out))
    searched = [m for m in result.leaderboard["model"] if m not in config.benchmarks]  # best first
    best_label = searched[0] if searched else None
    best_model = fitted.get(best_label)
    if best_model is not None and hasattr(best_model, "save"):
        try:
            best_model.save(out / "best_model")
            files["best_model"] = str(out / "best_model")
        except (InputError, NotImplementedError) as exc:
            files["best_model_skipped"] = str(exc)
    with atomic_path(out / "best_trials.json") as tmp:
        tmp.write_text(json.dumps({f: {"number": t.number, "value": t.value, "params": t.params}
                                   for f, t in result.best_trials.items()}, indent=2))
    files["best_trials"] = str(out / "best_trials.json")
    return files


def write_study_plots(study: optuna.Study, out: Path) -> dict[str, str]:
    """Optuna's optimization history, parameter importances and parallel coordinates as PNG files."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    from optuna.visualization import matplotlib as ovm

    from forecast.io import save_figure

    plots = {"history": ovm.plot_optimization_history, "importances": ovm.plot_param_importances,
             "parallel": ovm.plot_parallel_coordinate}
    files = {}
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    for name, plot in plots.items():
        if name != "history" and len(complete) < 2:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # optuna marks its matplotlib backend experimental
            try:
                axes = plot(study)
            except (ValueError, RuntimeError):  # e.g. importances with a single distinct value
                continue
        figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
        files[f"plot_{name}"] = str(save_figure(figure, out / f"optuna_{name}.png"))
    return files


def sweep(
    frame: pd.DataFrame,
    spec,
    *,
    families: list[str] | tuple[str, ...] = ("rnn", "gru", "lstm", "ridge"),
    n_trials: int = 20,
    storage: str | None = None,
    study_name: str = "forecast-sweep",
    timeout: float | None = None,
    seed: int = 0,
    out_dir: str = "runs/sweep",
    progress_bar: bool = True,
    **options: Any,
) -> SweepResult:
    """Search every family on the same time-ordered splits, then score each family's best on the test part.

    Rerunning with the same storage and study name resumes the study. Extra `options` are SweepConfig
    fields (val_size, test_size, lookbacks, max_epochs, pruner, benchmarks, ...).
    """
    config = SweepConfig(data="<frame>", spec=spec, families=tuple(families), n_trials=n_trials,
                         storage=storage, study_name=study_name, timeout=timeout, seed=seed, out_dir=out_dir,
                         **options)
    study = optimize(config, frame, progress_bar=progress_bar)
    return evaluate_best(config, study, frame)
