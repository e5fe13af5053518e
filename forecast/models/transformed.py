"""TransformedTargetForecaster: any forecaster fit on a transformed target (log, differences, returns),
with its forecasts turned back into the data's units.

Models without a `target_transform` parameter of their own (lag regressors, RNN-state pipelines) honour
one through this wrapper, so a Ridge on log returns can leave the training range the way prices do.
The transform and its exact inverse are `forecast.data.transforms`' (the ones RNNForecaster uses):
computed series by series in time order, the inverse accumulating from the target's value at each origin.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.validation import check_is_fitted

from forecast.config import WindowSpec
from forecast.data.panel import check_frame
from forecast.data.transforms import TARGET_TRANSFORMS, inverse_target, transform_target
from forecast.errors import InputError
from forecast.metrics import quantile_columns
from forecast.models.base import Forecaster
from forecast.models.tasks import declared_task


def transform_frame(frame: pd.DataFrame, spec: WindowSpec, kind: str, *, source: str = "frame") -> pd.DataFrame:
    """A copy of `frame` whose target column(s) hold the transformed target (NaN at each series' start
    for differences and returns), computed per series in time order as the panel orders rows."""
    check_frame(frame, spec, source=source)  # the same one-line errors as the unwrapped model
    if kind == "none":
        return frame
    codes = pd.factorize(frame[spec.id_col], sort=True)[0] if spec.id_col else np.zeros(len(frame), np.int64)
    order = np.lexsort((frame.index.asi8, codes))  # [T] rows sorted by (series, time)
    sorted_codes = codes[order]
    offsets = np.concatenate([[0], np.flatnonzero(np.diff(sorted_codes)) + 1, [len(frame)]]).astype(np.int64)
    out = frame.copy()
    for column in spec.targets:
        y = frame[column].to_numpy(dtype=np.float64)
        z = np.empty_like(y)
        z[order] = transform_target(y[order], offsets, kind)
        out[column] = z
    return out


def invert_forecasts(forecasts: pd.DataFrame, frame: pd.DataFrame, spec: WindowSpec, kind: str) -> pd.DataFrame:
    """Turn a forecasts frame of the transformed target back into the data's units.

    Each (series, origin[, target]) group's steps 1..H are inverted together from the target's value at
    the origin in `frame` (differences and returns accumulate over the steps); quantile columns each
    the same way, as RNNForecaster does.
    """
    if kind == "none" or forecasts.empty:
        return forecasts
    keys = [*([spec.id_col] if spec.id_col else []), "origin", *(["target"] if "target" in forecasts else [])]
    levels = _levels(frame, spec, multi="target" in forecasts)
    merged = forecasts.assign(origin=_ns(forecasts["origin"])).merge(
        levels, on=keys, how="left", validate="many_to_one")
    group = merged.groupby(keys, sort=False).ngroup().to_numpy()  # [R] group of each row
    step = merged["step"].to_numpy(dtype=np.int64) - 1  # [R] 0-based step
    n_groups, horizon = int(group.max()) + 1, spec.horizon
    level = np.full(n_groups, np.nan)
    level[group] = merged["_level"].to_numpy(dtype=np.float64)
    out = forecasts.copy()
    columns = ["forecast", *quantile_columns(forecasts)]
    for column in columns:
        z = np.full((n_groups, horizon), np.nan)  # [M, H] transformed forecasts per group
        z[group, step] = merged[column].to_numpy(dtype=np.float64)
        out[column] = inverse_target(z, level, kind)[group, step]
    return out


def _ns(values) -> pd.Series | pd.DatetimeIndex:
    stamps = pd.to_datetime(values)
    return stamps.as_unit("ns") if isinstance(stamps, pd.DatetimeIndex) else stamps.dt.as_unit("ns")


def _levels(frame: pd.DataFrame, spec: WindowSpec, *, multi: bool) -> pd.DataFrame:
    """The target's value at every row, keyed like the forecasts: [id column], origin, [target], _level."""
    base = pd.DataFrame({"origin": _ns(frame.index)})
    if spec.id_col:
        base.insert(0, spec.id_col, frame[spec.id_col].to_numpy())
    parts = [base.assign(**({"target": column} if multi else {}),
                         _level=frame[column].to_numpy(dtype=np.float64))
             for column in (spec.targets if multi else spec.targets[:1])]
    return pd.concat(parts, ignore_index=True)


class TransformedTargetForecaster(Forecaster):
    """Fit `forecaster` on the target transformed by `transform`; forecast in the data's original units.

    forecaster: any value forecaster with fit(frame, spec) / predict(frame, origin=...) (cloned at fit).
    transform: one of forecast.data.transforms.TARGET_TRANSFORMS ("log", "diff", "pct_change",
        "log_return"; "none" passes everything through).
    Direction classifiers are refused: they forecast P(up), which no transform of the target changes.
    """

    _parameter_constraints: dict = {
        "forecaster": [HasMethods(["fit", "predict"])],
        "transform": [StrOptions(set(TARGET_TRANSFORMS))],
    }

    def __init__(self, *, forecaster=None, transform: str = "log_return") -> None:
        self.forecaster = forecaster
        self.transform = transform

    def fit(self, frame: pd.DataFrame, spec: WindowSpec) -> TransformedTargetForecaster:
        """Fit a clone of `forecaster` on `frame` with its target transformed. Returns self."""
        self._validate_params()
        spec = self._check_spec(spec)
        if declared_task(self.forecaster) == "direction":
            raise InputError(f"{type(self.forecaster).__name__} forecasts the direction of the target; "
                             f"a target transform ({self.transform!r}) makes no sense for it")
        transformed = transform_frame(frame, spec, self.transform, source="training frame")
        self.forecaster_ = clone(self.forecaster).fit(transformed, spec)
        self.spec_ = spec
        return self

    def predict(self, frame: pd.DataFrame, *, origin: str | pd.Timestamp = "last") -> pd.DataFrame:
        """The wrapped model's forecasts frame, in the data's units (reads rows up to each origin only)."""
        check_is_fitted(self, "forecaster_")
        transformed = transform_frame(frame, self.spec_, self.transform, source="prediction frame")
        out = self.forecaster_.predict(transformed, origin=origin)
        result = invert_forecasts(out, frame, self.spec_, self.transform)
        result.attrs = dict(out.attrs)
        return result
