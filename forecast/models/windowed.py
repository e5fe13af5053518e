"""The shared fit/predict plumbing of forecasters that read the same windows as RNNForecaster.

Baselines, lag-feature models and state-feature pipelines build their panel and windows with
`forecast.data.panel` / `forecast.data.windows`, so they forecast from exactly the origins the RNN
forecasts from, and return the same forecasts frame (`forecast.models.base.forecasts_frame`).
A subclass implements `_fit_panel(panel, frame)` and `_predict_windows(windows) -> [N, H, T]`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from forecast.config import WindowSpec
from forecast.data.panel import Panel, build_panel, fit_vocabularies
from forecast.data.windows import Windows, forecast_windows, make_windows
from forecast.errors import InputError
from forecast.models.base import Forecaster, forecasts_frame


class WindowedForecaster(Forecaster):
    """Base class: fit(frame, spec) -> self; predict(frame, origin=...) -> forecasts frame.

    Subclasses set learned state in `_fit_panel` and compute forecasts in original units in
    `_predict_windows`; everything else (column checks, origins, the frame schema, skipped series)
    lives here once.
    """

    _parameter_constraints: dict = {}

    def _fit_panel(self, panel: Panel, frame: pd.DataFrame) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _predict_windows(self, windows: Windows) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def fit(self, frame: pd.DataFrame, spec: WindowSpec) -> WindowedForecaster:
        """Learn from `frame` (time-indexed; long frames need spec.id_col). Returns self."""
        self._validate_params()
        spec = self._check_spec(spec)
        self.spec_ = spec
        self.vocabularies_ = fit_vocabularies(frame, spec.categorical)
        self.series_ids_ = (
            [str(s) for s in pd.factorize(frame[spec.id_col], sort=True)[1]]
            if spec.id_col and spec.id_col in frame.columns else [None]
        )
        panel = build_panel(frame, spec, vocabularies=self.vocabularies_, source="training frame")
        self.feature_names_in_ = np.asarray(spec.columns, dtype=object)
        self.n_features_in_ = len(spec.columns)
        self.dtypes_ = {c: str(frame[c].dtype) for c in spec.columns}
        self._fit_panel(panel, frame)
        self.is_fitted_ = True
        return self

    def training_windows(self, panel: Panel) -> Windows:
        """Windows with finite inputs and targets inside `panel` (what lag models learn from)."""
        windows = make_windows(panel, self.spec_)
        if len(windows) == 0:
            spec = self.spec_
            raise InputError(
                f"training frame: no complete window; every series is shorter than lookback + horizon "
                f"({spec.lookback} + {spec.horizon}) or has missing values in each window"
            )
        return windows

    def predict(self, frame: pd.DataFrame, *, origin: str | pd.Timestamp = "last") -> pd.DataFrame:
        """Forecasts frame for `frame`: from each series' last row ('last'), every origin ('all'), or a date.

        The origins are RNNForecaster's: every row with a full, finite lookback window. A forecast from
        origin t reads rows up to t only (known-future covariates also at t+1..t+H). Series without
        a usable last window are listed in `result.attrs["skipped"]`.
        """
        check_is_fitted(self, "is_fitted_")
        spec = self.spec_
        self.check_columns(frame, "prediction frame")
        panel = build_panel(frame, spec, vocabularies=self.vocabularies_, future_steps=spec.horizon,
                            source="prediction frame")
        windows, skipped = forecast_windows(panel, spec, origin)
        if len(windows):
            values = self._predict_windows(windows)  # [N, H, T] original units
        else:
            values = np.zeros((0, spec.horizon, len(spec.targets), *self._extra_values()))
        result = self._add_columns(forecasts_frame(panel, spec, windows.origins, values), values)
        result.attrs["skipped"] = skipped
        return result

    def _extra_values(self) -> tuple[int, ...]:
        """Trailing shape of `_predict_windows`' values beyond [N, H, T]: () for one value per forecast."""
        return ()

    def _add_columns(self, result: pd.DataFrame, values: np.ndarray) -> pd.DataFrame:
        """Columns beyond `forecast` from `_predict_windows`' values (e.g. [N, H, T, K] quantiles); none here."""
        return result

    def save(self, path) -> None:
        """Write the model to folder `path` (safetensors + JSON, no pickle) where its type allows it."""
        from forecast.artifacts import save_model

        save_model(self, path)

    def _restore_common(self, metadata: dict) -> None:
        super()._restore_common(metadata)
        self.is_fitted_ = True


def series_start(panel: Panel, rows: np.ndarray) -> np.ndarray:
    """[N] first global row of the series that each global row in `rows` belongs to."""
    return panel.offsets[np.searchsorted(panel.offsets, rows, side="right") - 1]
