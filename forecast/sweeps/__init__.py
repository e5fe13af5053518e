"""Optuna sweeps: every model family searched on the same splits, with pruning, across many workers."""

from forecast.sweeps.config import SweepConfig
from forecast.sweeps.runner import SweepResult, sweep
from forecast.sweeps.storage import open_storage

__all__ = ["SweepConfig", "SweepResult", "open_storage", "sweep"]
