"""ConformalForecaster: prediction intervals for any value forecaster from its own out-of-sample errors.

Like Darts' ConformalNaiveModel and statsforecast's ConformalIntervals, it wraps a forecaster instead of
changing it, so every registered model gets intervals through this one mechanism
(`registry.build(name, intervals=(0.8, 0.95))`). fit holds back the last `calibration_size` of the time
steps, fits a clone on the rows before them and keeps the absolute errors of its forecasts whose origins
lie at or after that clone's last training row (out of sample), per (series, target, step); with `refit`
(the default) it then fits the forecaster on every row, so its point forecasts are the unwrapped model's.
predict adds the errors of the final model at origins after its own training rows that the frame given
to predict can score (a backtest walking forward), and widens each forecast from origin t by the
conformal quantile of the errors whose targets lie at or before t: never a later one.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils._param_validation import HasMethods, Interval, RealNotInt, StrOptions
from sklearn.utils.validation import check_is_fitted

from forecast.config import WindowSpec
from forecast.conformal import DEFAULT_ACI_RATE, METHODS, aci_radii, expanding_radii, nested
from forecast.data.panel import check_frame
from forecast.errors import InputError
from forecast.intervals import check_levels, interval_columns, interval_levels
from forecast.metrics import long_actuals
from forecast.models.base import Forecaster
from forecast.models.tasks import declared_task

DEFAULT_LEVELS = (0.8, 0.95)
DEFAULT_CALIBRATION = 0.2
"""Share of the training time steps held back to calibrate (their errors are the first residuals)."""


def _ns(values) -> np.ndarray:
    """Timestamps as int64 nanoseconds (UTC for zoned data), comparable across frames."""
    stamps = pd.DatetimeIndex(pd.to_datetime(values)).as_unit("ns")
    return stamps.asi8


class ConformalForecaster(Forecaster):
    """Split-conformal prediction intervals around `forecaster`'s forecasts: `lower_80`, `upper_80`, ...

    forecaster: any value forecaster with fit(frame, spec) / predict(frame, origin=...) (cloned at fit).
    levels: nominal coverage levels in (0, 1). predict(..., intervals=...) may ask for others.
    method: "split" (the conformal quantile of all errors known at the origin, with the (n+1) correction)
        or "aci" (adaptive conformal inference: the level moves with the misses of earlier intervals, for
        error scales that drift). aci_rate: ACI's step size.
    calibration_size: fraction (or number) of the training time steps held back for the first errors.
    refit: fit the forecaster again on every training row after calibrating (its point forecasts are then
        the unwrapped model's); False keeps the model fit without the calibration rows.
    window: calibrate on the latest `window` errors of each series and step only (Darts' cal_length);
        None: on every error known at the origin.
    Intervals are forecast -/+ radius, so they never cross and contain the forecast; each step has its own
    errors, so they widen with the horizon as far as the errors do. A series or step without enough
    errors for a level gets infinite bounds rather than a falsely narrow interval.
    """

    _parameter_constraints: dict = {
        "forecaster": [HasMethods(["fit", "predict"])],
        "levels": ["array-like", Interval(Real, 0, 1, closed="neither")],
        "method": [StrOptions(set(METHODS))],
        "aci_rate": [Interval(Real, 0, 1, closed="neither")],
        "calibration_size": [Interval(RealNotInt, 0, 1, closed="neither"), Interval(Integral, 1, None, closed="left")],
        "refit": ["boolean"],
        "window": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, *, forecaster=None, levels: Sequence[float] | float = DEFAULT_LEVELS, method: str = "split",
                 aci_rate: float = DEFAULT_ACI_RATE, calibration_size: float | int = DEFAULT_CALIBRATION,
                 refit: bool = True, window: int | None = None) -> None:
        self.forecaster = forecaster
        self.levels = levels
        self.method = method
        self.aci_rate = aci_rate
        self.calibration_size = calibration_size
        self.refit = refit
        self.window = window

    def fit(self, frame: pd.DataFrame, spec: WindowSpec) -> ConformalForecaster:
        """Calibrate on the last `calibration_size` of `frame`'s time steps, then (refit) fit on all. Returns self."""
        self._validate_params()
        spec = self._check_spec(spec)
        self.levels_ = check_levels(self.levels, "levels")
        if declared_task(self.forecaster) == "direction":
            raise InputError(f"{type(self.forecaster).__name__} forecasts the direction of the target (P(up)); "
                             "conformal intervals are for value forecasts")
        check_frame(frame, spec, source="training frame")
        times = frame.index.unique().sort_values()
        n_cal = (int(len(times) * self.calibration_size) if isinstance(self.calibration_size, float)
                 else int(self.calibration_size))
        if not spec.horizon <= n_cal < len(times):
            raise InputError(f"calibration_size={self.calibration_size!r} holds back {n_cal} of {len(times)} time "
                             f"steps; it must hold back at least the horizon ({spec.horizon}) and leave rows to fit")
        early = frame[frame.index < times[-n_cal]]
        calibrator = clone(self.forecaster).fit(early, spec)
        self.spec_ = spec
        self.residuals_ = self._residuals(calibrator, frame, early.index.max())
        if self.residuals_.empty:
            raise InputError(f"no calibration forecast could be scored in the last {n_cal} time steps; "
                             "use a larger calibration_size or a shorter lookback/horizon")
        self.forecaster_ = clone(self.forecaster).fit(frame, spec) if self.refit else calibrator
        self.train_end_ = frame.index.max() if self.refit else early.index.max()
        return self

    def predict(self, frame: pd.DataFrame, *, origin: str | pd.Timestamp = "last",
                intervals: Sequence[float] | float | None = None, future: pd.DataFrame | None = None) -> pd.DataFrame:
        """The forecaster's forecasts frame plus lower_<level> / upper_<level> columns for each level of
        `intervals` (default: the fitted `levels`). Reads rows up to each origin only. future: the
        known-future values after the data, for a forecaster that reads them (its errors are computed
        where the frame holds them)."""
        check_is_fitted(self, "forecaster_")
        levels = np.asarray(self.levels_ if intervals is None else check_levels(intervals), dtype=np.float64)
        out = self.forecaster_.predict(frame, origin=origin, **({"future": future} if future is not None else {}))
        # a distributional model's own bounds are replaced, never mixed with calibrated ones
        out = out.drop(columns=[c for level in interval_levels(out) for c in interval_columns(level)])
        pool = self.residuals_
        if frame.index.max() > self.train_end_:  # errors the final model made since its training rows
            online = self._residuals(self.forecaster_, frame, self.train_end_)
            pool = pd.concat([pool, online], ignore_index=True)
        radii = self._radii(out, pool, levels)  # [R, L]
        result = out.copy()
        point = out["forecast"].to_numpy(dtype=np.float64)
        for k, level in enumerate(levels):
            lower, upper = interval_columns(level)
            result[lower], result[upper] = point - radii[:, k], point + radii[:, k]
        result.attrs = dict(out.attrs)
        return result

    def check_columns(self, frame: pd.DataFrame, source: str = "frame") -> None:
        """The wrapped model's column check (see `Forecaster.check_columns`)."""
        check_is_fitted(self, "forecaster_")
        self.forecaster_.check_columns(frame, source)

    # -- artifacts: the wrapped model's own state under "forecaster", the calibration errors as tensors ------
    def save(self, path) -> None:
        """Write the calibrated model to folder `path` (safetensors + JSON, no pickle); the wrapped
        forecaster must be saveable itself."""
        from forecast.artifacts import save_model

        save_model(self, path)

    def _artifact_state(self) -> tuple[dict, dict]:
        import torch

        check_is_fitted(self, "forecaster_")
        if not hasattr(self.forecaster_, "_artifact_state"):
            raise InputError(f"{type(self.forecaster_).__name__} cannot be saved, so neither can its intervals")
        inner, inner_tensors = self.forecaster_._artifact_state()
        errors = self.residuals_
        text = [c for c in self._keys() if c != "step"]  # series id and target, stored as JSON text
        params = {k: v for k, v in self.get_params(deep=False).items() if k != "forecaster"}
        metadata = {"params": {**params, "levels": list(self.levels_)},
                    "train_end": self.train_end_.isoformat(),
                    "forecaster": {"class": type(self.forecaster_).__name__, **inner},
                    "residual_keys": {c: [str(v) for v in errors[c]] for c in text}}
        tensors = {f"forecaster.{k}": v for k, v in inner_tensors.items()}
        tensors |= {f"residuals.{c}": torch.from_numpy(errors[c].to_numpy().copy())
                    for c in ("step", "origin", "target_time", "score")}
        return metadata, tensors

    @classmethod
    def _from_artifact(cls, metadata: dict, tensors: dict) -> ConformalForecaster:
        from forecast.models.registry import loadable_classes

        inner_meta = metadata["forecaster"]
        loadable = loadable_classes()
        if inner_meta["class"] not in loadable or loadable[inner_meta["class"]] is cls:
            raise InputError(f"unknown wrapped model class {inner_meta['class']!r}; known: {sorted(loadable)}")
        inner = loadable[inner_meta["class"]]._from_artifact(
            inner_meta, {k.removeprefix("forecaster."): v for k, v in tensors.items() if k.startswith("forecaster.")})
        model = cls(forecaster=inner, **metadata["params"])
        model.levels_ = check_levels(model.levels, "levels")
        model.spec_ = inner.spec_
        model.train_end_ = pd.Timestamp(metadata["train_end"])
        model.forecaster_ = inner
        errors = {c: tensors[f"residuals.{c}"].numpy() for c in ("step", "origin", "target_time", "score")}
        model.residuals_ = pd.DataFrame({**metadata["residual_keys"], **errors})[[*model._keys(), "origin",
                                                                                  "target_time", "score"]]
        return model

    # -- calibration errors ----------------------------------------------------------------------------------
    def _keys(self) -> list[str]:
        return [*([self.spec_.id_col] if self.spec_.id_col else []), "target", "step"]

    def _with_target(self, forecasts: pd.DataFrame) -> pd.DataFrame:
        return forecasts if "target" in forecasts else forecasts.assign(target=self.spec_.targets[0])

    def _residuals(self, model, frame: pd.DataFrame, since: pd.Timestamp) -> pd.DataFrame:
        """|actual - forecast| of `model`'s forecasts from origins at or after `since` (its last training
        row: out of sample) whose targets `frame` holds: [id], target, step, origin, target_time, score
        (times as int64 ns)."""
        spec = self.spec_
        forecasts = self._with_target(model.predict(frame, origin="all"))
        forecasts = forecasts[_ns(forecasts["origin"]) >= _ns([since])[0]]
        actual = long_actuals(frame, list(spec.targets), spec.id_col)
        keys = [*([spec.id_col] if spec.id_col else []), "target"]
        joined = forecasts.assign(timestamp=_ns(forecasts["timestamp"])).merge(
            actual.assign(timestamp=_ns(actual["timestamp"])), on=[*keys, "timestamp"], how="inner")
        joined = joined[np.isfinite(joined["actual"]) & np.isfinite(joined["forecast"].astype(float))]
        return pd.DataFrame({
            **{k: joined[k].to_numpy() for k in keys},
            "step": joined["step"].to_numpy(dtype=np.int64),
            "origin": _ns(joined["origin"]),
            "target_time": joined["timestamp"].to_numpy(dtype=np.int64),
            "score": np.abs(joined["actual"].to_numpy(dtype=np.float64) - joined["forecast"].to_numpy(dtype=np.float64)),
        })

    def _radii(self, forecasts: pd.DataFrame, pool: pd.DataFrame, levels: np.ndarray) -> np.ndarray:
        """[R, L] interval radii of the forecast rows, one (series, target, step) group at a time."""
        keys = self._keys()
        text = {k: str for k in keys if k != "step"}  # ids compared as text: a saved model stores them so
        rows = self._with_target(forecasts).astype(text)
        pool = pool.astype(text)
        origins = _ns(rows["origin"])
        radii = np.full((len(rows), len(levels)), np.inf)
        pool = pool.drop_duplicates([*keys, "origin"], keep="first")
        groups = pool.groupby(keys, sort=False).indices
        t, o, s = (pool[c].to_numpy() for c in ("target_time", "origin", "score"))
        for key, where in rows.groupby(keys, sort=False).indices.items():
            idx = groups.get(key)
            if idx is None:
                continue
            if self.method == "split":
                found = expanding_radii(t[idx], s[idx], origins[where], levels, self.window)
            else:
                found = aci_radii(t[idx], o[idx], s[idx], origins[where], levels, self.aci_rate, self.window)
            radii[where] = nested(found, levels)
        return radii
