"""Read a command's DATA argument (a CSV/Parquet path or a bundled dataset name) into a validated frame.

Files go through `forecast.data.sources.files.load_table` (one-line errors naming file, column and row)
with missing values kept as NaN: `predict` skips, or fills under an explicit policy, the series with holes
instead of failing the whole batch, and `fit` trains only on windows without holes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.errors import InputError


def read_data(data: str | os.PathLike[str], time_col: str | None = None, id_col: str | None = None,
              *, numeric: tuple[str, ...] = (), sort: bool = False) -> pd.DataFrame:
    """A frame indexed by time and sorted by (id, time), from a file path or a bundled dataset name.

    numeric: columns that must hold numbers; a text cell in one is an error naming its row.
    sort: sort out-of-order rows (with a DataWarning) instead of refusing the file.
    `frame.attrs["source"]` names where the data came from (for messages).
    """
    from forecast import datasets
    from forecast.data.sources.files import load_table

    text = str(data)
    if text in datasets.names() and not Path(text).exists():
        bundled_id = datasets.spec(text).id_col
        if id_col is not None and id_col != bundled_id:
            raise InputError(f"{text}: the bundled dataset's series column is {bundled_id!r}, not {id_col!r}")
        frame = datasets.load(text)
    else:
        frame = load_table(text, time_col, id_col, missing="keep", sort=sort)
    frame.attrs["source"] = text
    _require_numeric(frame, text, numeric)
    return frame


def _require_numeric(frame: pd.DataFrame, source: str, columns: tuple[str, ...]) -> None:
    """Fail on the first cell of a required-numeric column that is not a number (load_table keeps mostly-text
    columns as text)."""
    for column in columns:
        if column not in frame.columns or pd.api.types.is_numeric_dtype(frame[column]):
            continue
        values = frame[column]
        present = values.notna().to_numpy()
        bad = np.flatnonzero(present & pd.to_numeric(values, errors="coerce").isna().to_numpy())
        if len(bad):
            at = f"at {frame.index[bad[0]]}"
            raise InputError(f"{source}: column {column!r} {at}: {values.iloc[bad[0]]!r} is not a number "
                             f"({len(bad)} such rows); the column must be numeric")


def apply_missing(frame: pd.DataFrame, missing: str, id_col: str | None = None) -> pd.DataFrame:
    """The loader's missing-value policy (error, drop, ffill, interpolate, keep) applied to every column of
    `frame`, per series; pass only the columns a caller reads, so holes elsewhere never fail a run."""
    from forecast.data.sources.files import MISSING_POLICIES, _apply_missing

    if missing not in MISSING_POLICIES:
        raise InputError(f"missing={missing!r} is not one of {', '.join(MISSING_POLICIES)}")
    codes = pd.factorize(frame[id_col], sort=True)[0] if id_col else np.zeros(len(frame), dtype=np.int64)
    out = _apply_missing(frame, Path(str(frame.attrs.get("source", "data"))), missing, id_col, codes)
    out.attrs = dict(frame.attrs)
    return out
