"""Read a command's DATA argument (a CSV/Parquet path or a bundled dataset name) into a validated frame.

Files go through `forecast.data.sources.files.load_table` (one-line errors naming file, column and row).
Missing values are kept as NaN by default (`DEFAULT_MISSING`): `predict` skips, or fills under an explicit
policy, the series with holes instead of failing the whole batch, and `fit` trains only on windows without
holes. Missing timestamps of a regular calendar are treated the same way (forecast.data.gaps).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.errors import InputError

DEFAULT_MISSING = "keep"
"""The commands' missing-value policy: keep holes as NaN; windows that touch one are skipped."""


def read_data(data: str | os.PathLike[str], time_col: str | None = None, id_col: str | None = None,
              *, numeric: tuple[str, ...] = (), missing: str = DEFAULT_MISSING, sort: bool = False) -> pd.DataFrame:
    """A frame indexed by time and sorted by (id, time), from a file path or a bundled dataset name.

    numeric: columns that must hold numbers; a text cell in one is an error naming its row.
    missing, sort: `load_table`'s policies (missing values; out-of-order rows), also applied to bundled data.
    `frame.attrs["source"]` names where the data came from (for messages).
    """
    from forecast import datasets
    from forecast.data.sources.files import apply_missing, load_table

    text = str(data)
    if text in datasets.names() and not Path(text).exists():
        bundled_id = datasets.spec(text).id_col
        if id_col is not None and id_col != bundled_id:
            raise InputError(f"{text}: the bundled dataset's series column is {bundled_id!r}, not {id_col!r}")
        frame = datasets.load(text)
        frame = apply_missing(frame, text, missing, bundled_id)  # announces the calendar's gaps too
    else:
        frame = load_table(text, time_col, id_col, missing=missing, sort=sort)
    frame.attrs["source"] = text
    require_numeric(frame, text, numeric)
    return frame


def require_numeric(frame: pd.DataFrame, source: str, columns: Sequence[str]) -> None:
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
