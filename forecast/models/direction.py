"""Benchmarks for direction-as-classification: the up-move base rate and persistence of direction.

A direction forecaster (like `RNNForecaster(task="direction")`) forecasts, from origin t, the probability
that the target at t+h is above its value at t; the forecasts frame's `forecast` column holds P(up).
These two benchmarks learn one rate per (step, target) from the training frame and read, from each
origin, only the target at t (and t-1): no look-ahead.

- `AlwaysUp`: calls "up" every time, with P(up) = the share of up moves in training (the base rate),
  or 0.5 when that share is lower (a flat day counts as "not up"; early stock prices have many).
- `PersistDirection`: the last move repeats. P(up) = c after an up move and 1 - c after a down (or flat)
  move, where c is the share of training moves that repeated the previous move's direction. With
  c < 0.5 (daily returns often mean-revert) it therefore calls a reversal.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from forecast.config import WindowSpec
from forecast.data.panel import Panel, build_panel, fit_vocabularies
from forecast.data.windows import Windows, forecast_windows
from forecast.models.base import Forecaster, forecasts_frame


def up_moves(panel: Panel, target_idx: np.ndarray, horizon: int) -> np.ndarray:
    """[R, H, T] 1.0 where y[t+h] > y[t] within the same series, 0.0 where not, NaN where unknown."""
    y = panel.values[:, target_idx].astype(np.float64)  # [R, T]
    rows = np.arange(len(y))
    end = np.repeat(panel.offsets[:-1] + panel.n_observed, panel.lengths)  # [R] first row past the data
    out = np.full((len(y), horizon, y.shape[1]), np.nan)
    for h in range(1, horizon + 1):  # one vectorized pass per step
        ok = rows + h < end
        now, later = y[rows[ok]], y[rows[ok] + h]  # [n_ok, T]
        out[ok, h - 1] = np.where(np.isfinite(now) & np.isfinite(later), (later > now).astype(float), np.nan)
    return out


def last_move_up(panel: Panel, target_idx: np.ndarray) -> np.ndarray:
    """[R, T] 1.0 where y[t] > y[t-1] within the same series, 0.0 where not, NaN where unknown."""
    y = panel.values[:, target_idx].astype(np.float64)  # [R, T]
    local = np.arange(len(y)) - np.repeat(panel.offsets[:-1], panel.lengths)
    out = np.full(y.shape, np.nan)
    rows = np.flatnonzero(local >= 1)
    now, before = y[rows], y[rows - 1]
    out[rows] = np.where(np.isfinite(now) & np.isfinite(before), (now > before).astype(float), np.nan)
    return out


class _DirectionBaseline(Forecaster):
    """fit(frame, spec) learns one rate per (step, target); predict(frame, origin=...) gives P(up).

    Each subclass has one parameter, named by `_fixed`, that fixes the rate instead of learning it.
    """

    task = "direction"  # scored as classification by `forecast.backtest`
    _fixed = ""

    def _panel(self, frame: pd.DataFrame, *, future_steps: int, source: str) -> Panel:
        return build_panel(frame, self.spec_, vocabularies=self.vocabularies_, future_steps=future_steps,
                           source=source)

    def fit(self, frame: pd.DataFrame, spec: WindowSpec) -> _DirectionBaseline:
        """Learn the rate from the training frame (time-indexed; long frames need spec.id_col)."""
        self._validate_params()
        self.spec_ = self._check_spec(spec)
        self.vocabularies_ = fit_vocabularies(frame, spec.categorical)
        panel = self._panel(frame, future_steps=0, source="training frame")
        target_idx = panel.column_index(spec.targets)
        fixed = getattr(self, self._fixed)
        self.rate_ = (np.full((spec.horizon, len(target_idx)), float(fixed)) if fixed is not None
                      else self._learn(panel, target_idx))  # [H, T]
        self.feature_names_in_ = np.asarray(spec.columns, dtype=object)
        self.n_features_in_ = len(spec.columns)
        return self

    def predict(self, frame: pd.DataFrame, *, origin: str | pd.Timestamp = "last") -> pd.DataFrame:
        """Forecasts frame of P(up) from the origins RNNForecaster uses (a full, finite lookback window)."""
        check_is_fitted(self, "rate_")
        spec = self.spec_
        panel = self._panel(frame, future_steps=spec.horizon, source="prediction frame")
        windows, skipped = forecast_windows(panel, spec, origin)
        values = self._probabilities(panel, windows)  # [N, H, T]
        result = forecasts_frame(panel, spec, windows.origins, values)
        result.attrs["skipped"] = skipped
        return result

    def _learn(self, panel: Panel, target_idx: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _probabilities(self, panel: Panel, windows: Windows) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class AlwaysUp(_DirectionBaseline):
    """P(up) = the training share of up moves per step, at least 0.5 (or a fixed `probability`), from
    every origin: the "always up" call, as confident as the training data allow."""

    _parameter_constraints: dict = {"probability": [Interval(Real, 0, 1, closed="both"), None]}
    _fixed = "probability"

    def __init__(self, *, probability: float | None = None) -> None:
        self.probability = probability

    def _learn(self, panel: Panel, target_idx: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            rate = np.nanmean(up_moves(panel, target_idx, self.spec_.horizon), axis=0)  # [H, T]
        return np.where(np.isfinite(rate), np.maximum(rate, 0.5), 0.5)  # never below a coin flip

    def _probabilities(self, panel: Panel, windows: Windows) -> np.ndarray:
        return np.broadcast_to(self.rate_, (len(windows), *self.rate_.shape)).copy()  # [N, H, T]


class PersistDirection(_DirectionBaseline):
    """The last move's direction repeats: P(up) = c after an up move, 1 - c after a down or flat one.

    c is the training share of moves that repeated the previous direction (or a fixed `confidence`).
    """

    _parameter_constraints: dict = {"confidence": [Interval(Real, 0, 1, closed="both"), None]}
    _fixed = "confidence"

    def __init__(self, *, confidence: float | None = None) -> None:
        self.confidence = confidence

    def _learn(self, panel: Panel, target_idx: np.ndarray) -> np.ndarray:
        up = up_moves(panel, target_idx, self.spec_.horizon)  # [R, H, T]
        last = last_move_up(panel, target_idx)[:, None, :]  # [R, 1, T]
        same = np.where(np.isfinite(up) & np.isfinite(last), (up == last).astype(float), np.nan)
        with np.errstate(invalid="ignore"):
            rate = np.nanmean(same, axis=0)  # [H, T]
        return np.where(np.isfinite(rate), rate, 0.5)

    def _probabilities(self, panel: Panel, windows: Windows) -> np.ndarray:
        last = last_move_up(panel, windows.target_idx)[windows.origins][:, None, :]  # [N, 1, T]
        p_up = np.where(last == 1.0, self.rate_, 1.0 - self.rate_)  # [N, H, T]
        return np.where(np.isnan(last), np.nan, p_up)  # no previous move (a series' first row): unknown
