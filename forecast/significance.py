"""The Diebold-Mariano test of equal forecast accuracy, with the Harvey-Leybourne-Newbold correction.

Follows R's `forecast::dm.test`: loss differential d_t = L(e_model,t) - L(e_benchmark,t) with
L = |e|^power; its long-run variance from the autocovariances of d up to lag h-1 (divisor n; rectangular
weights, or Bartlett/Newey-West weights); DM = mean(d) / sqrt(var / n); the HLN factor
sqrt((n + 1 - 2h + h(h-1)/n) / n) and Student-t with n-1 degrees of freedom.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from forecast.errors import InputError

Loss = Literal["squared", "absolute"]
_POWER = {"squared": 2, "absolute": 1}

_SQUARED_METRICS = ("rmse", "mse", "brier", "log_loss", "accuracy")
"""Ranking metrics whose DM loss is the squared error (for classification: actual - P(up), i.e. Brier's)."""


def loss_for_metric(metric: str) -> Loss:
    """The DM loss that matches a ranking metric: squared error for RMSE and the classification scores,
    absolute error for MAE, MASE, MAPE, sMAPE and the rest, so the test asks what the ranking asks."""
    return "squared" if metric in _SQUARED_METRICS else "absolute"


@dataclass(frozen=True)
class DMResult:
    """Outcome of a Diebold-Mariano test of a model against a benchmark.

    statistic: HLN-corrected DM statistic; negative when the model's loss is lower.
    p_value: two-sided p-value of "equal accuracy" (as R's dm.test; leaderboards report the one-sided ones).
    p_value_better: one-sided p-value of the alternative "the model is more accurate than the benchmark".
    p_value_worse: one-sided p-value of the alternative "the model is less accurate than the benchmark".
    """

    statistic: float
    p_value: float
    p_value_better: float
    p_value_worse: float
    n: int
    h: int
    loss: str


def _autocovariances(d: np.ndarray, max_lag: int) -> np.ndarray:
    """gamma_k = sum_t (d_t - mean)(d_{t+k} - mean) / n for k = 0..max_lag (as R's acf(type='covariance'))."""
    centred = d - d.mean()
    n = d.size
    return np.array([centred[: n - k] @ centred[k:] / n for k in range(max_lag + 1)])


def diebold_mariano(
    model_errors: ArrayLike,
    benchmark_errors: ArrayLike,
    *,
    h: int = 1,
    loss: Loss = "squared",
    variance: Literal["acf", "bartlett"] = "acf",
) -> DMResult:
    """Test whether a model's forecast errors are smaller than a benchmark's (e.g. persistence).

    Errors are aligned 1-D arrays (actual - forecast, same targets, time order). h is the forecast horizon:
    h-step errors are autocorrelated up to lag h-1. Identical losses give statistic 0 and both p-values 1
    (no evidence either way); constant non-zero differences give an infinite statistic.
    """
    e1 = np.asarray(model_errors, dtype=float).ravel()
    e2 = np.asarray(benchmark_errors, dtype=float).ravel()
    if e1.shape != e2.shape:
        raise InputError(f"model has {e1.size} errors but the benchmark has {e2.size}; they must align")
    if loss not in _POWER:
        raise InputError(f"loss must be one of {sorted(_POWER)}, got {loss!r}")
    if variance not in ("acf", "bartlett"):
        raise InputError(f"variance must be 'acf' or 'bartlett', got {variance!r}")
    if not np.all(np.isfinite(e1)) or not np.all(np.isfinite(e2)):
        raise InputError("forecast errors contain NaN or infinite values; drop or fix those rows first")
    n = e1.size
    if not isinstance(h, int) or isinstance(h, bool) or h < 1:
        raise InputError(f"h must be a positive integer, got {h!r}")
    hln = (n + 1 - 2 * h + h * (h - 1) / n) / n if n else 0.0
    if n < 3 or h >= n or hln <= 0:
        raise InputError(f"the Diebold-Mariano test needs more than h={h} and at least 3 errors, got {n}")

    power = _POWER[loss]
    d = np.abs(e1) ** power - np.abs(e2) ** power
    mean = float(d.mean())
    gamma = _autocovariances(d, h - 1)
    weights = np.ones(h - 1) if variance == "acf" else 1.0 - np.arange(1, h) / h
    var = float(gamma[0] + 2.0 * weights @ gamma[1:]) / n

    if var <= 0.0 and not np.all(d == d[0]):
        # the rectangular long-run variance can go negative for h > 1; R falls back to h = 1 too
        warnings.warn(
            f"Diebold-Mariano variance estimate with h={h} is not positive; using h=1",
            RuntimeWarning,
            stacklevel=2,
        )
        return diebold_mariano(e1, e2, h=1, loss=loss, variance=variance)
    if var <= 0.0:
        if mean == 0.0:
            return DMResult(0.0, 1.0, 1.0, 1.0, n, h, loss)
        statistic = float(np.copysign(np.inf, mean))
    else:
        statistic = mean / np.sqrt(var) * np.sqrt(hln)
    t = stats.t(df=n - 1)
    return DMResult(
        statistic=float(statistic),
        p_value=float(2.0 * t.cdf(-abs(statistic))),
        p_value_better=float(t.cdf(statistic)),
        p_value_worse=float(t.sf(statistic)),
        n=n,
        h=h,
        loss=loss,
    )
