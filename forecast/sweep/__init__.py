"""Optuna sweeps: every model family searched on the same splits, with pruning, across many workers."""

from forecast.sweep.config import SweepConfig
from forecast.sweep.runner import SweepResult, sweep
from forecast.sweep.storage import open_storage

__all__ = ["SweepConfig", "SweepResult", "open_storage", "sweep"]
