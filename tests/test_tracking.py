"""Experiment tracking: RNNForecaster's `logger` option and `forecast sweep --mlflow`, against real stores
(CSV files, a local SQLite MLflow store under tmp_path; nothing mocked)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

import forecast as fc
from forecast.cli import main
from forecast.errors import InputError

TINY = {"cell": "gru", "hidden_size": 4, "max_epochs": 2, "progress_bar": False, "seed": 0}
SPEC = fc.WindowSpec(target="temp_max", features=["wind"], lookback=7, horizon=1)


@pytest.fixture
def quiet_mlflow(monkeypatch):
    """No usage telemetry from MLflow in tests (the network is blocked anyway)."""
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "true")


def test_csv_logger_records_losses_per_epoch_and_parameters(seattle, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = fc.RNNForecaster(logger="csv", **TINY).fit(seattle.iloc[-300:], SPEC)
    run = tmp_path / "lightning_logs" / "forecast" / "version_0"
    metrics = pd.read_csv(run / "metrics.csv")
    assert metrics["val_loss"].notna().sum() == model.n_epochs_ == 2
    assert "cell: gru" in (run / "hparams.yaml").read_text()


def test_a_saved_model_keeps_a_logger_name_never_an_object(seattle, tmp_path, monkeypatch):
    from lightning.pytorch.loggers import CSVLogger

    monkeypatch.chdir(tmp_path)
    frame = seattle.iloc[-200:]
    by_name = fc.RNNForecaster(logger="csv", **{**TINY, "max_epochs": 1}).fit(frame, SPEC)
    by_name.save(tmp_path / "a")
    assert fc.load_model(tmp_path / "a").logger == "csv"
    instance = fc.RNNForecaster(logger=CSVLogger(tmp_path / "logs"), **{**TINY, "max_epochs": 1}).fit(frame, SPEC)
    instance.save(tmp_path / "b")
    assert fc.load_model(tmp_path / "b").logger is None
    assert list((tmp_path / "logs").rglob("metrics.csv"))


def test_bad_logger_values_and_a_missing_tensorboard_are_clear(seattle, monkeypatch):
    with pytest.raises(ValueError, match="logger"):
        fc.RNNForecaster(logger="wandb", **TINY).fit(seattle.iloc[-100:], SPEC)
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(InputError, match="pip install tensorboard"):
        fc.RNNForecaster(logger="tensorboard", **TINY).fit(seattle.iloc[-100:], SPEC)


def test_sweep_without_mlflow_installed_names_the_extra(tmp_path, monkeypatch, capsys):
    import yaml

    config = {"data": "seattle-weather", "spec": {"target": "temp_max", "lookback": 7}, "families": ["ridge"],
              "n_trials": 1, "benchmarks": [], "out_dir": str(tmp_path / "out")}
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setitem(sys.modules, "mlflow", None)
    assert main(["sweep", str(tmp_path / "sweep.yaml"), "--mlflow", f"sqlite:///{tmp_path}/m.db",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'forecast[mlflow]'" in err[0]
    assert not (tmp_path / "out" / "study.db").exists()  # refused before any study exists


@pytest.mark.slow
def test_mlflow_logger_and_sweep_record_runs_in_a_local_store(seattle, tmp_path, quiet_mlflow):
    """One SQLite store (its first use builds the schema, the slow part): a plain fit with an MLFlowLogger,
    then a sweep whose trials become child runs of one parent run holding the leaderboard."""
    from lightning.pytorch.loggers import MLFlowLogger
    from mlflow import MlflowClient

    from forecast.sweeps.runner import sweep

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    logger = MLFlowLogger(experiment_name="fit", tracking_uri=uri, artifact_location=(tmp_path / "a").as_uri())
    fc.RNNForecaster(logger=logger, **TINY).fit(seattle.iloc[-300:], SPEC)
    client = MlflowClient(uri)
    run = client.get_run(logger.run_id)
    assert run.data.params["cell"] == "gru" and run.data.params["hidden_size"] == "4"
    assert len(client.get_metric_history(logger.run_id, "val_loss")) == 2

    result = sweep(seattle.iloc[:400], SPEC, families=["gru", "ridge"], n_trials=3, out_dir=str(tmp_path / "out"),
                   max_epochs=2, progress_bar=False, val_size=0.15, test_size=0.15, pruner="none",
                   study_name="tracked", mlflow=uri)
    experiment = client.get_experiment_by_name("tracked")
    runs = client.search_runs([experiment.experiment_id])
    parent = [r for r in runs if r.data.tags.get("forecast.role") == "sweep"]
    trials = [r for r in runs if r.data.tags.get("forecast.role") == "trial"]
    assert len(parent) == 1 and len(trials) == len(result.study.trials) == 3
    assert all(r.data.tags["mlflow.parentRunId"] == parent[0].info.run_id for r in trials)
    by_number = {int(r.data.tags["optuna.trial"]): r for r in trials}
    for trial in result.study.trials:
        run = by_number[trial.number]
        assert run.data.params["optuna.family"] == trial.params["family"]
        assert run.data.metrics["val_mae"] == pytest.approx(trial.value)
        assert run.info.status == "FINISHED"
        if trial.params["family"] == "gru":
            assert len(client.get_metric_history(run.info.run_id, "val_loss")) == 2  # one per epoch
    artifacts = {a.path for a in client.list_artifacts(parent[0].info.run_id)}
    assert {"leaderboard.csv", "summary.txt", "best_trials.json", "optuna_history.png"} <= artifacts
    assert parent[0].data.params["chosen"] == result.chosen
    assert Path(tmp_path / "mlartifacts").is_dir()  # beside the database, not in the current folder
