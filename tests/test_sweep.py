"""Sweeps end to end: tiny study, resume, two workers on one study, kill -9 of a worker, PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from forecast.config import WindowSpec
from forecast.data.splits import FrameSplit
from forecast.errors import InputError
from forecast.sweeps.config import SweepConfig
from forecast.sweeps.objective import PrefixedTrial, params_of
from forecast.sweeps.runner import best_per_family, open_study, optimize, sweep
from forecast.sweeps.storage import with_driver

ROOT = Path(__file__).resolve().parent.parent
WORKER = "forecast.sweeps.worker"
SPEC = {"target": "temp_max", "lookback": 7, "horizon": 1, "features": ["wind"]}


def write_config(path: Path, **overrides) -> Path:
    config = {"data": "seattle-weather", "spec": SPEC, "families": ["lstm"], "n_trials": 2, "max_epochs": 1,
              "val_size": 0.15, "test_size": 0.15, "benchmarks": [], "study_name": "test",
              "out_dir": str(path.parent / "out"), "heartbeat_interval": 1, "grace_period": 3, **overrides}
    path.write_text(yaml.safe_dump(config))
    return path


def run_cli(*args: str, timeout: float = 300, module: str = "forecast") -> subprocess.CompletedProcess:
    """`forecast sweep ARGS`, or with module="forecast.sweeps.worker" one worker process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = ["-m", "forecast", "sweep"] if module == "forecast" else ["-m", module]
    return subprocess.run([sys.executable, *command, *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


def run_worker(config: Path, **overrides) -> subprocess.CompletedProcess:
    """One worker on the study of `config` (a YAML file), with config keys overridden (as JSON)."""
    changed = SweepConfig.from_yaml(config).with_overrides(**overrides)
    return run_cli(json.dumps(changed.to_dict()), "--no-progress", module=WORKER)


def test_frame_split_is_time_ordered_and_per_series(seattle):
    split = FrameSplit.by_fraction(seattle, WindowSpec(**SPEC), 0.15, 0.15)
    n = len(seattle)
    assert (split.part[: int(0.7 * n)] == 0).all() and (split.part[int(0.85 * n):] == 2).all()
    assert (split.part[:-1] <= split.part[1:]).all()  # never goes back in time
    assert split.train.index.max() < split.train_val.index.max()


def test_prefixed_trial_keeps_families_apart():
    study = optuna.create_study()
    trial = study.ask()
    value = PrefixedTrial(trial, "gru").suggest_int("hidden", 1, 3)
    assert trial.params == {"gru.hidden": value}


def test_config_errors_name_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"data": "seattle-weather", "spec": SPEC, "n_trails": 3}))
    with pytest.raises(InputError, match="n_trails"):
        SweepConfig.from_yaml(bad)
    with pytest.raises(InputError, match="not found"):
        SweepConfig.from_yaml(tmp_path / "missing.yaml")


@pytest.mark.slow
def test_tiny_sweep_end_to_end_and_resume(tmp_path, seattle):
    frame = seattle.iloc[:400]
    spec = WindowSpec(**SPEC)
    result = sweep(frame, spec, families=["lstm", "ridge"], n_trials=3, out_dir=str(tmp_path), max_epochs=1,
                   progress_bar=False, val_size=0.15, test_size=0.15, benchmarks=("naive",))
    assert len(result.study.trials) == 3
    first_values = [t.value for t in result.study.trials]
    assert set(result.best_trials) <= {"lstm", "ridge"}
    board = result.leaderboard
    assert "naive" in set(board["model"]) and "dm_p_better" in board and "dm_p_value" not in board
    assert len(board) == len(result.best_trials) + 1
    for name in ("csv", "png", "summary", "plot_history", "best_trials"):
        assert Path(result.files[name]).stat().st_size > 0
    # the test part is never touched during the search: every trial's forecasts were scored on validation
    test_start = frame.index[int(0.85 * len(frame))]
    assert all(t.value is not None for t in result.study.trials)
    # rerunning resumes the study instead of starting again
    again = sweep(frame, spec, families=["lstm", "ridge"], n_trials=4, out_dir=str(tmp_path), max_epochs=1,
                  progress_bar=False, val_size=0.15, test_size=0.15, benchmarks=("naive",))
    assert len(again.study.trials) == 4
    assert [t.value for t in again.study.trials[:3]] == first_values
    assert test_start > frame.index[int(0.7 * len(frame))]


@pytest.mark.slow
def test_two_workers_share_one_study(tmp_path):
    config = write_config(tmp_path / "sweep.yaml", n_trials=6, max_epochs=2)  # trials long enough that both workers get some
    done = run_cli(str(config), "--workers", "2", "--no-progress")
    assert done.returncode == 0, done.stderr[-2000:]
    study = optuna.load_study(study_name="test", storage=f"sqlite:///{tmp_path / 'out' / 'study.db'}")
    finished = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) >= 6
    assert len({t.user_attrs.get("worker") for t in finished}) == 2  # both processes ran trials
    drawn = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(drawn)) == len(drawn)  # never the same parameters twice (they came in lockstep pairs)
    assert "leaderboard.csv" in done.stdout or (tmp_path / "out" / "leaderboard.csv").exists()


@pytest.mark.slow
def test_killed_worker_loses_only_its_running_trial(tmp_path):
    config = write_config(tmp_path / "sweep.yaml", n_trials=3)
    storage = f"sqlite:///{tmp_path / 'out' / 'study.db'}"
    first = run_worker(config, n_trials=1)
    assert first.returncode == 0, first.stderr[-2000:]
    before = optuna.load_study(study_name="test", storage=storage).trials[0]
    assert before.state == TrialState.COMPLETE

    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    slow = SweepConfig.from_yaml(config).with_overrides(max_epochs=2000)
    worker = subprocess.Popen([sys.executable, "-m", WORKER, json.dumps(slow.to_dict()), "--no-progress"],
                              env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            trials = optuna.load_study(study_name="test", storage=storage).trials
            running = [t for t in trials if t.state == TrialState.RUNNING and t.intermediate_values]
            if running:
                break
            time.sleep(0.5)
        else:
            pytest.fail("the worker never got a trial running")
        os.kill(worker.pid, signal.SIGKILL)  # no clean-up, no chance to mark the trial
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    interrupted = running[0].number
    time.sleep(4)  # longer than the grace period: the interrupted trial's heartbeat is now stale

    resumed = run_cli(str(config), "--no-progress", module=WORKER)  # a YAML file works too
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    trials = optuna.load_study(study_name="test", storage=storage).trials
    assert trials[0].state == TrialState.COMPLETE and trials[0].value == before.value  # intact
    assert trials[0].params == before.params
    assert trials[interrupted].state == TrialState.FAIL
    retried = [t for t in trials if RetryHeartbeatStaleTrialCallback.retried_trial_number(t) == interrupted]
    assert retried and retried[0].state == TrialState.COMPLETE
    assert retried[0].params == trials[interrupted].params
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 3


def _postgres_url() -> str:
    url = os.environ.get("FORECAST_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("FORECAST_REQUIRE_POSTGRES"):
            pytest.fail("FORECAST_REQUIRE_POSTGRES is set but FORECAST_TEST_POSTGRES_URL is not")
        pytest.skip("no PostgreSQL server (set FORECAST_TEST_POSTGRES_URL; .ci/run starts one)")
    return url


@pytest.mark.slow
@pytest.mark.postgres
def test_two_workers_on_postgresql(tmp_path):
    url = _postgres_url()
    name = f"pg-{os.getpid()}-{int(time.time())}"
    config = write_config(tmp_path / "sweep.yaml", n_trials=6, max_epochs=2, study_name=name)
    done = run_cli(str(config), "--workers", "2", "--storage", url, "--no-progress")
    assert done.returncode == 0, done.stderr[-2000:]
    study = optuna.load_study(study_name=name, storage=with_driver(url))  # postgresql:// names psycopg2
    finished = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) >= 6
    assert len({t.user_attrs.get("worker") for t in finished}) == 2
    assert best_per_family(study)
    family, _, params = params_of(best_per_family(study)["lstm"])
    assert family == "lstm" and "hidden_size" in params


def test_optimize_counts_finished_trials_so_reruns_do_nothing_more(tmp_path, seattle):
    config = SweepConfig(data="x", spec=WindowSpec(**SPEC), families=("lstm",), n_trials=1, max_epochs=1,
                         out_dir=str(tmp_path), study_name="resume")
    study = optimize(config, seattle.iloc[:200], progress_bar=False)
    assert len(study.trials) == 1
    study = optimize(config, seattle.iloc[:200], progress_bar=False)
    assert len(study.trials) == 1
    assert open_study(config).trials[0].state == TrialState.COMPLETE


def test_optuna_dashboard_reads_the_study_storage(tmp_path, seattle):
    """`optuna-dashboard sqlite:///.../study.db` works on a sweep's storage (checked through its WSGI app)."""
    dashboard = pytest.importorskip("optuna_dashboard")
    import io
    import json

    config = SweepConfig(data="x", spec=WindowSpec(**SPEC), families=("naive", "ridge"), n_trials=2,
                         out_dir=str(tmp_path), study_name="dash")
    optimize(config, seattle.iloc[:200], progress_bar=False)
    app = dashboard.wsgi(f"sqlite:///{tmp_path / 'study.db'}")
    status = {}
    body = app({"REQUEST_METHOD": "GET", "PATH_INFO": "/api/studies", "SERVER_NAME": "localhost",
                "SERVER_PORT": "80", "wsgi.input": io.BytesIO(), "wsgi.errors": io.StringIO(),
                "wsgi.url_scheme": "http", "QUERY_STRING": ""},
               lambda code, headers, exc_info=None: status.setdefault("code", code))
    payload = json.loads(b"".join(body))
    studies = payload["study_summaries"]
    assert status["code"].startswith("200")
    assert [s["study_name"] for s in studies] == ["dash"]


def test_public_sweep_is_the_function_even_after_importing_the_package():
    import forecast
    import forecast.sweeps.runner

    assert callable(forecast.sweep) and forecast.sweep.__name__ == "sweep"


ORPHAN = """
import subprocess, sys, time
worker = subprocess.Popen([sys.executable, "-m", "forecast.sweeps.worker", *sys.argv[1:], "--parent", str(__import__("os").getpid())])
print(worker.pid, flush=True)
time.sleep(600)
"""


@pytest.mark.slow
def test_a_worker_stops_when_its_parent_dies_and_fails_its_trial(tmp_path):
    """Workers start through the library entry point and never outlive the process that started them,
    even one killed with no chance to stop them (kill -9)."""
    config = write_config(tmp_path / "sweep.yaml", n_trials=3, max_epochs=2000)
    storage = f"sqlite:///{tmp_path / 'out' / 'study.db'}"
    open_study(SweepConfig.from_yaml(config))  # as run_workers does: the storage exists before any worker
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    parent = subprocess.Popen([sys.executable, "-c", ORPHAN, str(config), "--no-progress"], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    worker = int(parent.stdout.readline())
    try:
        deadline = time.monotonic() + 240
        while not [t for t in optuna.load_study(study_name="test", storage=storage).trials
                   if t.state == TrialState.RUNNING and t.intermediate_values]:
            assert time.monotonic() < deadline, "the worker never got a trial running"
            time.sleep(0.5)
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 60
        while _alive(worker):
            assert time.monotonic() < deadline, "the worker outlived its parent"
            time.sleep(0.5)
    finally:
        if _alive(worker):
            os.kill(worker, signal.SIGKILL)
    states = [t.state for t in optuna.load_study(study_name="test", storage=storage).trials]
    assert states == [TrialState.FAIL]  # interrupted like Ctrl-C: the study knows the trial is not running


def _alive(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie, dead but not yet reaped by init, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_the_sweep_command_has_no_hidden_worker_flag():
    """Workers start through forecast.sweeps.worker: the library never depends on a hidden CLI flag."""
    import argparse

    from forecast.cli import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    flags = {flag for action in commands["sweep"]._actions for flag in action.option_strings}
    assert "--workers" in flags and "--worker" not in flags


def test_a_ctrl_c_caught_by_a_finalizer_still_stops_a_worker(monkeypatch):
    """Python prints a Ctrl-C raised in a weakref callback as "Exception ignored ... Traceback" and drops it;
    a worker hands it back to its main flow instead (so the parent's Ctrl-C stops it, quietly)."""
    import weakref

    from forecast.sweeps import worker

    monkeypatch.setattr(sys, "unraisablehook", sys.unraisablehook)  # restored after the test
    worker.keep_interrupts()  # what the worker's main installs first

    class Thing:
        pass

    def interrupted(ref):
        raise KeyboardInterrupt

    thing = Thing()
    ref = weakref.ref(thing, interrupted)
    with pytest.raises(KeyboardInterrupt):
        del thing
        time.sleep(2)
    assert ref() is None


def test_a_sweep_with_intervals_scores_them_on_the_test_part(tmp_path, seattle):
    from forecast.sweeps.runner import evaluate_best

    config = SweepConfig(data="x", spec=WindowSpec(**SPEC), families=("ridge",), n_trials=1, out_dir=str(tmp_path),
                         intervals=[0.8, 0.95])
    assert SweepConfig.from_dict(config.to_dict()).intervals == (0.8, 0.95)
    frame = seattle.iloc[:600]
    result = evaluate_best(config, optimize(config, frame, progress_bar=False), frame, plots=False)
    scored = result.leaderboard[result.leaderboard["status"] == "scored"]
    assert len(scored) == 2  # the ridge family's best trial and persistence
    for column in ("coverage_80", "width_80", "winkler_95", "crps"):
        assert scored[column].notna().all(), column
    with pytest.raises(InputError, match="'intervals' must be a list of nominal levels"):
        SweepConfig(data="x", spec=WindowSpec(**SPEC), intervals=[80])
