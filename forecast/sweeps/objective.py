"""The Optuna objective: pick a family, build it from the registry's search space, fit on train,
return the validation MAE. Data and settings come in as arguments; nothing is global."""

from __future__ import annotations

import os
import socket
from typing import Any

import numpy as np
import optuna
import pandas as pd

from forecast.config import WindowSpec
from forecast.data.splits import FrameSplit
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


def validation_mae(forecasts: pd.DataFrame, split: FrameSplit, part: int) -> float:
    """Mean absolute error of the forecasts whose targets lie in `part`, in the data's units."""
    scored = split.targets_in(forecasts, part)
    target = split.spec.targets[0] if "target" not in scored else None
    keys = ["timestamp"] + ([split.spec.id_col] if split.spec.id_col else [])
    actual = split.frame.reset_index(names="timestamp")
    if target is not None:
        merged = scored.merge(actual[keys + [target]], on=keys, how="left")
        errors = merged["forecast"].to_numpy() - merged[target].to_numpy()
    else:
        long = actual.melt(id_vars=keys, value_vars=list(split.spec.targets), var_name="target", value_name="y")
        merged = scored.merge(long, on=keys + ["target"], how="left")
        errors = merged["forecast"].to_numpy() - merged["y"].to_numpy()
    errors = errors[np.isfinite(errors)]
    return float(np.mean(np.abs(errors))) if errors.size else float("inf")


class Objective:
    """build -> fit on train -> return validation MAE (pruned by validation loss per epoch for RNNs)."""

    def __init__(self, split: FrameSplit, families: tuple[str, ...], *, lookbacks: tuple[int, ...] = (),
                 seed: int = 0, max_epochs: int = DEFAULT_TRAIN.max_epochs, tracker: Any = None) -> None:
        self.split, self.families, self.lookbacks = split, families, lookbacks
        self.seed, self.max_epochs = seed, max_epochs
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
        recurrent = registry.get(family).recurrent
        if recurrent:
            if logger is not None:
                model.set_params(logger=logger)
            from optuna_integration import PyTorchLightningPruningCallback

            pruning = PyTorchLightningPruningCallback(trial, monitor="val_loss")
            model.fit(self.split.train, spec, val_frame=self.split.train_val, callbacks=[pruning])
        else:
            model.fit(self.split.train, spec)
        forecasts = model.predict(self.split.train_val, origin="all")
        score = validation_mae(forecasts, self.split, part=1)
        trial.set_user_attr("fit_seconds", float(model.fit_seconds_) if recurrent else float("nan"))
        return score
