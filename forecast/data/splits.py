"""Time-ordered splits, the one place cut points are computed: train / validation / test rows of each
series for the estimator (`time_split` on a panel) and the sweep (`FrameSplit` on a frame), and the first
test date common to all series for the backtest (`backtest_start`).

A split is a pair of row cuts per series. Windows are assigned by where their *targets* lie: training
windows forecast rows [0, train_end), validation windows rows [train_end, val_end), test windows rows
[val_end, n). Inputs may reach back into earlier splits (the standard protocol), but no training window
reads a validation or test target. Between the last training origin and the first validation origin
there is therefore a gap of H origins.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd

from forecast.config import WindowSpec
from forecast.data.panel import Panel
from forecast.data.windows import Windows, make_windows
from forecast.errors import InputError


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


def cut_points(lengths: np.ndarray, *, val_size: float | int = 0.0,
               test_size: float | int = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """([S] train_end, [S] val_end) of series with `lengths` rows: the last `test_size` of each series is
    test, the `val_size` before it validation. Fractions are of each series' own length, rounded down."""
    n = np.asarray(lengths, dtype=np.int64)
    val_end = _keep(n, test_size)
    if isinstance(val_size, float) and isinstance(test_size, float):
        train_end = _keep(n, val_size + test_size)
    else:
        train_end = val_end - (n - _keep(n, val_size))
    return train_end, val_end


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


def time_split(panel: Panel, *, val_size: float | int = 0.0, test_size: float | int = 0.2) -> Split:
    """Split each series of `panel` by position (see `cut_points`); every series keeps a training row."""
    train_end, val_end = cut_points(panel.n_observed, val_size=val_size, test_size=test_size)
    if np.any(train_end < 1):
        raise InputError("split leaves a series without training rows; use smaller val/test sizes")
    return Split(train_end=train_end, val_end=val_end)


@dataclass(frozen=True)
class FrameSplit:
    """Row masks of one frame: train [0, train_end), validation [train_end, val_end), test [val_end, n) per
    series, cut by `cut_points` on each series' own rows (the sweep's split).

    Every family is fit on `train` (searching) or `train_val` (final refit) and scored on forecasts whose
    *targets* fall in the validation or test rows; inputs may reach back into earlier parts.
    """

    frame: pd.DataFrame
    spec: WindowSpec
    part: np.ndarray  # [rows] 0 = train, 1 = validation, 2 = test

    @classmethod
    def by_fraction(cls, frame: pd.DataFrame, spec: WindowSpec, val_size: float, test_size: float) -> FrameSplit:
        """Split each series like `int((1 - f) * n)`: the last test_size for test, val_size before it."""
        if spec.id_col:
            series, _ = pd.factorize(frame[spec.id_col], use_na_sentinel=False)  # [rows] series code of each row
            position = pd.Series(series).groupby(series).cumcount().to_numpy()
        else:
            series, position = np.zeros(len(frame), dtype=np.int64), np.arange(len(frame))
        train_end, val_end = cut_points(np.bincount(series, minlength=1), val_size=val_size, test_size=test_size)
        part = np.where(position < train_end[series], 0, np.where(position < val_end[series], 1, 2))
        if not (part == 1).any() or not (part == 2).any():
            raise InputError("sweep: the data are too short for a validation and a test part; use more rows")
        return cls(frame, spec, part)

    @property
    def train(self) -> pd.DataFrame:
        return self.frame[self.part == 0]

    @property
    def train_val(self) -> pd.DataFrame:
        return self.frame[self.part <= 1]

    def targets_in(self, forecasts: pd.DataFrame, part: int) -> pd.DataFrame:
        """The forecasts whose target row lies in `part` (1 = validation, 2 = test)."""
        keys = ["timestamp"] + ([self.spec.id_col] if self.spec.id_col else [])
        rows = pd.DataFrame({"timestamp": self.frame.index, "_part": self.part})
        if self.spec.id_col:
            rows[self.spec.id_col] = self.frame[self.spec.id_col].to_numpy()
        merged = forecasts.merge(rows, on=keys, how="left", validate="many_to_one")
        return merged[merged["_part"] == part].drop(columns="_part").reset_index(drop=True)


def panel_time(panel: Panel, when: str | pd.Timestamp) -> np.datetime64:
    """A date as the panel's naive time (UTC for zoned data; a naive date is read in the data's zone)."""
    stamp = pd.Timestamp(when)
    if panel.tz:
        stamp = (stamp.tz_localize(panel.tz) if stamp.tz is None else stamp).tz_convert("UTC").tz_localize(None)
    return np.datetime64(stamp.to_datetime64(), "ns")


def backtest_start(panel: Panel, test_size: float | int, test_start: str | pd.Timestamp | None) -> np.datetime64:
    """First time step of the backtest's test period (naive panel time), common to all series: `test_start`,
    or the last `test_size` (fraction or count) of the distinct time steps, cut like `cut_points`."""
    if test_start is not None:
        return panel_time(panel, test_start)
    dates = np.unique(panel.times)
    fraction = isinstance(test_size, Real) and not isinstance(test_size, Integral)
    count = isinstance(test_size, Integral) and not isinstance(test_size, bool)
    if not ((fraction and 0.0 < test_size < 1.0) or (count and 0 < test_size < len(dates))):
        raise InputError(f"test_size {test_size!r} must be a fraction in (0, 1) or a number of time steps "
                         f"below the data's {len(dates)}")
    keep = int(cut_points(np.array([len(dates)]), test_size=float(test_size) if fraction else int(test_size))[1][0])
    if keep < 1:
        raise InputError(f"test_size {test_size!r} leaves no time step to train on")
    return dates[keep]
