"""Names of the training tasks and losses, and the checks that tie a task to the other settings.

Kept apart from Lightning so estimators import fast.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from forecast.config import WindowSpec
from forecast.errors import InputError

TASKS = ("regression", "quantile", "direction", "event", "distribution")
CLASSIFY_TASKS = ("direction", "event")
VALUE_TASKS = ("regression", "quantile")  # one forecast value per output: a location shift applies to each
CUMULATIVE_TRANSFORMS = ("diff", "pct_change", "log_return")
"""Target transforms whose step-h forecast accumulates steps 1..h: a sum of quantiles is no quantile of the sum."""
LOSSES = ("mse", "mae", "huber")


def declared_task(model) -> str:
    """'direction' or 'regression': what a forecaster says it forecasts, by its `task` parameter (RNNs) or
    its class's `task` attribute (the direction baselines). For classes the registry does not know; the
    registry's own entries declare the same (`registry.task_of`)."""
    params = model.get_params(deep=False) if hasattr(model, "get_params") else {}
    task = params.get("task", getattr(type(model), "task", "regression"))
    return "direction" if task == "direction" else "regression"


def check_task(spec: WindowSpec, *, task: str, head: str, normalize: str, skip: str, quantiles: Sequence[float],
               target_transform: str, event_threshold: float | None) -> None:
    """Checks that tie RNNForecaster's parameters to each other or to the spec (single ones are in its table)."""
    if (normalize != "none" or skip != "none") and (head not in ("direct", "segments") or task in CLASSIFY_TASKS):
        raise InputError(
            f"normalize={normalize!r} and skip={skip!r} work with head='direct' or 'segments' on a regression "
            f"or quantile task; got head={head!r}, task={task!r} (CLI: --normalize none --skip none)"
        )
    levels = np.asarray(quantiles, dtype=np.float64)
    if task == "quantile" and (
        levels.ndim != 1 or not len(levels) or np.any((levels <= 0) | (levels >= 1)) or np.any(np.diff(levels) <= 0)
    ):
        raise InputError(f"quantiles must be increasing values strictly between 0 and 1, got {quantiles!r}")
    if task == "distribution" and (normalize != "none" or skip != "none"):
        raise InputError(
            f"task='distribution' reads the head's outputs as (loc, scale[, df]); normalize={normalize!r} and "
            f"skip={skip!r} would shift the scale too: use normalize='none' and skip='none'"
        )
    if task == "distribution" and target_transform in CUMULATIVE_TRANSFORMS and spec.horizon > 1:
        raise InputError(
            f"task='distribution' with target_transform={target_transform!r} and horizon={spec.horizon}: the "
            "forecast of step h adds up steps 1..h, and quantiles do not add up; use horizon=1 or "
            "target_transform 'none' or 'log'"
        )
    if task in CLASSIFY_TASKS and (spec.horizon != 1 or len(spec.targets) != 1):
        raise InputError(
            f"task={task!r} classifies the next value of one target; use horizon=1 and one target "
            f"(got horizon={spec.horizon}, targets={list(spec.targets)})"
        )
    if task == "direction" and target_transform not in ("none", "log"):
        raise InputError(
            f"task='direction' compares the next value with the last one, so target_transform must be "
            f"'none' or 'log', got {target_transform!r}"
        )
    if task == "event" and (event_threshold is None or target_transform != "none"):
        raise InputError(
            "task='event' needs event_threshold (in the target's units, e.g. 0.0 for rain) and "
            f"target_transform='none'; got event_threshold={event_threshold!r}, "
            f"target_transform={target_transform!r}"
        )
