"""The naive family: persistence, seasonal naive, drift, moving average and historical mean.

These are the benchmarks an RNN must beat. They learn nothing but the spec (and the season) at fit
time; a forecast from origin t reads target values at rows <= t of its own series only. All of them
forecast every origin at once with array operations (prefix sums, fancy indexing), no per-origin loop.
Forecasts are NaN where a model needs history before the start of the series (e.g. seasonal naive
from an origin less than one season into the series) or where that history is missing.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval

from forecast.data.panel import Panel, infer_step
from forecast.data.windows import Windows
from forecast.errors import InputError
from forecast.models.windowed import WindowedForecaster, series_start

_HOUR = np.timedelta64(1, "h")
_DAY = np.timedelta64(1, "D")


def infer_season(times: np.ndarray, offsets: np.ndarray) -> int:
    """Season length in steps from the series' time step.

    Rule: trading days (weekdays with gaps) -> 5 (a week); a step that divides a day -> steps per day
    (hourly 24, 30-minute 48, 3-hourly 8); daily -> 7; weekly -> 52; monthly (28-31 days) -> 12;
    quarterly (89-92 days) -> 4. Anything else raises: pass `season=` explicitly.
    """
    kind, step = infer_step(times, offsets)
    if kind == "business":
        return 5
    if np.timedelta64(0, "ns") < step < _DAY and _DAY % step == np.timedelta64(0, "ns"):
        return int(_DAY // step)
    days = step / _DAY
    if days == 1:
        return 7
    if days == 7:
        return 52
    if 28 <= days <= 31:
        return 12
    if 89 <= days <= 92:
        return 4
    raise InputError(
        f"cannot infer a season from a time step of {pd.Timedelta(step)}; pass season= (steps per cycle)"
    )


class _NaiveBase(WindowedForecaster):
    """Shared by the naive family: the target columns of the panel as float64 [R, T]."""

    def _fit_panel(self, panel: Panel, frame: pd.DataFrame) -> None:
        self.n_series_ = panel.n_series

    def _target(self, windows: Windows) -> np.ndarray:
        return windows.panel.values[:, windows.target_idx].astype(np.float64)  # [R, T]

    def _repeat(self, level: np.ndarray) -> np.ndarray:
        """[N, T] -> [N, H, T]: the same value for every step."""
        return np.repeat(level[:, None, :], self.spec_.horizon, axis=1)

    def _artifact_state(self) -> tuple[dict, dict]:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "is_fitted_")
        extra = {k: getattr(self, k) for k in ("season_",) if hasattr(self, k)}
        return {"params": self.get_params(), **self._common_metadata(), "fitted": extra}, {}

    @classmethod
    def _from_artifact(cls, metadata: dict, tensors: dict) -> _NaiveBase:
        model = cls(**metadata["params"])
        model._restore_common(metadata)
        for key, value in metadata.get("fitted", {}).items():
            setattr(model, key, value)
        return model


class Naive(_NaiveBase):
    """Persistence: every step forecasts the last observed value, y_{t+h} = y_t."""

    def __init__(self) -> None:
        pass

    def _predict_windows(self, windows: Windows) -> np.ndarray:
        return self._repeat(self._target(windows)[windows.origins])  # [N, T] -> [N, H, T]


class SeasonalNaive(_NaiveBase):
    """Seasonal naive: y_{t+h} = y_{t+h-m*k}, k = ceil(h/m), the same point in the last observed season.

    season: m in steps; None infers it from the time step at fit time (see `infer_season`).
    """

    _parameter_constraints: dict = {"season": [Interval(Integral, 1, None, closed="left"), None]}

    def __init__(self, *, season: int | None = None) -> None:
        self.season = season

    def _fit_panel(self, panel: Panel, frame: pd.DataFrame) -> None:
        super()._fit_panel(panel, frame)
        self.season_ = int(self.season) if self.season is not None else infer_season(panel.times, panel.offsets)

    def _predict_windows(self, windows: Windows) -> np.ndarray:
        y, o, m = self._target(windows), windows.origins, self.season_
        h = np.arange(1, self.spec_.horizon + 1)  # [H]
        back = m * -(-h // m)  # m * ceil(h / m): whole seasons back, >= h
        rows = o[:, None] + (h - back)[None, :]  # [N, H] rows <= origin
        inside = rows >= series_start(windows.panel, o)[:, None]
        out = y[np.where(inside, rows, 0)]  # [N, H, T]
        out[~inside] = np.nan
        return out


class Drift(_NaiveBase):
    """Drift: the line through the first and last observed values, y_{t+h} = y_t + h (y_t - y_s) / (t - s).

    window: None draws the line from the series' first finite value (the textbook random walk with
    drift, Hyndman & Athanasopoulos 5.2); an integer w from row t-w+1 (a local trend).
    """

    _parameter_constraints: dict = {"window": [Interval(Integral, 2, None, closed="left"), None]}

    def __init__(self, *, window: int | None = None) -> None:
        self.window = window

    def _predict_windows(self, windows: Windows) -> np.ndarray:
        y, o, panel = self._target(windows), windows.origins, windows.panel
        start = series_start(panel, o)  # [N]
        if self.window is None:
            rows = np.arange(len(y))[:, None]
            finite_at = np.where(np.isfinite(y), rows, len(y))  # [R, T] row of finite values, else R
            first = np.minimum.reduceat(finite_at, panel.offsets[:-1], axis=0)  # [S, T] first finite row
            s = first[np.searchsorted(panel.offsets, o, side="right") - 1]  # [N, T]
            s = np.minimum(s, o[:, None])
        else:
            s = np.repeat(np.maximum(start, o - self.window + 1)[:, None], y.shape[1], axis=1)  # [N, T]
        cols = np.arange(y.shape[1])[None, :]
        span = (o[:, None] - s).astype(np.float64)  # [N, T]
        slope = np.divide(y[o] - y[s, cols], span, out=np.zeros_like(span), where=span > 0)
        h = np.arange(1, self.spec_.horizon + 1, dtype=np.float64)
        return y[o][:, None, :] + h[None, :, None] * slope[:, None, :]  # [N, 1, T] + [1, H, 1]*[N, 1, T]


def _window_means(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """[N, T] mean of the finite values of y [R, T] over rows lo..hi (inclusive), by prefix sums."""
    finite = np.isfinite(y)
    total = np.concatenate([np.zeros((1, y.shape[1])), np.cumsum(np.where(finite, y, 0.0), axis=0)])
    count = np.concatenate([np.zeros((1, y.shape[1])), np.cumsum(finite, axis=0)])
    n = count[hi + 1] - count[lo]
    return np.divide(total[hi + 1] - total[lo], n, out=np.full(n.shape, np.nan), where=n > 0)


class MovingAverage(_NaiveBase):
    """Moving average: every step forecasts the mean of the last `window` values (None: the lookback)."""

    _parameter_constraints: dict = {"window": [Interval(Integral, 1, None, closed="left"), None]}

    def __init__(self, *, window: int | None = None) -> None:
        self.window = window

    def _predict_windows(self, windows: Windows) -> np.ndarray:
        o = windows.origins
        w = self.window or self.spec_.lookback
        lo = np.maximum(series_start(windows.panel, o), o - w + 1)
        return self._repeat(_window_means(self._target(windows), lo, o))


class HistoricalMean(_NaiveBase):
    """Historical mean: every step forecasts the mean of all values of the series up to the origin."""

    def __init__(self) -> None:
        pass

    def _predict_windows(self, windows: Windows) -> np.ndarray:
        o = windows.origins
        return self._repeat(_window_means(self._target(windows), series_start(windows.panel, o), o))
