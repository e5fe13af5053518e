"""Optuna sweeps: every model family searched on the same splits, with pruning, across many workers.

The public names are imported on first use, so that a worker process (`python -m forecast.sweeps.worker`)
starts without pandas, Optuna or torch and can be interrupted quietly at any moment."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"SweepConfig": "config", "SweepResult": "runner", "open_storage": "storage", "sweep": "runner"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'forecast.sweeps' has no attribute {name!r}")
    return getattr(importlib.import_module(f"forecast.sweeps.{_EXPORTS[name]}"), name)
