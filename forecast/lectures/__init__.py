"""Lecture experiments: small, reproducible runs that show what recurrent networks can and cannot do.

Each experiment is a module with `run(out_dir, *, quick=False, seed=0) -> dict`; it writes `<name>.png`
and `<name>.json` into `out_dir` and returns the numbers it wrote. `quick=True` shrinks every size so
a run takes seconds (for tests and smoke checks); the full run takes a few minutes on two CPU cores.
"""

from __future__ import annotations

import importlib
from pathlib import Path

# experiment name -> (module, one-line description); `forecast experiment --help` lists these.
EXPERIMENTS: dict[str, tuple[str, str]] = {
    "vanishing-gradients": (
        "forecast.lectures.vanishing",
        "gradient norm |dL/dx_t| against distance for Elman RNN, GRU, LSTM (init / trained; weather / synthetic)",
    ),
    "exploding-gradients": (
        "forecast.lectures.exploding",
        "Elman RNN with large recurrent weights: loss and gradient norm with no clipping, clipping, weight decay",
    ),
    "memory-length": (
        "forecast.lectures.memory",
        "recall accuracy against the distance to the relevant input, per cell; where each cell stops",
    ),
    "order-sensitivity": (
        "forecast.lectures.order",
        "an additive bag-of-inputs state cannot tell permuted sequences apart; the Elman RNN can",
    ),
    "final-state-features": (
        "forecast.lectures.final_state",
        "Ridge on the RNN's final state vs Ridge on raw lags vs the RNN's own head (weather, stocks)",
    ),
}


def names() -> list[str]:
    """Names of the experiments, for `run`."""
    return list(EXPERIMENTS)


def run(name: str, out_dir: str | Path, *, quick: bool = False, seed: int = 0, plots: bool = True) -> dict:
    """Run experiment `name`, writing its PNG (unless not `plots`) and JSON into `out_dir`; returns its numbers."""
    try:
        module_name, _ = EXPERIMENTS[name]
    except KeyError:
        raise KeyError(f"unknown experiment {name!r}; choose from: {', '.join(EXPERIMENTS)}") from None
    return importlib.import_module(module_name).run(out_dir, quick=quick, seed=seed, plots=plots)
