"""Conformal interval radii from absolute residuals: split conformal with the finite-sample correction,
over the residuals known at each forecast origin, and adaptive conformal inference (ACI).

Pure NumPy; `forecast.models.conformal.ConformalForecaster` feeds it one (series, target, step) group at a
time. A residual is usable at origin t only once its target is observed, i.e. its target time is <= t:
that one rule keeps every calibration residual in the past of the forecast it widens.
"""

from __future__ import annotations

import math

import numpy as np

METHODS = ("split", "aci")
"""split: the conformal quantile of every residual known at the origin (an expanding calibration set);
aci: the same, at a miscoverage level updated online by the misses of earlier intervals (Gibbs & Candes 2021)."""
DEFAULT_ACI_RATE = 0.005
"""ACI's step size gamma (the value of Gibbs & Candes' experiments)."""


def conformal_radius(scores: np.ndarray, level: float) -> float:
    """The ceil((n+1) * level)-th smallest of the n `scores`: with exchangeable scores, a new score falls
    at or below it with probability >= level. Infinite when n is too small for that level; 0 for level <= 0."""
    n = len(scores)
    if level <= 0.0:
        return 0.0
    k = math.ceil((n + 1) * level - 1e-12)
    if k > n:
        return math.inf
    return float(np.partition(scores, k - 1)[k - 1])


def expanding_radii(target_times: np.ndarray, scores: np.ndarray, origins: np.ndarray,
                    levels: np.ndarray, window: int | None = None) -> np.ndarray:
    """Split-conformal radii [Q, L] at `origins` [Q] for `levels` [L], each from the `scores` [R] whose
    target time is <= the origin (the expanding set as a backtest walks forward), or the latest `window`."""
    order = np.argsort(target_times, kind="stable")
    times, ordered = target_times[order], scores[order]
    known = np.searchsorted(times, origins, side="right")  # [Q] residuals observed by each origin
    radii = np.empty((len(origins), len(levels)))
    for n in np.unique(known):  # one loop per distinct calibration-set size, not per forecast
        recent = ordered[_first(n, window):n]
        radii[known == n] = [conformal_radius(recent, level) for level in levels]
    return radii


def _first(known: int, window: int | None) -> int:
    """Index of the first score of the calibration set when `known` scores are observed."""
    return 0 if window is None else max(0, known - window)


def aci_radii(target_times: np.ndarray, origins_of_scores: np.ndarray, scores: np.ndarray, origins: np.ndarray,
              levels: np.ndarray, rate: float = DEFAULT_ACI_RATE, window: int | None = None) -> np.ndarray:
    """Adaptive conformal radii [Q, L] at `origins` [Q]: the miscoverage a_t = (1 - level) +
    rate * sum(1 - level - miss_j) over the earlier intervals j whose targets are observed by t, where
    miss_j says whether score j fell outside the interval ACI gave at its own origin. Feedback is delayed
    by the horizon step, as it is in practice; a_t <= 0 gives an infinite radius, a_t >= 1 zero.
    window: the quantile reads the latest `window` observed scores only (the feedback reads them all)."""
    alpha = 1.0 - np.asarray(levels, dtype=np.float64)  # [L]
    by_target = np.argsort(target_times, kind="stable")
    times, ordered = target_times[by_target], scores[by_target]  # [R] in the order they become known
    rank = np.empty(len(scores), dtype=np.int64)
    rank[by_target] = np.arange(len(scores))  # [R] each score's place in that order
    feedback = np.zeros((len(scores), len(alpha)))  # [R, L] (1 - level) - miss of each scored interval

    def radii_at(t) -> tuple[np.ndarray, int]:
        known = int(np.searchsorted(times, t, side="right"))  # scores observed by t: a prefix of `ordered`
        a_t = alpha + rate * feedback[:known].sum(axis=0)  # [L]
        recent = ordered[_first(known, window):known]
        return np.array([conformal_radius(recent, 1.0 - a) if a > 0 else math.inf for a in a_t]), known

    # sequential by nature: each interval depends on the misses before it. A score's miss is set before it
    # is read: it is read only once its target is observed, after its own (earlier) origin was processed.
    for j in np.argsort(origins_of_scores, kind="stable"):
        radius, known = radii_at(origins_of_scores[j])
        if known:
            feedback[rank[j]] = alpha - (scores[j] > radius)
    return np.array([radii_at(t)[0] for t in origins]).reshape(len(origins), len(alpha))


def nested(radii: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Radii [Q, L] made non-decreasing in the level, so a higher level's interval always contains a lower
    one's (ACI moves each level on its own and could otherwise cross them)."""
    order = np.argsort(levels)
    out = radii.copy()
    out[:, order] = np.maximum.accumulate(radii[:, order], axis=1)
    return out
