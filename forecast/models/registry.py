"""The model registry: name -> factory with default parameters, and the sweep's search space.

The CLI, the backtest and the sweep take model names from this one table, and the conformance test
runs every entry.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SearchSpace = Callable[[Any], dict[str, Any]]  # optuna.Trial -> constructor parameters


@dataclass(frozen=True)
class ModelEntry:
    """How to build one registered model, and (optionally) what a sweep may change about it."""

    name: str
    factory: Callable[..., Any]
    defaults: dict[str, Any] = field(default_factory=dict)
    search_space: SearchSpace | None = None
    family: str = ""
    description: str = ""

    def build(self, **overrides: Any) -> Any:
        """A new, unfitted model with the defaults updated by `overrides`."""
        return self.factory(**{**self.defaults, **overrides})


_REGISTRY: dict[str, ModelEntry] = {}


def register(entry: ModelEntry) -> ModelEntry:
    """Add `entry` to the registry (names are unique)."""
    if entry.name in _REGISTRY:
        raise ValueError(f"model {entry.name!r} is already registered")
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


_LOADED = False


def _load_builtin() -> None:
    """Register the built-in models on first use (keeps `import forecast` light)."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    from forecast.models.estimators import RNNForecaster

    for cell, text in (("rnn", "Elman RNN"), ("gru", "GRU"), ("lstm", "LSTM")):
        register(ModelEntry(cell, RNNForecaster, {"cell": cell}, _rnn_space, family="recurrent",
                            description=f"{text} forecaster (Lightning), transducer head"))
    from forecast.models.direction import AlwaysUp, PersistDirection

    register(ModelEntry("always_up", AlwaysUp, family="direction",
                        description="direction benchmark: P(up) = the training share of up moves"))
    register(ModelEntry("persist_direction", PersistDirection, family="direction",
                        description="direction benchmark: the last move's direction repeats"))
    with contextlib.suppress(ImportError):  # baselines register themselves when present
        from forecast.models import baselines  # noqa: F401
