"""The Optuna objective: pick a family, build it from the registry's search space, fit on train,
return the validation score (MAE, CRPS or interval score). Data and settings come in as arguments;
nothing is global."""

from __future__ import annotations

import os
import socket
from typing import Any

import numpy as np
import optuna
import pandas as pd

from forecast.config import WindowSpec
from forecast.data.splits import FrameSplit
from forecast.intervals import crps_from_intervals, interval_columns, interval_scores, level_label
from forecast.models import registry
from forecast.models.training import DEFAULT_TRAIN


class PrefixedTrial:
    """Forwards `suggest_*` calls with names prefixed by the family ("lstm.hidden_size"), so families
    with parameters of the same name but different ranges never clash in one study."""

    def __init__(self, trial: optuna.Trial, prefix: str) -> None:
        self._trial, self._prefix = trial, prefix

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._trial, name)
        if not name.startswith("suggest_"):
            return attr
        return lambda param, *args, **kwargs: attr(f"{self._prefix}.{param}", *args, **kwargs)


def family_params(trial: optuna.Trial, family: str) -> dict[str, Any]:
    """Constructor parameters for `family` drawn from its registry search space (empty if it has none)."""
    entry = registry.get(family)
    return entry.search_space(PrefixedTrial(trial, family)) if entry.search_space else {}


def params_of(frozen: optuna.trial.FrozenTrial) -> tuple[str, int | None, dict[str, Any]]:
    """(family, lookback, constructor parameters) recorded in a finished trial."""
    family = frozen.params["family"]
    prefix = f"{family}."
    params = {k[len(prefix):]: v for k, v in frozen.params.items() if k.startswith(prefix)}
    return family, frozen.params.get("lookback"), params


def build_model(family: str, params: dict[str, Any], *, seed: int, max_epochs: int) -> Any:
    """A fresh model of `family` with the searched params (each must be the model's), the study's seed
    and epoch budget (where the model has them) and no progress bar."""
    return registry.build(family, shared={"seed": seed, "max_epochs": max_epochs, "progress_bar": False},
                          **params)


def _with_actuals(forecasts: pd.DataFrame, split: FrameSplit, part: int) -> pd.DataFrame:
    """The forecasts whose targets lie in `part`, with their actual value as column `y`."""
    scored = split.targets_in(forecasts, part)
    keys = ["timestamp"] + ([split.spec.id_col] if split.spec.id_col else [])
    actual = split.frame.reset_index(names="timestamp")
    if "target" not in scored:
        return scored.merge(actual[keys + [split.spec.targets[0]]].rename(columns={split.spec.targets[0]: "y"}),
                            on=keys, how="left")
    long = actual.melt(id_vars=keys, value_vars=list(split.spec.targets), var_name="target", value_name="y")
    return scored.merge(long, on=keys + ["target"], how="left")


def validation_mae(forecasts: pd.DataFrame, split: FrameSplit, part: int) -> float:
    """Mean absolute error of the forecasts whose targets lie in `part`, in the data's units."""
    return validation_score(forecasts, split, part, "mae")


def validation_score(forecasts: pd.DataFrame, split: FrameSplit, part: int, metric: str,
                     levels: tuple[float, ...] = ()) -> float:
    """`metric` (config.METRICS) of the forecasts whose targets lie in `part`; inf when nothing is scored.

    crps / interval_score read the interval columns at `levels` (`forecast.intervals`), over the rows
    whose intervals are all bounded and whose actual is known."""
    merged = _with_actuals(forecasts, split, part)
    y, point = merged["y"].to_numpy(dtype=np.float64), merged["forecast"].to_numpy(dtype=np.float64)
    if metric == "mae":
        errors = (point - y)[np.isfinite(point - y)]
        return float(np.mean(np.abs(errors))) if errors.size else float("inf")
    if any(c not in merged for lv in levels for c in interval_columns(lv)):
        return float("inf")  # a model without intervals (a direction classifier) cannot be scored on them
    bounds = {lv: tuple(merged[c].to_numpy(dtype=np.float64) for c in interval_columns(lv)) for lv in levels}
    rows = np.isfinite(y) & np.isfinite(point) & np.logical_and.reduce(
        [np.isfinite(b) for pair in bounds.values() for b in pair])
    if not rows.any():
        return float("inf")
    bounds = {lv: (lo[rows], hi[rows]) for lv, (lo, hi) in bounds.items()}
    if metric == "crps":
        return crps_from_intervals(y[rows], point[rows], bounds)
    scores = [interval_scores(y[rows], lo, hi, lv)[f"winkler_{level_label(lv)}"] for lv, (lo, hi) in bounds.items()]
    return float(np.mean(scores))


class Objective:
    """build -> fit on train -> return the validation `metric` (pruned by validation loss per epoch for
    RNNs). metric crps / interval_score score the intervals at `levels`: a model that gives its own (a
    distributional network) is scored on them, every other is wrapped in conformal intervals calibrated
    on its training rows and on the validation errors observed by each origin (never later ones)."""

    def __init__(self, split: FrameSplit, families: tuple[str, ...], *, lookbacks: tuple[int, ...] = (),
                 seed: int = 0, max_epochs: int = DEFAULT_TRAIN.max_epochs, metric: str = "mae",
                 levels: tuple[float, ...] = (), tracker: Any = None) -> None:
        self.split, self.families, self.lookbacks = split, families, lookbacks
        self.seed, self.max_epochs = seed, max_epochs
        self.metric, self.levels = metric, tuple(levels)
        self.tracker = tracker  # forecast.sweeps.tracking.MlflowTracker, or None

    def spec_for(self, lookback: int | None) -> WindowSpec:
        from dataclasses import replace

        return replace(self.split.spec, lookback=lookback) if lookback else self.split.spec

    def __call__(self, trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")  # set first: pruned trials too
        if self.tracker is None:
            return self.run(trial)
        return self.tracker.run_trial(trial, lambda logger: self.run(trial, logger))

    def run(self, trial: optuna.Trial, logger: Any = None) -> float:
        """The trial itself; `logger` (a Lightning logger) receives a recurrent family's per-epoch losses."""
        family = trial.suggest_categorical("family", list(self.families))
        lookback = trial.suggest_categorical("lookback", list(self.lookbacks)) if self.lookbacks else None
        spec = self.spec_for(lookback)
        # The search space reads the window, so it draws only options that fit it (segments <= lookback).
        trial.set_user_attr(registry.WINDOW_ATTR, {"lookback": spec.lookback, "known_future": bool(spec.known_future)})
        model = build_model(family, family_params(trial, family), seed=self.seed, max_epochs=self.max_epochs)
        if own_intervals(model) and self.levels:
            model.set_params(levels=self.levels)  # scored at the sweep's levels
        wrapped = self.metric != "mae" and not own_intervals(model)
        if wrapped:  # calibrated on its training rows, then on validation errors observed by each origin
            model = registry.get(family).conformal(model, {"intervals": self.levels}, asked=False)
        recurrent = registry.get(family).recurrent and not wrapped
        if recurrent:
            if logger is not None:
                model.set_params(logger=logger)
            from optuna_integration import PyTorchLightningPruningCallback

            pruning = PyTorchLightningPruningCallback(trial, monitor="val_loss")
            model.fit(self.split.train, spec, val_frame=self.split.train_val, callbacks=[pruning])
        else:
            model.fit(self.split.train, spec)
        forecasts = model.predict(self.split.train_val, origin="all")
        score = validation_score(forecasts, self.split, 1, self.metric, self.levels)
        trial.set_user_attr("fit_seconds", float(model.fit_seconds_) if recurrent else float("nan"))
        return score


def own_intervals(model: Any) -> bool:
    """Whether `model` forecasts its own interval bounds (RNNForecaster(task="distribution"))."""
    return model.get_params(deep=False).get("task") == "distribution"
