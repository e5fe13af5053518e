"""Forecasts frames and the trained-columns contract, without scikit-learn or torch.

A forecasts frame has one row per (series, origin, step[, target]): the series-id column (panels only),
`origin` (time of the last input row), `timestamp` (time of the forecast target), `step` (1..H),
`target` (only when several targets are forecast), `forecast`, and `q0.1`-style quantile columns when
the model gives intervals. `TrainedColumns` is what every saved forecaster records about the columns it
was trained on and checks on prediction; it lives here, apart from the estimator base class, so that the
ONNX Runtime path (forecast.models.onnx_runtime) loads without importing scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecast.config import WindowSpec
from forecast.data.panel import Panel
from forecast.errors import InputError
from forecast.intervals import interval_columns


def quantile_column(q: float) -> str:
    """Column name of quantile q in a forecasts frame, e.g. 0.1 -> 'q0.1'."""
    return f"q{q:g}"


def forecasts_frame(
    panel: Panel,
    spec: WindowSpec,
    origins: np.ndarray,
    values: np.ndarray,
    *,
    quantiles: Sequence[float] = (),
    point_index: int | None = None,
) -> pd.DataFrame:
    """Build the forecasts frame from predictions `values` [N, H, T] or [N, H, T, Q] at global `origins`.

    With quantiles, `forecast` is the median column (point_index) or the middle quantile.
    """
    n, horizon = len(origins), spec.horizon
    n_targets = len(spec.targets)
    if values.ndim == 3:
        values = values[..., None]  # [N, H, T] -> [N, H, T, 1]
    rows = origins[:, None] + np.arange(1, horizon + 1)[None, :]  # [N, H] global rows of the targets
    series_idx = np.searchsorted(panel.offsets, origins, side="right") - 1  # [N]
    data: dict[str, np.ndarray | pd.Index] = {}
    reps = horizon * n_targets
    if spec.id_col:
        data[spec.id_col] = np.repeat(np.asarray(panel.series, dtype=object)[series_idx], reps)
    data["origin"] = panel.timestamps(np.repeat(origins, reps))
    data["timestamp"] = panel.timestamps(np.repeat(rows.ravel(), n_targets))
    data["step"] = np.tile(np.repeat(np.arange(1, horizon + 1), n_targets), n)
    if n_targets > 1:
        data["target"] = np.tile(np.asarray(spec.targets, dtype=object), n * horizon)
    flat = values.reshape(n * horizon * n_targets, values.shape[-1]).astype(np.float64)  # [N*H*T, Q]
    if quantiles:
        mid = point_index if point_index is not None else len(quantiles) // 2
        data["forecast"] = flat[:, mid]
        for k, q in enumerate(quantiles):
            data[quantile_column(q)] = flat[:, k]
    else:
        data["forecast"] = flat[:, 0]
    return pd.DataFrame(data)


def bound_probabilities(levels: Sequence[float], quantiles: Sequence[float] = ()) -> list[float]:
    """The quantile levels [K] a distributional forecaster computes for `with_bounds`: the median, the
    lower bound of each interval level, their upper bounds, then `quantiles`."""
    return [0.5, *[(1.0 - lv) / 2.0 for lv in levels], *[(1.0 + lv) / 2.0 for lv in levels], *quantiles]


def with_bounds(frame: pd.DataFrame, values: np.ndarray, levels: Sequence[float],
                quantiles: Sequence[float] = ()) -> pd.DataFrame:
    """`frame` with lower_/upper_ columns per level and q-columns from `values` [rows, K], the quantiles at
    `bound_probabilities(levels, quantiles)` in the frame's row order (its `forecast` is left as it is)."""
    n = len(levels)
    for k, level in enumerate(levels):
        lower, upper = interval_columns(level)
        frame[lower], frame[upper] = values[:, 1 + k], values[:, 1 + n + k]
    for k, q in enumerate(quantiles):
        frame[quantile_column(q)] = values[:, 1 + 2 * n + k]
    return frame


class TrainedColumns:
    """Spec, vocabularies, series ids, columns and dtypes of a trained forecaster: stored, restored, checked."""

    def _common_metadata(self) -> dict:
        """Spec, vocabularies, series ids, columns and dtypes, as stored in model.json."""
        return {
            "spec": self.spec_.to_dict(),
            "vocabularies": self.vocabularies_,
            "series_ids": [None if s is None else str(s) for s in self.series_ids_],
            "columns": list(self.feature_names_in_),
            "dtypes": self.dtypes_,
        }

    def _restore_common(self, metadata: dict) -> None:
        """Inverse of `_common_metadata`."""
        self.spec_ = WindowSpec.from_dict(metadata["spec"])
        self.vocabularies_ = metadata["vocabularies"]
        self.series_ids_ = metadata["series_ids"]
        self.feature_names_in_ = np.asarray(metadata["columns"], dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        self.dtypes_ = metadata["dtypes"]

    def check_columns(self, frame: pd.DataFrame, source: str = "frame") -> None:
        """Fail with the list of differences if `frame` lacks columns the model was trained on, or holds
        text where the model read numbers (extra columns are ignored)."""
        needed = list(self.feature_names_in_) + ([self.spec_.id_col] if self.spec_.id_col else [])
        missing = [c for c in needed if c not in frame.columns]
        changed = [
            f"{c} ({self.dtypes_[c]} -> {frame[c].dtype})"
            for c in self.spec_.numeric_inputs
            if c in frame.columns and c in self.dtypes_
            and pd.api.types.is_numeric_dtype(frame[c]) != _numeric_dtype_name(self.dtypes_[c])
        ]
        if missing or changed:
            parts = ([f"missing column(s) {missing}"] if missing else []) + (
                [f"column(s) changed type: {', '.join(changed)}"] if changed else [])
            raise InputError(
                f"{source}: the columns differ from training: {'; '.join(parts)}; "
                f"the model was trained on {needed}, the frame has {list(frame.columns)}"
            )


def _numeric_dtype_name(name: str) -> bool:
    """Whether a dtype recorded by name in an artifact is numeric."""
    try:
        return pd.api.types.is_numeric_dtype(pd.api.types.pandas_dtype(name))
    except TypeError:
        return False
