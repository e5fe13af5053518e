"""The ensemble a sweep emits: its top-k families by validation MAE, combined, scored on test beside them.

Members are chosen by validation (each family's best trial value), never by test. Their test forecasts
are the ones the leaderboard already scores (each refit on train + validation). Stacked weights are
non-negative least squares on validation forecasts: each member refit on the train part only and scored
on the validation part, which precedes the test part; the test part never enters the weights.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from forecast.data.splits import FrameSplit
from forecast.models import registry
from forecast.models.ensemble import nnls_weights, stack_forecasts
from forecast.sweeps.objective import Objective, build_model, params_of


def top_families(best: dict[str, Any], k: int) -> list[str]:
    """The k families with the lowest validation MAE (ties by name)."""
    return sorted(best, key=lambda family: (best[family].value, family))[:k]


def validation_weights(split: FrameSplit, objective: Objective, trials: list[Any], *, seed: int,
                       max_epochs: int) -> np.ndarray | None:
    """NNLS weights of the trials' models refit on the train part, from their validation-part forecasts."""
    outs = []
    for trial in trials:
        family, lookback, params = params_of(trial)
        model = build_model(family, params, seed=seed, max_epochs=max_epochs)
        if registry.get(family).recurrent:
            model.set_params(val_size=0.1)  # early stopping data from the train part only
        forecasts = model.fit(split.train, objective.spec_for(lookback)).predict(split.train_val, origin="all")
        outs.append(split.targets_in(forecasts, part=1))
    return nnls_weights(stack_forecasts(outs, split.spec), split.frame, split.spec)


def sweep_ensemble(split: FrameSplit, objective: Objective, best: dict[str, Any], test: dict[str, pd.DataFrame],
                   labels: dict[str, str], *, k: int, combine: str, seed: int,
                   max_epochs: int) -> tuple[str, pd.DataFrame, dict[str, float]] | None:
    """(board label, test forecasts, timings) of the `combine` ensemble of the top-k families, or None when
    fewer than two families completed. `test`: each label's test-part forecasts; `labels`: family -> label."""
    families = top_families(best, k)
    if len(families) < 2:
        return None
    started = time.perf_counter()
    stacked = stack_forecasts([test[labels[f]] for f in families], split.spec)
    columns = [f"_m{i}" for i in range(len(families))]
    values = stacked[columns].to_numpy(dtype=np.float64)  # [R, K]
    if combine == "median":
        combined = np.median(values, axis=1)
    else:
        weights = (np.full(len(families), 1 / len(families)) if combine == "mean" else
                   validation_weights(split, objective, [best[f] for f in families], seed=seed,
                                      max_epochs=max_epochs))
        combined = values @ weights if weights is not None else np.full(len(values), np.nan)
    label = f"ensemble_{combine} (top {len(families)}: {'+'.join(families)})"
    forecasts = stacked.drop(columns=columns).assign(forecast=combined)
    return label, forecasts, {"fit_seconds": time.perf_counter() - started, "predict_seconds": 0.0}
