"""The model registry: name -> factory with default parameters, and the sweep's search space.

The CLI, the backtest and the sweep take model names from this one table, and the conformance test
runs every entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SearchSpace = Callable[[Any], dict[str, Any]]  # optuna.Trial -> constructor parameters

TRANSFORM_SUPPORT = ("parameter", "wrapper", "refused")
"""How a registered model honours a target transform (log, differences, returns):
parameter: its own `target_transform` parameter (RNNForecaster);
wrapper: fit and forecast inside a TransformedTargetForecaster (every other value forecaster);
refused: a transform makes no sense (direction classifiers); asking for one is an InputError.
A backtest's benchmark is the one exception: persistence is the yardstick, on the target itself."""


@dataclass(frozen=True)
class ModelEntry:
    """How to build one registered model, and (optionally) what a sweep may change about it."""

    name: str
    factory: Callable[..., Any]
    defaults: dict[str, Any] = field(default_factory=dict)
    search_space: SearchSpace | None = None
    family: str = ""
    description: str = ""
    target_transform: str = "wrapper"  # one of TRANSFORM_SUPPORT

    def build(self, **overrides: Any) -> Any:
        """A new, unfitted model with the defaults updated by `overrides`."""
        return self.factory(**{**self.defaults, **overrides})

    def transformed(self, model: Any, transform: str | None) -> Any:
        """`model` (built from this entry) made to forecast through `transform` as `target_transform` says;
        None or "none" returns it unchanged."""
        from forecast.data.transforms import TARGET_TRANSFORMS
        from forecast.errors import InputError

        if transform is None or transform == "none":
            return model
        if transform not in TARGET_TRANSFORMS:
            raise InputError(f"target transform {transform!r} is not one of {TARGET_TRANSFORMS}")
        if self.target_transform == "parameter":
            return model.set_params(target_transform=transform)
        if self.target_transform == "wrapper":
            from forecast.models.transformed import TransformedTargetForecaster

            return TransformedTargetForecaster(forecaster=model, transform=transform)
        raise InputError(f"model {self.name!r} forecasts the direction of the target, so a target transform "
                         f"({transform!r}) makes no sense for it; leave the target transform out "
                         "(--target-transform none) or drop the model")


_REGISTRY: dict[str, ModelEntry] = {}


def register(entry: ModelEntry) -> ModelEntry:
    """Add `entry` to the registry (names are unique)."""
    if entry.name in _REGISTRY:
        raise ValueError(f"model {entry.name!r} is already registered")
    if entry.target_transform not in TRANSFORM_SUPPORT:
        raise ValueError(f"model {entry.name!r}: target_transform must be one of {TRANSFORM_SUPPORT}")
    _REGISTRY[entry.name] = entry
    return entry


def names() -> list[str]:
    """Registered model names."""
    _load_builtin()
    return list(_REGISTRY)


def get(name: str) -> ModelEntry:
    """The entry for `name`; the error lists the valid names."""
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; choose from: {', '.join(_REGISTRY)}") from None


def build(name: str, **overrides: Any) -> Any:
    """A new, unfitted model by registry name."""
    return get(name).build(**overrides)


def _rnn_space(trial) -> dict[str, Any]:
    return {
        "hidden_size": trial.suggest_categorical("hidden_size", [16, 32, 64, 128]),
        "num_layers": trial.suggest_int("num_layers", 1, 2),
        "dropout": trial.suggest_float("dropout", 0.0, 0.3),
        "lr": trial.suggest_float("lr", 1e-4, 1e-2, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
        "gradient_clip_val": trial.suggest_float("gradient_clip_val", 0.1, 5.0, log=True),
        "gradient_clip_algorithm": trial.suggest_categorical("gradient_clip_algorithm", ["norm", "value"]),
        "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128]),
    }


def _moving_average_space(trial) -> dict[str, Any]:
    return {"window": trial.suggest_int("window", 2, 60, log=True)}


def _ridge_space(trial) -> dict[str, Any]:
    return {"alpha": trial.suggest_float("alpha", 1e-3, 1e3, log=True)}


def _hgb_space(trial) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "max_depth": trial.suggest_int("max_depth", 2, 8),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 5, 100, log=True),
        "max_iter": trial.suggest_int("max_iter", 50, 500, log=True),
        "l2_regularization": trial.suggest_float("l2_regularization", 1e-6, 1.0, log=True),
    }


def _rf_space(trial) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 300, log=True),
        "max_depth": trial.suggest_int("max_depth", 3, 20),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 20, log=True),
        "max_features": trial.suggest_categorical("max_features", [1.0, 0.5, "sqrt"]),
    }


def _state_space(trial) -> dict[str, Any]:
    return {
        "hidden_size": trial.suggest_categorical("hidden_size", [8, 16, 32, 64]),
        "lr": trial.suggest_float("lr", 1e-4, 1e-2, log=True),
        "max_epochs": trial.suggest_int("max_epochs", 5, 50, log=True),
        "alpha": trial.suggest_float("alpha", 1e-3, 1e3, log=True),
    }


# Lag-model factories: flat keyword parameters (what the search spaces return) -> a LagRegressor.
def ridge_model(*, alpha: float = 1.0, seed: int = 0):
    """Ridge regression on lag features."""
    from sklearn.linear_model import Ridge

    from forecast.models.lagged import LagRegressor

    return LagRegressor(estimator=Ridge(alpha=alpha), seed=seed)


def hgb_model(*, learning_rate: float = 0.1, max_depth: int | None = None, min_samples_leaf: int = 20,
              max_iter: int = 100, l2_regularization: float = 0.0, seed: int = 0):
    """Histogram gradient boosting on lag features (one model per output step and target)."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    from forecast.models.lagged import LagRegressor

    return LagRegressor(estimator=HistGradientBoostingRegressor(
        learning_rate=learning_rate, max_depth=max_depth, min_samples_leaf=min_samples_leaf,
        max_iter=max_iter, l2_regularization=l2_regularization), seed=seed)


def rf_model(*, n_estimators: int = 50, max_depth: int | None = None, min_samples_leaf: int = 1,
             max_features: float | str = 1.0, seed: int = 0):
    """Random forest on lag features (native multi-output; single-threaded)."""
    from sklearn.ensemble import RandomForestRegressor

    from forecast.models.lagged import LagRegressor

    return LagRegressor(estimator=RandomForestRegressor(
        n_estimators=n_estimators, max_depth=max_depth, min_samples_leaf=min_samples_leaf,
        max_features=max_features, n_jobs=1), seed=seed)


_LOADED = False


def _load_builtin() -> None:
    """Register the built-in models on first use (keeps `import forecast` light)."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    from forecast.models import naive
    from forecast.models.direction import AlwaysUp, PersistDirection
    from forecast.models.estimators import RNNForecaster
    from forecast.models.state_features import StatePipelineForecaster

    for cell, text in (("rnn", "Elman RNN"), ("gru", "GRU"), ("lstm", "LSTM")):
        register(ModelEntry(cell, RNNForecaster, {"cell": cell}, _rnn_space, family="recurrent",
                            description=f"{text} forecaster (Lightning), transducer head",
                            target_transform="parameter"))
    for name, cls, defaults, space, text in (
        ("naive", naive.Naive, {}, None, "persistence: the last value"),
        ("seasonal_naive", naive.SeasonalNaive, {"season": None}, None,
         "the value one season earlier (season inferred from the time step)"),
        ("drift", naive.Drift, {"window": None}, None, "last value plus the average change so far"),
        ("moving_average", naive.MovingAverage, {"window": None}, _moving_average_space,
         "mean of the last `window` values (default: the lookback)"),
        ("mean", naive.HistoricalMean, {}, None, "mean of the whole history up to the origin"),
    ):
        register(ModelEntry(name, cls, defaults, space, family="naive", description=text))
    for name, factory, defaults, space, text in (
        ("ridge", ridge_model, {"alpha": 1.0}, _ridge_space, "Ridge regression on lag features"),
        ("hgb", hgb_model, {"learning_rate": 0.1, "max_iter": 100}, _hgb_space,
         "histogram gradient boosting on lag features"),
        ("rf", rf_model, {"n_estimators": 50}, _rf_space, "random forest on lag features"),
    ):
        register(ModelEntry(name, factory, defaults, space, family="lagged", description=text))
    for cell, text in (("lstm", "LSTM"), ("gru", "GRU"), ("rnn", "Elman RNN")):
        register(ModelEntry(f"{cell}_state+ridge", StatePipelineForecaster, {"cell": cell}, _state_space,
                            family="state", description=f"Ridge on the final state of a {text} encoder"))
    register(ModelEntry("always_up", AlwaysUp, family="direction", target_transform="refused",
                        description="direction benchmark: always up, P(up) = the training up share (at least 0.5)"))
    register(ModelEntry("persist_direction", PersistDirection, family="direction", target_transform="refused",
                        description="direction benchmark: the last move's direction repeats"))
