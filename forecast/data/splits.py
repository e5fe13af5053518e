"""Time-ordered splits: train / validation / test by fraction or date, and walk-forward folds.

A split is a pair of row cuts per series. Windows are assigned by where their *targets* lie: training
windows forecast rows [0, train_end), validation windows rows [train_end, val_end), test windows rows
[val_end, n). Inputs may reach back into earlier splits (the standard protocol), but no training window
reads a validation or test target. Between the last training origin and the first validation origin
there is therefore a gap of H origins.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from forecast.config import WindowSpec
from forecast.data.panel import Panel
from forecast.data.windows import Windows, make_windows
from forecast.errors import InputError


@dataclass(frozen=True)
class Split:
    """Per-series row cuts: train rows [0, train_end), validation [train_end, val_end), test [val_end, n)."""

    train_end: np.ndarray
    val_end: np.ndarray

    def train_rows(self, panel: Panel) -> np.ndarray:
        """[T] mask of rows in the training part (what transforms may be fit on)."""
        local = np.arange(len(panel.times)) - np.repeat(panel.offsets[:-1], panel.lengths)
        return local < np.repeat(self.train_end, panel.lengths)

    def windows(self, panel: Panel, spec: WindowSpec, part: str, **kwargs) -> Windows:
        """Windows whose targets lie in `part` ("train", "val", "test" or "train+val")."""
        n = panel.n_observed
        first, last = {
            "train": (0, self.train_end - 1),
            "val": (self.train_end, self.val_end - 1),
            "test": (self.val_end, n - 1),
            "train+val": (0, self.val_end - 1),
        }[part]
        return make_windows(panel, spec, first_target=first, last_target=last, **kwargs)


def _keep(n: np.ndarray, size: float | int) -> np.ndarray:
    """Rows left at the start of each series after removing `size` (a fraction, or a row count) from its end.

    Fractions round like `int((1 - size) * n)`, so a 20% test split of 1,461 rows keeps 1,168 and tests 293.
    """
    if isinstance(size, (bool, np.bool_)) or not isinstance(size, (int, float, np.integer, np.floating)):
        raise InputError(f"split size {size!r} must be a fraction in [0, 1) or a number of rows")
    if isinstance(size, (float, np.floating)):
        if not 0.0 <= size < 1.0:
            raise InputError(f"split size {size!r} must be a fraction in [0, 1) or a number of rows")
        return np.floor(n * (1.0 - size) + 1e-9).astype(np.int64)
    if size < 0:
        raise InputError(f"split size {size!r} must be a non-negative number of rows")
    return (n - int(size)).astype(np.int64)


def time_split(panel: Panel, *, val_size: float | int = 0.0, test_size: float | int = 0.2) -> Split:
    """Split each series by position: the last `test_size` for test, the `val_size` before it for validation.

    Fractions are of each series' own length (rounded down, as `int(0.8 * n)` leaves 20% for test).
    """
    n = panel.n_observed
    val_end = _keep(n, test_size)
    if isinstance(val_size, float) and isinstance(test_size, float):
        train_end = _keep(n, val_size + test_size)
    else:
        train_end = val_end - (n - _keep(n, val_size))
    if np.any(train_end < 1):
        raise InputError("split leaves a series without training rows; use smaller val/test sizes")
    return Split(train_end=train_end, val_end=val_end)


def date_split(panel: Panel, *, val_start: str | pd.Timestamp | None, test_start: str | pd.Timestamp) -> Split:
    """Split each series by date: validation from `val_start`, test from `test_start` (both inclusive)."""
    def first_row_at(when) -> np.ndarray:
        stamp = pd.Timestamp(when)
        if panel.tz:
            stamp = (stamp.tz_localize(panel.tz) if stamp.tz is None else stamp).tz_convert("UTC").tz_localize(None)
        t = np.datetime64(stamp.to_datetime64(), "ns")
        return np.array([
            np.searchsorted(panel.times[o:o + n], t) for o, n in zip(panel.offsets[:-1], panel.n_observed, strict=False)
        ], dtype=np.int64)

    val_end = first_row_at(test_start)
    train_end = first_row_at(val_start) if val_start is not None else val_end.copy()
    if np.any(train_end > val_end):
        raise InputError(f"val_start {val_start} must not be after test_start {test_start}")
    return Split(train_end=train_end, val_end=val_end)


class Fold(NamedTuple):
    """One walk-forward fold, per-series rows: fit on [train_start, train_end), test targets in [train_end, test_end).

    Unpacks as the tuple (train_start, train_end, test_end).
    """

    train_start: np.ndarray
    train_end: np.ndarray
    test_end: np.ndarray

    def train_rows(self, panel: Panel) -> np.ndarray:
        """[T] mask of the fold's training rows (what transforms may be fit on)."""
        local = np.arange(len(panel.times)) - np.repeat(panel.offsets[:-1], panel.lengths)
        return (local >= np.repeat(self.train_start, panel.lengths)) & (local < np.repeat(self.train_end, panel.lengths))

    def windows(self, panel: Panel, spec: WindowSpec, part: str, **kwargs) -> Windows:
        """Windows of `part`: "train" reads only rows [train_start, train_end); "test" forecasts targets in
        [train_end, test_end) from inputs that may reach back into the training rows."""
        if part == "train":
            first, last = self.train_start + spec.lookback, self.train_end - 1
        elif part == "test":
            first, last = self.train_end, self.test_end - 1
        else:
            raise ValueError(f"part must be 'train' or 'test', got {part!r}")
        return make_windows(panel, spec, first_target=first, last_target=last, **kwargs)


def walk_forward(
    panel: Panel,
    spec: WindowSpec,
    *,
    n_folds: int,
    test_size: float | int,
    expanding: bool = True,
    train_size: int | None = None,
) -> Iterator[Fold]:
    """Rolling-origin folds over the last `test_size` of each series, in time order.

    Each fold tests on the next block of rows and trains on everything before it (expanding) or on the
    `train_size` rows just before it (sliding; default: the rows before the first test block). A training
    window of a fold never reads a row of that fold's test block; the last training origin and the first
    test origin are H rows apart.
    """
    if not isinstance(n_folds, (int, np.integer)) or n_folds < 1:
        raise InputError(f"n_folds must be a positive integer, got {n_folds!r}")
    n = panel.n_observed
    start = _keep(n, test_size)
    if np.any(start < 1):
        raise InputError("walk-forward test block leaves a series without training rows; use a smaller test_size")
    if train_size is not None and (not isinstance(train_size, (int, np.integer)) or train_size < 1):
        raise InputError(f"train_size must be a positive number of rows, got {train_size!r}")
    window = start if train_size is None else np.full_like(n, int(train_size))
    test_rows = n - start
    for k in range(n_folds):
        fold_start = start + (test_rows * k) // n_folds
        fold_end = start + (test_rows * (k + 1)) // n_folds
        train_start = np.zeros_like(n) if expanding else np.maximum(0, fold_start - window)
        yield Fold(train_start, fold_start, fold_end)
