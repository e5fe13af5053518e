"""What every forecaster shares: the sklearn estimator contract and the forecasts-frame builder.

A forecasts frame has one row per (series, origin, step[, target]): the series-id column (panels only),
`origin` (time of the last input row), `timestamp` (time of the forecast target), `step` (1..H),
`target` (only when several targets are forecast), `forecast`, and `q0.1`-style quantile columns when
the model gives intervals. The frame builder and the trained-columns contract live in
forecast.models.frames (no scikit-learn there: the ONNX Runtime path imports them) and are re-exported here.
"""

from __future__ import annotations

from sklearn.base import BaseEstimator

from forecast.config import WindowSpec
from forecast.data.windows import select_origins  # noqa: F401  (re-exported: it lived here)
from forecast.errors import InputError
from forecast.models.frames import (  # noqa: F401  (re-exported)
    TrainedColumns,
    bound_probabilities,
    forecasts_frame,
    quantile_column,
    with_bounds,
)

ORIGIN_CHOICES = ("last", "all")


class Forecaster(TrainedColumns, BaseEstimator):
    """Marker base class: fit(frame, spec) -> self, predict(frame, origin=...) -> forecasts frame."""

    def _check_spec(self, spec: WindowSpec) -> WindowSpec:
        if not isinstance(spec, WindowSpec):
            raise InputError(f"spec must be a forecast.WindowSpec, got {type(spec).__name__}")
        return spec
