"""Run a sweep: create or resume the study, optimize (in this process or N worker processes), then refit
each family's best trial on train+validation, score it on the untouched test part beside the benchmarks,
and write the leaderboard, Optuna's plots and the best model.

Selection uses validation only: the saved best model is the family whose best trial has the lowest
validation MAE (the trial value); the test part only reports. Families without a complete trial are listed
with the reason, never silently dropped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from forecast.data.reuse import reusing_panels
from forecast.data.splits import FrameSplit
from forecast.errors import ForecastError, InputError
from forecast.models import registry
from forecast.sweeps.config import SweepConfig
from forecast.sweeps.data import load, prepare
from forecast.sweeps.objective import Objective, build_model, own_intervals, params_of
from forecast.sweeps.sampling import TrialSeededSampler
from forecast.sweeps.storage import make_pruner, open_storage, storage_url
from forecast.sweeps.tracking import tracker_for

FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
IN_MEMORY = "<frame>"
"""The config's data when `sweep()` is given a frame rather than a file."""
STATE_WORDS = {"PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running", "WAITING": "waiting"}


@dataclass
class SweepResult:
    """What a sweep found: the study, each family's best trial, the family chosen by validation, the test
    leaderboard, and why families without a complete trial have no score."""

    study: optuna.Study
    leaderboard: pd.DataFrame | None = None
    summary: str = ""
    best_trials: dict[str, optuna.trial.FrozenTrial] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    chosen: str | None = None
    unscored: dict[str, str] = field(default_factory=dict)

    @property
    def n_complete(self) -> int:
        return sum(t.state == optuna.trial.TrialState.COMPLETE for t in self.study.trials)

    @property
    def n_pruned(self) -> int:
        return sum(t.state == optuna.trial.TrialState.PRUNED for t in self.study.trials)


def open_study(config: SweepConfig) -> optuna.Study:
    """Create the study or load it if it exists (resume); safe when many workers start at once. Each trial
    samples from its own stream seeded by (study seed, trial number), so workers never propose in lockstep."""
    storage = open_storage(storage_url(config.storage, config.out_dir),
                           heartbeat_interval=config.heartbeat_interval, grace_period=config.grace_period,
                           max_retry=config.max_retry)
    sampler = TrialSeededSampler(config.seed)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "[I ...] A new study created" lines
    study = optuna.create_study(
        study_name=config.study_name, storage=storage, direction="minimize", load_if_exists=True,
        sampler=sampler, pruner=make_pruner(config.pruner),
    )
    study.set_user_attr("families", list(config.families))
    return study


def finished_trials(study: optuna.Study) -> int:
    return sum(t.state in FINISHED for t in study.get_trials(deepcopy=False))


def optimize(config: SweepConfig, frame: pd.DataFrame | None = None, *, progress_bar: bool = True) -> optuna.Study:
    """Run trials in this process until the study holds `n_trials` finished (complete or pruned) trials.

    The data are read and split before the study is opened, so bad data never leave a study behind."""
    frame = load(config) if frame is None else prepare(frame, config)
    split = FrameSplit.by_fraction(frame, config.spec, config.val_size, config.test_size)
    study = open_study(config)
    remaining = config.n_trials - finished_trials(study)
    if remaining <= 0:
        return study
    objective = Objective(split, config.families, lookbacks=config.lookbacks, seed=config.seed,
                          max_epochs=config.max_epochs, metric=config.metric, levels=config.intervals,
                          tracker=tracker_for(config))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with reusing_panels():  # every trial reads the same split frames: build each panel once per process
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


def run_workers(config: SweepConfig, workers: int, *, threads: int, progress_bar: bool = True) -> None:
    """Start `workers` processes on the same study (`python -m forecast.sweeps.worker`, given the config as
    JSON), each with `threads` CPU threads for torch; they stop when this process is interrupted or dies."""
    if config.data == IN_MEMORY:
        raise InputError("sweep: worker processes read the data from a file or bundled name, not an in-memory "
                         "frame; use workers=1 or save the frame and name it as the config's data")
    open_study(config)  # create it once, before the workers start (they would also cope with a race)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    command = [sys.executable, "-m", "forecast.sweeps.worker", json.dumps(config.to_dict()),
               "--threads", str(threads), "--parent", str(os.getpid())]
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
    """Each family's best complete trial (lowest validation MAE)."""
    best: dict[str, optuna.trial.FrozenTrial] = {}
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        family = trial.params["family"]
        if family not in best or trial.value < best[family].value:
            best[family] = trial
    return best


def chosen_family(best: dict[str, optuna.trial.FrozenTrial]) -> str | None:
    """The family whose best trial has the lowest validation MAE: selection never looks at the test part."""
    return min(best, key=lambda family: (best[family].value, family)) if best else None


def why_unscored(study: optuna.Study, families: tuple[str, ...]) -> dict[str, str]:
    """For each searched family without a complete trial, why: "no complete trial (2 pruned, 1 failed)"."""
    states = pd.DataFrame([(t.params.get("family"), t.state.name) for t in study.get_trials(deepcopy=False)],
                          columns=["family", "state"])
    complete = set(states.loc[states["state"] == "COMPLETE", "family"])
    reasons = {}
    for family in families:
        if family in complete:
            continue
        counts = states.loc[states["family"] == family, "state"].value_counts()
        parts = [f"{int(counts[s])} {word}" for s, word in STATE_WORDS.items() if s in counts]
        reasons[family] = f"no complete trial ({', '.join(parts)})" if parts else "no trial ran (raise n_trials)"
    return reasons


def evaluate_best(config: SweepConfig, study: optuna.Study, frame: pd.DataFrame | None = None,
                  *, write: bool = True, plots: bool = True) -> SweepResult:
    """Refit each family's best trial on train+validation, forecast the test part, rank against the
    benchmarks with Diebold-Mariano p-values, and write the outputs (PNG figures only with `plots`)."""
    from forecast.leaderboard import build_leaderboard, summarize

    frame = load(config) if frame is None else prepare(frame, config)
    split = FrameSplit.by_fraction(frame, config.spec, config.val_size, config.test_size)
    objective = Objective(split, config.families, lookbacks=config.lookbacks, seed=config.seed,
                          max_epochs=config.max_epochs)
    best = best_per_family(study)
    unscored = why_unscored(study, config.families)
    if not best:
        reasons = "; ".join(f"{family}: {why}" for family, why in unscored.items())
        raise InputError(f"sweep: no trial completed, so there is nothing to evaluate ({reasons}); run more "
                         "trials (--n-trials) or check the failed trials' messages")
    forecasts: dict[str, pd.DataFrame] = {}
    timings: dict[str, dict[str, float]] = {}
    fitted: dict[str, Any] = {}
    candidates = [(board_label(family, trial), *params_of(trial)) for family, trial in best.items()]
    candidates += [(name, name, None, {}) for name in config.benchmarks]
    for label, family, lookback, params in candidates:
        model = build_model(family, params, seed=config.seed, max_epochs=config.max_epochs)
        spec = objective.spec_for(lookback)
        started = time.perf_counter()
        if registry.get(family).recurrent:
            model.set_params(val_size=0.1)  # early stopping data come from train+val, never from test
        if own_intervals(model) and config.intervals:  # judged on its own bounds, as in validation
            model.set_params(levels=config.intervals)
        else:
            model = registry.get(family).conformal(model, {"intervals": config.intervals or None}, asked=False)
        model.fit(split.train_val, spec)
        fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        predicted = model.predict(frame, origin="all")
        timings[label] = {"fit_seconds": fit_seconds, "predict_seconds": time.perf_counter() - started}
        forecasts[label] = split.targets_in(predicted, part=2)
        fitted[label] = model
    if config.ensemble_top_k:
        from forecast.sweeps.ensemble import sweep_ensemble

        labels = {family: board_label(family, trial) for family, trial in best.items()}
        emitted = sweep_ensemble(split, objective, best, forecasts, labels, k=config.ensemble_top_k,
                                 combine=config.ensemble, seed=config.seed, max_epochs=config.max_epochs)
        if emitted is not None:
            label, forecasts[label], timings[label] = emitted
    board = build_leaderboard(forecasts, frame, target=config.spec.targets[0] if len(config.spec.targets) == 1
                              else None, id_col=config.spec.id_col, benchmark="naive", timings=timings)
    chosen = chosen_family(best)
    board = with_selection(board, best, chosen, unscored, config.metric)
    summary = "\n".join([summarize(board[board["status"] == "scored"]),
                         selection_summary(best, chosen, unscored, config.metric)])
    result = SweepResult(study, board, summary, best, chosen=chosen, unscored=unscored)
    if write:
        result.files = write_outputs(config, result, fitted, plots=plots)
        tracker = tracker_for(config)
        if tracker is not None:
            tracker.record_result(result, result.files)
    return result


def board_label(family: str, trial: optuna.trial.FrozenTrial) -> str:
    """A searched family's name on the leaderboard."""
    return f"{family} (trial {trial.number})"


def with_selection(board: pd.DataFrame, best: dict[str, optuna.trial.FrozenTrial], chosen: str | None,
                   unscored: dict[str, str], metric: str = "mae") -> pd.DataFrame:
    """The leaderboard plus what selection used: val_<metric> (each searched family's best trial: val_mae,
    val_crps or val_interval_score), chosen (the
    family picked by validation), status ("scored", or why a family has no row of scores), one row for
    every searched family without a complete trial."""
    labels = {board_label(f, t): f for f, t in best.items()}
    board = board.assign(
        **{f"val_{metric}": board["model"].map({lab: best[f].value for lab, f in labels.items()})},
        chosen=board["model"].map(lambda m: labels.get(m) == chosen and chosen is not None),
        status="scored",
    )
    targets = board["target"].unique() if "target" in board else [None]
    missing = pd.DataFrame([{"model": family, "target": target, "chosen": False, "status": why}
                            for family, why in unscored.items() for target in targets], columns=board.columns)
    out = pd.concat([board, missing.astype({"chosen": bool})], ignore_index=True) if len(missing) else board
    out = out.astype({c: "Int64" for c in ("rank", "n", "dm_n") if c in out})  # stay whole beside empty rows
    out.attrs = dict(board.attrs)
    return out


def selection_summary(best: dict[str, optuna.trial.FrozenTrial], chosen: str | None, unscored: dict[str, str],
                      metric: str) -> str:
    """Plain sentences: which family was chosen and by what, and which families have no score and why."""
    lines = []
    if chosen is not None:
        trial = best[chosen]
        lines.append(f"Chosen by validation {metric.upper()} (the test part only reports): {chosen} "
                     f"(trial {trial.number}, validation {metric.upper()} {trial.value:.4g}).")
    for family, why in unscored.items():
        lines.append(f"Not scored: {family}, {why}.")
    return "\n".join(lines)


def write_outputs(config: SweepConfig, result: SweepResult, fitted: dict[str, Any], *,
                  plots: bool = True) -> dict[str, str]:
    """Leaderboard CSV (and PNG), summary, Optuna plots (with `plots`) and the best model (when it can be
    saved safely)."""
    from forecast.io import atomic_path
    from forecast.leaderboard import write_leaderboard

    out = Path(config.out_dir)
    files = {k: str(v) for k, v in write_leaderboard(result.leaderboard, out, plot=plots).items()}
    with atomic_path(out / "summary.txt") as tmp:
        tmp.write_text(result.summary + "\n")
    files["summary"] = str(out / "summary.txt")
    if plots:
        files.update(write_study_plots(result.study, out))
    best_model = fitted.get(board_label(result.chosen, result.best_trials[result.chosen])) if result.chosen else None
    if best_model is not None and not registry.get(result.chosen).saveable:
        files["best_model_skipped"] = (f"{result.chosen} cannot be saved without pickle, which forecast never "
                                       "loads; refit it from the data with the parameters in best_trials.json")
    elif best_model is not None:
        try:
            best_model.save(out / "best_model")
            files["best_model"] = str(out / "best_model")
        except (InputError, NotImplementedError) as exc:
            files["best_model_skipped"] = str(exc)
    with atomic_path(out / "best_trials.json") as tmp:
        tmp.write_text(json.dumps({f: {"number": t.number, "value": t.value, "params": t.params,
                                       "chosen": f == result.chosen}
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


def run_sweep(config: SweepConfig, frame: pd.DataFrame | None = None, *, workers: int = 1, threads: int = 0,
              progress_bar: bool = True, plots: bool = True) -> SweepResult:
    """The whole sweep: check data and splits, optimize (here, or in `workers` processes with `threads` torch
    threads each; 0 shares the cores out), then `evaluate_best` and write the outputs.

    frame: the data already read (e.g. with the reader's notes shown); None reads `config.data`."""
    # Data, then splits: every check runs before a study, folder or file exists.
    frame = load(config) if frame is None else prepare(frame, config)
    FrameSplit.by_fraction(frame, config.spec, config.val_size, config.test_size)
    tracker = tracker_for(config)
    if tracker is not None:
        tracker.parent_run_id()  # made once here, before any worker looks for it
    if workers <= 1:
        study = optimize(config, frame=frame, progress_bar=progress_bar)  # by keyword, as tests fake it
    else:
        run_workers(config, workers, threads=threads or max(1, (os.cpu_count() or 1) // workers),
                    progress_bar=progress_bar)
        study = open_study(config)
    return evaluate_best(config, study, frame, plots=plots)


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
    config = SweepConfig(data=IN_MEMORY, spec=spec, families=tuple(families), n_trials=n_trials,
                         storage=storage, study_name=study_name, timeout=timeout, seed=seed, out_dir=out_dir,
                         **options)
    return run_sweep(config, frame, progress_bar=progress_bar)
