"""A random walk with the empirical distribution of its past changes: the distributional benchmark.

The forecast of step h from origin t is y_t plus the quantiles of the h-step changes y_s - y_{s-h} that
the series had observed by t (s <= t; the latest `window` of them, or all): no parametric family, no
fitting, and nothing after the origin. A distributional network earns its keep only by beating it on CRPS.
For a target that is already a change (daily log returns), kind="values" gives the same random walk in
the price: the quantiles of the past values themselves, at every step.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.utils._param_validation import Interval, Real, StrOptions

from forecast.data.windows import Windows
from forecast.intervals import check_levels
from forecast.models.base import bound_probabilities, with_bounds
from forecast.models.conformal import DEFAULT_LEVELS
from forecast.models.naive import _NaiveBase
from forecast.models.windowed import series_start

_CHUNK = 2048  # origins per block of the [origins, window] change matrix (bounded memory on long panels)


class EmpiricalRandomWalk(_NaiveBase):
    """y_{t+h} ~ y_t + (an h-step change drawn from the series' own past changes, observed by t).

    levels: nominal levels of the lower_/upper_ columns; quantiles: extra q-columns (e.g. a grid for CRPS).
    window: the latest `window` changes per series and step (None: every change observed so far).
    kind: "changes" (y_t + past h-step changes) or "values" (past values: a return target's random walk).
    `forecast` is the median; origins with fewer than two past changes get NaN.
    """

    _parameter_constraints: dict = {
        "levels": ["array-like", Interval(Real, 0, 1, closed="neither")],
        "quantiles": ["array-like"],
        "window": [Interval(Integral, 2, None, closed="left"), None],
        "kind": [StrOptions({"changes", "values"})],
    }

    def __init__(self, *, levels: Sequence[float] = DEFAULT_LEVELS, quantiles: Sequence[float] = (),
                 window: int | None = None, kind: str = "changes") -> None:
        self.levels = levels
        self.quantiles = quantiles
        self.window = window
        self.kind = kind

    def _fit_panel(self, panel, frame) -> None:
        super()._fit_panel(panel, frame)
        self.levels_ = check_levels(self.levels, "levels")
        self.quantiles_ = check_levels(self.quantiles, "quantiles") if len(self.quantiles) else ()

    def _probabilities(self) -> list[float]:
        return bound_probabilities(self.levels_, self.quantiles_)

    def _predict_windows(self, windows: Windows) -> np.ndarray:
        """[N, H, T, K] origin value plus the change quantiles at `_probabilities()`."""
        y = self._target(windows)  # [R, T]
        origins = windows.origins  # [N] global rows
        start = series_start(windows.panel, origins)  # [N]
        probs = self._probabilities()
        out = np.full((len(origins), self.spec_.horizon, y.shape[1], len(probs)), np.nan)
        width = self.window or int(np.max(origins - start, initial=0)) + 1  # changes that can be known
        values = self.kind == "values"
        for h in range(1, self.spec_.horizon + 1):
            change = np.full_like(y, np.nan)
            change[h:] = y[h:] - y[:-h]  # [R, T] change ending at row r (crosses series starts: masked below)
            if values:
                change = y  # the past values themselves, from the series' first row
            padded = np.concatenate([np.full((width - 1, y.shape[1]), np.nan), change])  # [W-1+R, T]
            for lo in range(0, len(origins), _CHUNK):
                o = origins[lo:lo + _CHUNK]
                rows = o[:, None] - np.arange(width)[::-1][None, :]  # [n, W] the rows ending at or before o
                block = sliding_window_view(padded, width, axis=0)[o]  # [n, T, W], rows o-W+1 .. o
                own = rows >= (start[lo:lo + _CHUNK] + (0 if values else h))[:, None]  # [n, W] this series' rows
                block = np.where(own[:, None, :], block, np.nan)
                enough = (np.isfinite(block).sum(axis=-1) >= 2)[..., None]  # [n, T, 1]
                with np.errstate(all="ignore"):
                    q = np.moveaxis(np.nanquantile(block, probs, axis=-1), 0, -1)  # [n, T, K]
                base = 0.0 if values else y[o][:, :, None]  # [n, T, 1] the origin's value for a walk
                out[lo:lo + _CHUNK, h - 1] = np.where(enough, base + q, np.nan)
        return out

    def _extra_values(self) -> tuple[int, ...]:
        return (len(self._probabilities()),)

    def _add_columns(self, result, values: np.ndarray):
        """lower_/upper_ columns at `levels` and q-columns at `quantiles` ([N, H, T, K] values)."""
        return with_bounds(result, values.reshape(len(result), -1), self.levels_, self.quantiles_)

    def _artifact_state(self) -> tuple[dict, dict]:
        metadata, tensors = super()._artifact_state()
        metadata["params"] = {**metadata["params"], "levels": list(self.levels_), "quantiles": list(self.quantiles_)}
        return metadata, tensors

    def _restore_common(self, metadata: dict) -> None:
        super()._restore_common(metadata)
        self.levels_ = check_levels(self.levels, "levels")
        self.quantiles_ = check_levels(self.quantiles, "quantiles") if len(self.quantiles) else ()
