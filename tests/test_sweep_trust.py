"""Issue 14, sweeps: every worker draws its own stream, selection by validation only, families without a
complete trial listed with the reason, data read like the other commands, cold starts of many workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState, create_trial

from forecast.config import WindowSpec
from forecast.data.splits import FrameSplit
from forecast.errors import InputError
from forecast.sweeps.config import SweepConfig
from forecast.sweeps.data import load
from forecast.sweeps.objective import family_params
from forecast.sweeps.runner import evaluate_best, open_study, run_workers
from forecast.sweeps.storage import with_driver

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")  # ask/tell without optimize
SPEC = WindowSpec(target="temp_max", lookback=7, horizon=1, features=("wind",))


def _config(tmp_path: Path, **changes) -> SweepConfig:
    options = {"data": "seattle-weather", "spec": SPEC, "families": ("lstm", "ridge"), "n_trials": 6,
               "study_name": "trust", "out_dir": str(tmp_path / "out"), "benchmarks": ()}
    return SweepConfig(**{**options, **changes})


def _ask_and_tell(study: optuna.Study, families: tuple[str, ...]) -> dict:
    """One trial's parameters as the objective draws them, told back with a dummy value."""
    trial = study.ask()
    family_params(trial, trial.suggest_categorical("family", list(families)))
    study.tell(trial, float(trial.number))
    return trial.params


# -- 6. workers draw their own streams ---------------------------------------------------------------------

def test_two_workers_never_share_a_parameter_set_and_a_resumed_one_does_not_replay(tmp_path):
    config = _config(tmp_path)
    first, second = open_study(config), open_study(config)  # two workers on one study, one sampler each
    drawn = [_ask_and_tell(worker, config.families) for _ in range(4) for worker in (first, second)]
    resumed = _ask_and_tell(open_study(config), config.families)  # a worker restarted later
    keys = [tuple(sorted(p.items())) for p in [*drawn, resumed]]
    assert len(set(keys)) == len(keys), "two trials proposed the same parameters"
    assert resumed != drawn[0]


def test_each_trials_stream_is_reproducible(tmp_path):
    runs = []
    for name in ("a", "b"):
        study = open_study(_config(tmp_path / name))
        runs.append([_ask_and_tell(study, ("lstm", "ridge")) for _ in range(3)])
    assert runs[0] == runs[1]


# -- 7 and 8. selection by validation; families without a complete trial --------------------------------

def _fake_study(trials: list[tuple[str, TrialState, float | None]], families: tuple[str, ...]) -> optuna.Study:
    study = optuna.create_study()
    for family, state, value in trials:
        params = {"family": family}
        dists = {"family": CategoricalDistribution(list(families))}
        if family == "ridge":
            params["ridge.alpha"], dists["ridge.alpha"] = 1.0, FloatDistribution(1e-3, 1e3, log=True)
        study.add_trial(create_trial(params=params, distributions=dists, state=state, value=value))
    return study


def test_best_model_is_chosen_by_validation_not_by_test_rank(tmp_path, seattle):
    families = ("mean", "ridge")
    # "mean" gets the better (fake) validation score, though ridge forecasts the test part far better.
    study = _fake_study([("mean", TrialState.COMPLETE, 0.5), ("ridge", TrialState.COMPLETE, 9.0)], families)
    config = _config(tmp_path, families=families, data="<frame>")
    result = evaluate_best(config, study, seattle)
    board = result.leaderboard
    test_first = board.loc[board["rank"] == 1, "model"].item()
    assert test_first != "mean (trial 0)"  # the test part ranks ridge or naive first ...
    assert result.chosen == "mean"  # ... yet selection only looks at validation
    assert board.loc[board["chosen"], "model"].tolist() == ["mean (trial 0)"]
    assert board.loc[board["model"] == "mean (trial 0)", "val_mae"].item() == 0.5
    assert "Chosen by validation MAE (the test part only reports): mean (trial 0" in result.summary
    chosen = json.loads(Path(result.files["best_trials"]).read_text())
    assert chosen["mean"]["chosen"] and not chosen["ridge"]["chosen"]


def test_families_without_a_complete_trial_are_listed_with_the_reason(tmp_path, seattle):
    families = ("ridge", "gru", "rnn")
    study = _fake_study([("ridge", TrialState.COMPLETE, 3.0), ("gru", TrialState.PRUNED, None),
                         ("gru", TrialState.PRUNED, None), ("gru", TrialState.FAIL, None)], families)
    result = evaluate_best(_config(tmp_path, families=families, data="<frame>"), study, seattle)
    board = result.leaderboard.set_index("model")
    assert board.loc["gru", "status"] == "no complete trial (2 pruned, 1 failed)"
    assert board.loc["rnn", "status"] == "no trial ran (raise n_trials)"
    assert np.isnan(board.loc["gru", "mae"]) and board.loc["ridge (trial 0)", "status"] == "scored"
    assert "Not scored: gru, no complete trial (2 pruned, 1 failed)." in result.summary
    assert "Not scored: rnn, no trial ran" in result.summary
    written = pd.read_csv(result.files["csv"])
    assert {"gru", "rnn"} <= set(written["model"]) and Path(result.files["png"]).stat().st_size > 0


def test_no_complete_trial_at_all_names_every_family(tmp_path, seattle):
    study = _fake_study([("gru", TrialState.FAIL, None)], ("gru", "rnn"))
    with pytest.raises(InputError, match=r"gru: no complete trial \(1 failed\); rnn: no trial ran"):
        evaluate_best(_config(tmp_path, families=("gru", "rnn"), data="<frame>"), study, seattle, write=False)


# -- 11. data read like the other commands -----------------------------------------------------------------

def _long_file(path: Path, *, hole_in: str | None = None, shuffle: bool = False) -> Path:
    days = pd.date_range("2021-01-01", periods=60, freq="D")
    rows = [{"date": d.date().isoformat(), "series": s, "y": float(k + 10 * j), "x": float(k % 5),
             "unused": np.nan if k == 3 else 1.0}
            for j, s in enumerate(("a", "b")) for k, d in enumerate(days)]
    frame = pd.DataFrame(rows)
    if hole_in:
        frame.loc[7, hole_in] = np.nan
    if shuffle:
        frame.iloc[[4, 5]] = frame.iloc[[5, 4]].to_numpy()
    frame.to_csv(path, index=False)
    return path


def _long_config(tmp_path: Path, data: Path, **changes) -> SweepConfig:
    spec = WindowSpec(target="y", lookback=3, features=("x",), id_col="series")
    return _config(tmp_path, data=str(data), spec=spec, families=("ridge",), **changes)


def test_a_long_file_is_read_per_series_and_unread_columns_may_hold_holes(tmp_path):
    config = _long_config(tmp_path, _long_file(tmp_path / "long.csv"))
    frame = load(config)  # before: "duplicate timestamp" (no id column), then "missing value" in 'unused'
    assert list(frame.columns) == ["series", "y", "x"] and len(frame) == 120
    split = FrameSplit.by_fraction(frame, config.spec, 0.15, 0.15)
    assert (split.part[frame["series"].to_numpy() == "b"] == 2).sum() == 9  # each series split on its own


def test_missing_values_follow_the_config_policy_on_the_spec_columns(tmp_path):
    data = _long_file(tmp_path / "hole.csv", hole_in="x")
    with pytest.raises(InputError, match=r"hole.csv: column 'x' .*missing value.*--missing"):
        load(_long_config(tmp_path, data))
    with pytest.warns(Warning, match="filled 1 missing values"):
        filled = load(_long_config(tmp_path, data, missing="ffill"))
    assert filled["x"].notna().all() and len(filled) == 120


def test_sort_is_a_config_key(tmp_path):
    data = _long_file(tmp_path / "unsorted.csv", shuffle=True)
    with pytest.raises(InputError, match="--sort"):
        load(_long_config(tmp_path, data))
    with pytest.warns(Warning, match="sorted 1 out-of-order rows"):
        frame = load(_long_config(tmp_path, data, sort=True))
    assert frame[frame["series"] == "a"].index.is_monotonic_increasing


def test_sweep_command_reads_with_sort_and_missing_overrides(tmp_path, capsys):
    from forecast.cli import main

    data = _long_file(tmp_path / "both.csv", hole_in="y", shuffle=True)
    config = tmp_path / "long.yaml"
    config.write_text(f"data: {data}\nspec: {{target: y, lookback: 3, features: [x], id_col: series}}\n"
                      f"families: [mean]\nn_trials: 1\nbenchmarks: []\nout_dir: {tmp_path / 'out'}\n")
    code = main(["sweep", str(config), "--sort", "--missing", "interpolate", "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "sorted 1 out-of-order rows" in captured.err and "filled 1 missing values" in captured.err
    assert "Chosen by validation MAE" in captured.out


def test_sweep_no_plots_writes_no_png_and_optuna_says_nothing(tmp_path, capsys):
    """Issue 14 item 17 for the sweep: --no-plots writes no PNG, and Optuna's info lines stay quiet."""
    from forecast.cli import main

    data = _long_file(tmp_path / "plain.csv")
    config = tmp_path / "quiet.yaml"
    config.write_text(f"data: {data}\nspec: {{target: y, lookback: 3, features: [x], id_col: series}}\n"
                      f"families: [mean]\nn_trials: 2\nbenchmarks: []\nout_dir: {tmp_path / 'out'}\n")
    code = main(["sweep", str(config), "--no-plots", "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert (tmp_path / "out" / "leaderboard.csv").is_file()
    assert not list((tmp_path / "out").glob("*.png"))
    assert "A new study created" not in captured.err + captured.out


# -- 18 (sweep part). --threads is visible and reaches every worker ------------------------------------------

def test_threads_is_documented_and_passed_to_each_worker(tmp_path, monkeypatch, capsys):
    from forecast.cli import main
    from forecast.sweeps import runner

    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    assert "--threads N" in capsys.readouterr().out
    started = []

    class Finished:
        def __init__(self, command, env):
            started.append((command, env))

        def wait(self):
            return 0

    monkeypatch.setattr(runner.subprocess, "Popen", Finished)
    run_workers(_config(tmp_path), 2, threads=3, progress_bar=False)
    assert len(started) == 2
    for command, env in started:
        assert command[command.index("--threads") + 1] == "3" and env["OMP_NUM_THREADS"] == "3"


# -- 10. cold start: many workers open one fresh storage at once ---------------------------------------------

RACE = """
import sys, time
from forecast.config import WindowSpec
from forecast.sweeps.config import SweepConfig
from forecast.sweeps.runner import open_study
config = SweepConfig(data="x", spec=WindowSpec(target="y", lookback=2), families=("ridge",),
                     storage=sys.argv[2], study_name=sys.argv[3], out_dir=sys.argv[4])
time.sleep(max(0.0, float(sys.argv[1]) - time.time()))  # every process starts opening at the same moment
open_study(config)
"""


def _open_at_once(storage: str, study: str, folder: Path, n: int = 3) -> list[subprocess.CompletedProcess]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    start = time.time() + 8  # after every interpreter has imported optuna, even on a loaded machine
    procs = [subprocess.Popen([sys.executable, "-c", RACE, str(start), storage, study, str(folder)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(n)]
    return [subprocess.CompletedProcess(p.args, p.wait(120), *p.communicate()) for p in procs]


@pytest.mark.slow
def test_workers_started_at_once_on_a_fresh_sqlite_file(tmp_path):
    for attempt in range(2):  # the race is timing-dependent: two cold starts make a miss unlikely
        storage = f"sqlite:///{tmp_path / f'cold{attempt}.db'}"
        for done in _open_at_once(storage, "cold", tmp_path):
            assert done.returncode == 0, done.stderr[-1500:]
        assert [s.study_name for s in optuna.get_all_study_summaries(storage)] == ["cold"]


@pytest.mark.slow
@pytest.mark.postgres
def test_workers_started_at_once_on_a_fresh_postgresql_database(tmp_path):
    import sqlalchemy as sa

    from tests.test_sweep import _postgres_url

    server = with_driver(_postgres_url())
    name = f"forecast_cold_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(_postgres_url()).set(database=name).render_as_string(hide_password=False)
    try:
        for done in _open_at_once(url, "cold", tmp_path):
            assert done.returncode == 0, done.stderr[-1500:]
        assert [s.study_name for s in optuna.get_all_study_summaries(with_driver(url))] == ["cold"]
    finally:
        sa.create_engine(with_driver(url)).dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
