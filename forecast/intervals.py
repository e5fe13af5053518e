"""Prediction-interval columns (`lower_80`, `upper_80`, ...) and the scores that judge them: coverage,
mean width, the interval (Winkler) score and CRPS approximated from the interval bounds as quantiles."""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from forecast.errors import InputError

INTERVAL_COLUMN = re.compile(r"^(lower|upper)_(\d+(?:\.\d+)?)$")
"""Interval columns are `lower_` / `upper_` + the nominal level in percent: lower_80, upper_97.5."""


def check_levels(levels: float | Iterable[float], what: str = "intervals") -> tuple[float, ...]:
    """Nominal levels as sorted unique floats strictly inside (0, 1); an InputError names a bad one."""
    values = [levels] if isinstance(levels, (int, float)) else list(levels)
    if not values:
        raise InputError(f"{what}: give at least one nominal level, e.g. (0.8, 0.95)")
    for level in values:
        if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0.0 < float(level) < 1.0:
            raise InputError(f"{what}: level {level!r} must lie strictly between 0 and 1 (0.8 is an 80% interval)")
    return tuple(sorted({float(v) for v in values}))


def level_label(level: float) -> str:
    """0.8 -> '80', 0.975 -> '97.5': the suffix of that level's columns."""
    return f"{round(level * 100, 6):g}"


def interval_columns(level: float) -> tuple[str, str]:
    """('lower_80', 'upper_80') for level 0.8."""
    return f"lower_{level_label(level)}", f"upper_{level_label(level)}"


def interval_levels(frame: pd.DataFrame) -> list[float]:
    """Nominal levels whose lower and upper columns are both in `frame`, ascending."""
    found: dict[str, set[str]] = {}
    for column in frame.columns:
        if m := INTERVAL_COLUMN.match(str(column)):
            found.setdefault(m.group(2), set()).add(m.group(1))
    return sorted(float(label) / 100 for label, sides in found.items() if sides == {"lower", "upper"})


def interval_scores(y: np.ndarray, lower: np.ndarray, upper: np.ndarray, level: float) -> dict[str, float]:
    """coverage (share of y inside, over every row), unbounded (share of infinite intervals: a conformal
    model gives them where no calibration error is known yet, e.g. a series' first forecasts), and over
    the bounded rows width (mean upper - lower) and winkler: the interval score
    width + (2 / (1 - level)) * distance outside the interval (Gneiting & Raftery 2007; lower is better)."""
    alpha = 1.0 - level
    covered = (y >= lower) & (y <= upper)
    bounded = np.isfinite(lower) & np.isfinite(upper)
    y, lo, hi = y[bounded], lower[bounded], upper[bounded]
    score = hi - lo + 2.0 / alpha * (np.maximum(lo - y, 0.0) + np.maximum(y - hi, 0.0))
    label = level_label(level)
    return {f"coverage_{label}": float(np.mean(covered)),
            f"width_{label}": float(np.mean(hi - lo)) if bounded.any() else float("inf"),
            f"winkler_{label}": float(np.mean(score)) if bounded.any() else float("inf"),
            f"unbounded_{label}": float(1.0 - bounded.mean())}


def crps_from_intervals(y: np.ndarray, median: np.ndarray, bounds: dict[float, tuple[np.ndarray, np.ndarray]]) -> float:
    """CRPS approximated from the quantiles the intervals imply (level l gives quantiles (1-l)/2 and
    (1+l)/2) and the median: CRPS = 2 * integral of the pinball loss over quantile levels (Gneiting &
    Ranjan 2011) by the midpoint rule (`forecast.crps.level_weights`); over the rows whose intervals are
    bounded. With the median and 80%/95% bounds it reads about 0.89x the exact CRPS of a Gaussian (a
    coarse grid cannot see the far tails); the same for every model, so rankings hold."""
    from forecast.crps import crps_quantiles

    quantiles = [(0.5, median)]
    for level, (lower, upper) in bounds.items():
        quantiles += [((1.0 - level) / 2.0, lower), ((1.0 + level) / 2.0, upper)]
    values = np.stack([f for _, f in quantiles], axis=1)  # [N, Q]
    bounded = np.isfinite(values).all(axis=1)  # rows every quantile bounds
    if not bounded.any():
        return float("nan")
    return float(np.mean(crps_quantiles(y[bounded], values[bounded], [q for q, _ in quantiles])))


def interval_metrics(y: np.ndarray, median: np.ndarray, frame: pd.DataFrame) -> dict[str, float]:
    """Every interval score of the interval columns of `frame` (rows aligned with `y`), plus crps;
    {} when it has none, NaNs when they are empty (a model without intervals stacked with one that has)."""
    levels = interval_levels(frame)
    if not levels:
        return {}
    bounds = {lv: tuple(frame[c].to_numpy(dtype=np.float64) for c in interval_columns(lv)) for lv in levels}
    if any(np.isnan(b).any() for pair in bounds.values() for b in pair):
        names = [f"{k}_{level_label(lv)}" for lv in levels for k in ("coverage", "width", "winkler", "unbounded")]
        return dict.fromkeys([*names, "crps"], float("nan"))
    scores: dict[str, float] = {}
    for level, (lower, upper) in bounds.items():
        scores.update(interval_scores(y, lower, upper, level))
    scores["crps"] = crps_from_intervals(y, median, bounds)
    return scores


def coverage_columns(scores: pd.DataFrame) -> dict[str, float]:
    """{coverage column: nominal level} of the interval levels scored in a scores or leaderboard frame
    (those with a width_<level> beside coverage_<level>), ascending."""
    found = {}
    for column in scores.columns:
        label = str(column).removeprefix("coverage_")
        if label != column and f"width_{label}" in scores.columns:  # quantile pairs (coverage_0.8) have none
            found[column] = float(label) / 100
    return dict(sorted(found.items(), key=lambda kv: kv[1]))
