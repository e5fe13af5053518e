"""Transforms fit on training rows only: column scalers (per column or per series) and target
transforms (log, differences, percent and log returns) with an exact inverse for forecasts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecast.errors import InputError

SCALERS = ("standard", "minmax", "robust", "none")
TARGET_TRANSFORMS = ("none", "log", "diff", "pct_change", "log_return")


@dataclass
class ColumnScaler:
    """Affine scaling x -> (x - center) / scale per column, optionally per series.

    `fit` sees the training rows only, so no statistic of validation or test data leaks into training.
    """

    method: str = "standard"
    per_series: bool = False
    center_: np.ndarray | None = field(default=None, repr=False)  # [S or 1, F]
    scale_: np.ndarray | None = field(default=None, repr=False)

    def fit(self, values: np.ndarray, series_of_row: np.ndarray, rows: np.ndarray) -> ColumnScaler:
        """Learn centers and scales from `values[rows]` ([T, F]; rows is a boolean mask)."""
        if self.method not in SCALERS:
            raise InputError(f"scaler {self.method!r} is not one of {SCALERS}")
        frame = pd.DataFrame(values[rows].astype(np.float64))
        groups = series_of_row[rows] if self.per_series else np.zeros(int(rows.sum()), dtype=np.int64)
        grouped = frame.groupby(groups, sort=True)
        n_groups = int(series_of_row.max()) + 1 if self.per_series and len(series_of_row) else 1
        if self.method == "standard":
            center, scale = grouped.mean(), grouped.std(ddof=0)
        elif self.method == "minmax":
            center, scale = grouped.min(), grouped.max() - grouped.min()
        elif self.method == "robust":
            center = grouped.median()
            scale = grouped.quantile(0.75) - grouped.quantile(0.25)
        else:
            center = pd.DataFrame(0.0, index=grouped.size().index, columns=frame.columns)
            scale = pd.DataFrame(1.0, index=center.index, columns=frame.columns)
        # One row per series (rows of series without training data are NaN, then pooled), plus a final
        # pooled row over all training rows for series never seen in training.
        pooled = ColumnScaler(self.method, False).fit(values, series_of_row, rows) if self.per_series else None
        full_center = np.full((n_groups, values.shape[1]), np.nan)
        full_scale = np.full_like(full_center, np.nan)
        full_center[center.index.to_numpy()] = center.to_numpy()
        full_scale[scale.index.to_numpy()] = scale.to_numpy()
        if pooled is not None:
            full_center = np.vstack([full_center, pooled.center_[:1]])
            full_scale = np.vstack([full_scale, pooled.scale_[:1]])
            full_center = np.where(np.isnan(full_center), full_center[-1], full_center)
            full_scale = np.where(np.isnan(full_scale), full_scale[-1], full_scale)
        full_scale = np.where(np.isnan(full_scale) | (full_scale <= 1e-12), 1.0, full_scale)
        self.center_ = np.nan_to_num(full_center).astype(np.float32)
        self.scale_ = full_scale.astype(np.float32)
        return self

    def _stats(self, series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.center_ is None:
            raise RuntimeError("ColumnScaler is not fitted")
        if not self.per_series:  # [1, F]: broadcasts, no [T, F] copies of the statistics
            return self.center_[:1], self.scale_[:1]
        # Series index -1 selects the pooled statistics (a series not seen in training).
        return self.center_[series], self.scale_[series]

    def transform(self, values: np.ndarray, series_of_row: np.ndarray) -> np.ndarray:
        """[T, F] scaled float32 copy of `values`."""
        center, scale = self._stats(np.asarray(series_of_row))
        out = np.subtract(values, center, dtype=np.float32)
        out /= scale
        return out

    def inverse_columns(self, scaled: np.ndarray, series: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """Undo the scaling of `columns` in `scaled` [N, ..., len(columns)], one series index per row N."""
        center, scale = self._stats(np.asarray(series))  # [N or 1, F]
        shape = (len(center),) + (1,) * (scaled.ndim - 2) + (len(columns),)
        return scaled * scale[:, columns].reshape(shape) + center[:, columns].reshape(shape)

    def to_dict(self) -> dict:
        return {"method": self.method, "per_series": self.per_series,
                "center": self.center_.tolist(), "scale": self.scale_.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> ColumnScaler:
        return cls(data["method"], data["per_series"], np.asarray(data["center"], dtype=np.float32),
                   np.asarray(data["scale"], dtype=np.float32))


def transform_target(y: np.ndarray, offsets: np.ndarray, kind: str) -> np.ndarray:
    """Apply a target transform series by series ([T] -> [T]; first row of each series NaN for differences)."""
    if kind not in TARGET_TRANSFORMS:
        raise InputError(f"target transform {kind!r} is not one of {TARGET_TRANSFORMS}")
    y = np.asarray(y, dtype=np.float64)
    if kind == "none":
        return y.copy()
    if kind in ("log", "log_return", "pct_change") and np.nanmin(y) <= 0:
        raise InputError(f"target transform {kind!r} needs positive values; the target has values <= 0")
    if kind == "log":
        return np.log(y)
    prev = np.empty_like(y)
    prev[1:] = y[:-1]
    prev[offsets[:-1]] = np.nan  # no difference across the start of a series
    if kind == "diff":
        return y - prev
    if kind == "pct_change":
        return y / prev - 1.0
    return np.log(y) - np.log(prev)


def inverse_target(z: np.ndarray, level: np.ndarray, kind: str) -> np.ndarray:
    """Turn forecasts of a transformed target back into original units.

    z: [N, H] forecasts of the transformed target for steps 1..H; level: [N] the target's value at each
    origin (needed by differences and returns, which accumulate from it).
    """
    z = np.asarray(z, dtype=np.float64)
    level = np.asarray(level, dtype=np.float64)[:, None]
    if kind == "none":
        return z
    if kind == "log":
        return np.exp(z)
    if kind == "diff":
        return level + np.cumsum(z, axis=1)
    if kind == "pct_change":
        return level * np.cumprod(1.0 + z, axis=1)
    if kind == "log_return":
        return level * np.exp(np.cumsum(z, axis=1))
    raise InputError(f"target transform {kind!r} is not one of {TARGET_TRANSFORMS}")
