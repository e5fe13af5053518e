"""The sweep's three time-ordered parts of a frame, per series: train, validation, test."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast.config import WindowSpec
from forecast.errors import InputError


@dataclass(frozen=True)
class FrameSplit:
    """Row masks of one frame: train [0, train_end), validation [train_end, val_end), test [val_end, n) per series.

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
            keys = frame[spec.id_col]
            position = keys.groupby(keys, sort=False).cumcount().to_numpy()
            length = keys.map(keys.value_counts()).to_numpy()
        else:
            position = np.arange(len(frame))
            length = np.full(len(frame), len(frame))
        train_end = np.floor(length * (1.0 - val_size - test_size) + 1e-9)
        val_end = np.floor(length * (1.0 - test_size) + 1e-9)
        part = np.where(position < train_end, 0, np.where(position < val_end, 1, 2))
        split = cls(frame, spec, part)
        if not (part == 1).any() or not (part == 2).any():
            raise InputError("sweep: the data are too short for a validation and a test part; use more rows")
        return split

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
