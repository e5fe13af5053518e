"""Record a sweep in MLflow: one parent run per study, one child run per trial (sweep key `mlflow`,
`forecast sweep --mlflow URI`).

A trial's run holds its Optuna parameters (family, lookback, `<family>.<param>`), the estimator's own
parameters and per-epoch losses (train_loss, val_loss; recurrent families, through Lightning's
MLFlowLogger and `RNNForecaster(logger=...)`), its validation MAE (`val_mae`, the trial's value) and its
state (FINISHED, KILLED when pruned, FAILED). The parent run holds the leaderboard, summary, best trials
and Optuna's plots as artifacts, and the chosen family's validation and test MAE. MLflow's own client is
used directly (optuna-integration's MLflowCallback logs a trial only after it ends, with no epoch curve).
Worker processes find the parent run by its tags, so every process of a study records into one parent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import optuna

from forecast.extras import require

ROLE_TAG, STUDY_TAG = "forecast.role", "forecast.study"


def artifact_location(uri: str) -> str | None:
    """Where a new experiment keeps its artifacts: beside a local SQLite database (mlartifacts/), so that
    MLflow's UI, pointed at that database, finds them from any folder; a server decides its own."""
    parsed = urlparse(uri)
    if parsed.scheme == "sqlite" and parsed.path not in ("", "/:memory:"):
        database = Path(uri.split(":///", 1)[1]) if ":///" in uri else Path(parsed.path)
        return (database.resolve().parent / "mlartifacts").as_uri()
    return None


class MlflowTracker:
    """A study's runs at tracking URI `uri`, in the MLflow experiment named after the study."""

    def __init__(self, uri: str, study_name: str) -> None:
        require("mlflow", "mlflow", "sweep key 'mlflow' (--mlflow URI)")
        from mlflow import MlflowClient

        self.uri, self.study_name = uri, study_name
        self.client = MlflowClient(tracking_uri=uri)
        experiment = self.client.get_experiment_by_name(study_name)
        self.experiment_id = experiment.experiment_id if experiment is not None else \
            self.client.create_experiment(study_name, artifact_location=artifact_location(uri))
        self._parent: str | None = None

    def parent_run_id(self) -> str:
        """The study's parent run: found by its tags (another process may have made it), else created."""
        if self._parent is None:
            found = self.client.search_runs([self.experiment_id], f"tags.`{ROLE_TAG}` = 'sweep'",
                                            order_by=["attributes.start_time ASC"], max_results=1)
            self._parent = found[0].info.run_id if found else self.client.create_run(
                self.experiment_id, run_name=self.study_name,
                tags={ROLE_TAG: "sweep", STUDY_TAG: self.study_name}).info.run_id
        return self._parent

    def run_trial(self, trial: optuna.Trial, objective: Callable[[Any], float]) -> float:
        """Run `objective(logger)` (logger: a Lightning MLFlowLogger writing into this trial's run) as a child
        run of the study's run, then record the trial's parameters, value and state."""
        from lightning.pytorch.loggers import MLFlowLogger

        run_id = self.client.create_run(
            self.experiment_id, run_name=f"trial {trial.number}",
            tags={"mlflow.parentRunId": self.parent_run_id(), ROLE_TAG: "trial", STUDY_TAG: self.study_name,
                  "optuna.trial": str(trial.number)}).info.run_id
        logger = MLFlowLogger(experiment_name=self.study_name, tracking_uri=self.uri, run_id=run_id)
        status = "FAILED"
        try:
            value = objective(logger)
            self.client.log_metric(run_id, "val_mae", value)
            status = "FINISHED"
            return value
        except optuna.TrialPruned:
            status = "KILLED"
            raise
        finally:
            self._log_params(run_id, {f"optuna.{k}": v for k, v in trial.params.items()})
            self.client.set_terminated(run_id, status)

    def record_result(self, result: Any, files: dict[str, str]) -> None:
        """On the parent run: the written outputs as artifacts, the chosen family, its validation MAE and,
        from the leaderboard, its test MAE."""
        run_id = self.parent_run_id()
        for path in files.values():
            if Path(path).is_file():
                self.client.log_artifact(run_id, path)
        if result.chosen is not None:
            self._log_params(run_id, {"chosen": result.chosen})
            self.client.log_metric(run_id, "chosen_val_mae", float(result.best_trials[result.chosen].value))
            board = result.leaderboard
            rows = board[board["chosen"].astype(bool)] if board is not None and "chosen" in board else None
            if rows is not None and len(rows) and "mae" in rows:
                self.client.log_metric(run_id, "chosen_test_mae", float(rows["mae"].mean()))
        self.client.set_terminated(run_id, "FINISHED")

    def _log_params(self, run_id: str, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        logged = self.client.get_run(run_id).data.params
        new = [Param(k, str(v)[:6000]) for k, v in params.items() if k not in logged]  # params are write-once
        if new:
            self.client.log_batch(run_id, params=new)


def tracker_for(config: Any) -> MlflowTracker | None:
    """The MLflow tracker a sweep config asks for (key `mlflow`), or None."""
    return MlflowTracker(config.mlflow, config.study_name) if config.mlflow else None
