"""Lag-feature models: any scikit-learn regressor on the flattened lookback window plus covariates.

The feature row of origin t is built from the same windows the RNN reads:
    inputs t-L+1..t   [L, F_in] flattened time-major (step 0's columns, then step 1's, ...)
    known future      [H, K] known-future covariates and calendar encodings at t+1..t+H, flattened
    categories        one-hot codes of each categorical column at t
and the target row is the next H values of every target, [H*T] (direct multi-output: one model
output per step and target). Scaling is a StandardScaler inside the sklearn Pipeline, fit on the
training windows only.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pandas as pd
import torch
from sklearn.base import clone
from sklearn.multioutput import MultiOutputRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted

from forecast.data.panel import Panel
from forecast.data.windows import Windows
from forecast.errors import InputError
from forecast.models.windowed import WindowedForecaster

# Linear models whose fitted state is coef_ + intercept_, so artifacts can store them without pickle.
LINEAR_MODELS = ("Ridge", "LinearRegression", "Lasso", "ElasticNet")


def lag_features(windows: Windows, category_sizes: tuple[int, ...] = ()) -> np.ndarray:
    """[N, L*F_in + H*K + sum(sizes+1)] float32 feature rows of `windows` (see the module docstring)."""
    idx = np.arange(len(windows))
    n = len(idx)
    parts = [windows.inputs(idx).reshape(n, -1)]  # [N, L, F_in] -> [N, L*F_in]
    if windows.n_future:
        parts.append(windows.future(idx).reshape(n, -1))  # [N, H, K] -> [N, H*K]
    if category_sizes:
        last = windows.codes(idx)[:, -1, :]  # [N, L, C] -> [N, C] codes at the origin
        for k, size in enumerate(category_sizes):
            parts.append(np.eye(size + 1, dtype=np.float32)[last[:, k]])  # [N, size+1] one-hot
    return np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]


def native_multi_output(estimator) -> bool:
    """Whether the estimator fits a 2-D y itself (Ridge, random forests) rather than needing a wrapper."""
    try:
        return bool(estimator.__sklearn_tags__().target_tags.multi_output)
    except AttributeError:
        return False


class LagRegressor(WindowedForecaster):
    """A scikit-learn regressor on lag features, forecasting all H steps at once (direct multi-output).

    estimator: any sklearn regressor; None means Ridge(). Wrapped in MultiOutputRegressor only when
        it cannot fit several outputs itself (e.g. HistGradientBoostingRegressor) and H*T > 1.
    seed: given to the estimator as `random_state` when it has one, so fits are repeatable.
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "seed": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, *, estimator=None, seed: int = 0) -> None:
        self.estimator = estimator
        self.seed = seed

    def _make_estimator(self, n_outputs: int):
        from sklearn.linear_model import Ridge

        est = clone(self.estimator) if self.estimator is not None else Ridge()
        if "random_state" in est.get_params():
            est.set_params(random_state=self.seed)
        if n_outputs > 1 and not native_multi_output(est):
            est = MultiOutputRegressor(est)
        return Pipeline([("scale", StandardScaler()), ("model", est)])

    def _category_sizes(self) -> tuple[int, ...]:
        return tuple(len(self.vocabularies_[c]) for c in self.spec_.categorical)

    def _fit_panel(self, panel: Panel, frame: pd.DataFrame) -> None:
        windows = self.training_windows(panel)
        x = lag_features(windows, self._category_sizes())  # [N, D]
        y = windows.targets(np.arange(len(windows)))  # [N, H, T]
        y = y.reshape(len(y), -1)  # [N, H, T] -> [N, H*T]
        self.n_outputs_ = y.shape[1]
        self.pipeline_ = self._make_estimator(self.n_outputs_)
        self.pipeline_.fit(x, y[:, 0] if self.n_outputs_ == 1 else y)
        self.n_training_windows_ = len(windows)

    def _predict_windows(self, windows: Windows) -> np.ndarray:
        x = lag_features(windows, self._category_sizes())  # [N, D]
        out = np.full((len(x), self.n_outputs_), np.nan)
        ok = np.isfinite(x).all(axis=1)  # known-future values missing past the data -> NaN forecast
        if ok.any():
            out[ok] = np.asarray(self.pipeline_.predict(x[ok]), dtype=np.float64).reshape(int(ok.sum()), -1)
        return out.reshape(len(x), self.spec_.horizon, len(self.spec_.targets))  # [N, H*T] -> [N, H, T]

    # -- artifacts: linear models only (coefficients as tensors); trees would need pickle --------------
    def _artifact_state(self) -> tuple[dict, dict]:
        check_is_fitted(self, "is_fitted_")
        scaler = self.pipeline_.named_steps["scale"]
        estimator, tensors = linear_state(self.pipeline_.named_steps["model"], "model")
        metadata = {
            "params": {"seed": self.seed},
            "estimator": estimator,
            **self._common_metadata(),
            "n_outputs": self.n_outputs_,
            "n_samples_seen": int(scaler.n_samples_seen_),
        }
        tensors.update({
            "scale.mean": torch.from_numpy(np.asarray(scaler.mean_, dtype=np.float64)),
            "scale.var": torch.from_numpy(np.asarray(scaler.var_, dtype=np.float64)),
            "scale.scale": torch.from_numpy(np.asarray(scaler.scale_, dtype=np.float64)),
        })
        return metadata, tensors

    @classmethod
    def _from_artifact(cls, metadata: dict, tensors: dict) -> LagRegressor:
        n_out = int(metadata["n_outputs"])
        mean = tensors["scale.mean"].numpy()
        fitted = restore_linear(metadata["estimator"], tensors, "model", n_out, len(mean))
        model = cls(estimator=clone(fitted), seed=metadata["params"]["seed"])
        model._restore_common(metadata)
        scaler = StandardScaler()
        scaler.mean_, scaler.var_, scaler.scale_ = mean, tensors["scale.var"].numpy(), tensors["scale.scale"].numpy()
        scaler.n_features_in_ = len(mean)
        scaler.n_samples_seen_ = int(metadata["n_samples_seen"])
        model.pipeline_ = Pipeline([("scale", scaler), ("model", fitted)])
        model.n_outputs_ = n_out
        return model


def linear_state(model, prefix: str) -> tuple[dict, dict]:
    """(JSON description, tensors) of a fitted sklearn linear model; refuses anything else.

    Linear models are all coef_ and intercept_, so they can be stored as numbers; tree ensembles and
    other estimators could only be stored with pickle, which forecast never loads.
    """
    name = type(model).__name__
    if name not in LINEAR_MODELS or not type(model).__module__.startswith("sklearn."):
        raise InputError(
            f"a model with a {name} cannot be saved safely: only pickle could store its fitted state, "
            f"and forecast never unpickles; refit it from the data, or use one of {LINEAR_MODELS}"
        )
    tensors = {
        f"{prefix}.coef": torch.from_numpy(np.atleast_2d(np.asarray(model.coef_, dtype=np.float64))),  # [O, D]
        f"{prefix}.intercept": torch.from_numpy(np.atleast_1d(np.asarray(model.intercept_, dtype=np.float64))),
    }
    return {"class": name, "params": model.get_params()}, tensors


def restore_linear(description: dict, tensors: dict, prefix: str, n_outputs: int, n_features: int):
    """The fitted linear model described by `linear_state`, with its shapes checked."""
    from sklearn import linear_model

    name = description["class"]
    if name not in LINEAR_MODELS:
        raise InputError(f"model.json names estimator {name!r}; only {LINEAR_MODELS} can be loaded")
    coef = tensors[f"{prefix}.coef"].numpy()  # [O, D]
    intercept = tensors[f"{prefix}.intercept"].numpy()  # [O]
    if coef.shape != (n_outputs, n_features) or intercept.shape != (n_outputs,):
        raise InputError(f"{prefix} weights {tuple(coef.shape)} do not match model.json "
                         f"({n_outputs} outputs, {n_features} features); save the model again")
    fitted = getattr(linear_model, name)(**description["params"])
    fitted.coef_ = coef[0] if n_outputs == 1 else coef
    fitted.intercept_ = float(intercept[0]) if n_outputs == 1 else intercept
    fitted.n_features_in_ = n_features
    return fitted
