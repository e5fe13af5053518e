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
    if isinstance(size, float) and not 0.0 <= size < 1.0:
        raise InputError(f"split size {size!r} must be a fraction in [0, 1) or a number of rows")
    if isinstance(size, float):
        return np.floor(n * (1.0 - size) + 1e-9).astype(np.int64)
    return n - int(size)


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


def walk_forward(
    panel: Panel,
    spec: WindowSpec,
    *,
    n_folds: int,
    test_size: float | int,
    expanding: bool = True,
    train_size: int | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Rolling-origin folds over the last `test_size` of each series.

    Yields (train_start, train_end, test_end) per-series row arrays: fit on rows [train_start, train_end)
    and forecast targets in [train_end, test_end). Expanding folds keep train_start at 0; sliding folds
    keep `train_size` rows.
    """
    n = panel.n_observed
    start = _keep(n, test_size)
    test_rows = n - start
    for k in range(n_folds):
        fold_start = start + (test_rows * k) // n_folds
        fold_end = start + (test_rows * (k + 1)) // n_folds
        train_start = np.zeros_like(n) if expanding else np.maximum(0, fold_start - (train_size or spec.lookback))
        yield train_start, fold_start, fold_end
