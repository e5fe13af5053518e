"""Read the DATA argument of the CLI (a CSV/Parquet path or a bundled dataset name) into a validated frame.

Errors are one line in the form `<file>: <what>, <where>; <what to do>`. The checks mirror
`forecast.data.sources.files.load_table` (adapters branch) so the CLI can switch to it when it lands; unlike
its default, missing values are kept as NaN here, because `predict` must skip (or explicitly fill) series
with holes instead of failing the whole batch. All checks are vectorized: a 4M-row file is read in seconds.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.errors import InputError

TIME_NAMES = ("date", "timestamp", "time", "datetime", "ds")
# A text column is numeric-looking (so a bad cell is an error) when at least this share of its cells parse.
NUMERIC_SHARE = 0.5


def read_data(data: str | os.PathLike[str], time_col: str | None = None, id_col: str | None = None,
              *, numeric: tuple[str, ...] = ()) -> pd.DataFrame:
    """A frame indexed by time and sorted by (id, time), from a file path or a bundled dataset name.

    numeric: columns that must hold numbers (a text cell in one is an error naming its row); other
    numeric-looking text columns are converted too. `frame.attrs["source"]` names where it came from.
    """
    from forecast import datasets

    text = str(data)
    if text in datasets.names() and not Path(text).exists():
        frame = datasets.load(text)
        bundled_id = datasets.spec(text).id_col
        if id_col is not None and id_col != bundled_id:
            raise InputError(f"{text}: bundled dataset has series column {bundled_id!r}, not {id_col!r}")
        frame.attrs["source"] = text
        _check_numeric(frame, text, numeric, skip={bundled_id})
        return frame
    path = Path(text)
    raw = _read(path)
    if raw.columns.empty:
        raise InputError(f"{path}: no columns found; expected a header line")
    if raw.empty:
        raise InputError(f"{path}: has a header but no data rows")
    time_name = _find_time_column(raw, path, time_col)
    if id_col is not None and id_col not in raw.columns:
        raise InputError(f"{path}: no series column {id_col!r}; columns are {', '.join(map(str, raw.columns))}")
    if id_col == time_name:
        raise InputError(f"{path}: the id and time columns are both {id_col!r}; they must differ")
    times = _parse_times(raw[time_name], path, str(time_name))
    ids = raw[id_col] if id_col is not None else None
    if ids is not None and ids.isna().any():
        row = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise InputError(f"{path}: column {id_col!r} row {row + 1}: empty series id; fill it or drop the row")
    codes = pd.factorize(ids, sort=True)[0] if ids is not None else np.zeros(len(raw), dtype=np.int64)
    order = _check_order(times, codes, ids, path, str(time_name))
    frame = raw.drop(columns=[time_name])
    frame.index = times.rename(time_name)
    _check_numeric(frame, str(path), numeric, skip={id_col} if id_col else set())
    if not np.array_equal(order, np.arange(len(order))):
        frame = frame.iloc[order]
    frame.attrs["source"] = str(path)
    return frame


def _read(path: Path) -> pd.DataFrame:
    """CSV or Parquet by extension; reader failures become InputError naming the file."""
    suffix = path.suffix.lower()
    if not path.exists():
        raise InputError(f"{path}: file not found; check the path (or use a bundled dataset name, see "
                         "`forecast datasets`)")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a CSV or Parquet file")
    if suffix not in {".csv", ".parquet", ".pq", ".txt"}:
        raise InputError(f"{path}: unsupported extension {suffix!r}; use .csv or .parquet")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty; expected a header line and data rows")
    try:
        if suffix in {".parquet", ".pq"}:
            return pd.read_parquet(path)
        return pd.read_csv(path, encoding="utf-8", skipinitialspace=True)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text (bad byte {exc.object[exc.start:exc.start + 1]!r}); re-save it as UTF-8"
        ) from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: file has no columns; expected a header line and data rows") from None
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1]
        raise InputError(f"{path}: malformed CSV ({detail}); every line needs the header's column count") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read it as {suffix[1:]} ({type(exc).__name__}: {exc})") from None


def _find_time_column(frame: pd.DataFrame, path: Path, time_col: str | None) -> str:
    """The given time column, else a conventionally named one, else the first column of ISO dates."""
    if time_col is not None:
        if time_col not in frame.columns:
            raise InputError(f"{path}: no time column {time_col!r}; columns are "
                             f"{', '.join(map(str, frame.columns))}")
        return time_col
    lowered = {str(c).lower(): c for c in frame.columns}
    for name in TIME_NAMES:
        if name in lowered:
            return lowered[name]
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            return column
        if pd.api.types.is_string_dtype(values) or values.dtype == object:
            head = values.dropna().head(5).astype(str)
            if len(head) and pd.to_datetime(head, errors="coerce", format="ISO8601").notna().all():
                return column
    raise InputError(
        f"{path}: no time column found (looked for {', '.join(TIME_NAMES)} or ISO dates in columns "
        f"{', '.join(map(str, frame.columns))}); name it with --time-col"
    )


def _parse_times(values: pd.Series, path: Path, column: str) -> pd.DatetimeIndex:
    """Parse ISO dates (zoned ones to UTC); name the first row that does not parse."""
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.DatetimeIndex(values)
    elif (fast := _arrow_times(values)) is not None:
        parsed = fast
    else:
        text = values.astype("string")
        zoned = bool(text.iloc[: min(len(text), 1000)].str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", na=False).any())
        parsed = pd.DatetimeIndex(pd.to_datetime(text, format="ISO8601", utc=zoned, errors="coerce"))
        if parsed.isna().all() and text.notna().any():  # not ISO: let pandas infer one consistent format
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                parsed = pd.DatetimeIndex(pd.to_datetime(text, utc=zoned, errors="coerce"))
    bad = np.flatnonzero(parsed.isna())
    if len(bad):
        row = int(bad[0])
        shown = values.iloc[row]
        what = "is empty" if pd.isna(shown) else f"{shown!r} is not a timestamp"
        raise InputError(
            f"{path}: column {column!r} row {row + 1}: {what} ({len(bad)} bad rows); "
            "use ISO 8601 like 2015-01-31 or 2015-01-31T09:30:00+00:00"
        )
    return parsed


def _arrow_times(values: pd.Series) -> pd.DatetimeIndex | None:
    """Zone-less ISO timestamps parsed by Arrow (about 10x faster than to_datetime); None if any cell fails."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        array = pa.chunked_array(values.array._pa_array) if hasattr(values.array, "_pa_array") \
            else pa.array(values.to_numpy(dtype=object), type=pa.string())
        parsed = pc.cast(array, pa.timestamp("ns"))
    except Exception:  # not Arrow-castable (zones, other formats, bad cells): the pandas path names the row
        return None
    return pd.DatetimeIndex(parsed.to_numpy())


def _check_order(times: pd.DatetimeIndex, codes: np.ndarray, ids: pd.Series | None, path: Path,
                 column: str) -> np.ndarray:
    """Reject duplicate or decreasing timestamps within a series; return the (id, time) row order."""
    stamp = times.asi8
    same_series = codes[1:] == codes[:-1]
    grouped = bool(np.all(codes[1:] >= codes[:-1]))
    if grouped and not np.any(same_series & (stamp[1:] <= stamp[:-1])):
        return np.arange(len(stamp))  # fast path: already sorted by (id, time), no duplicates
    order = np.lexsort((stamp, codes))  # by series, then time; stable for ties
    same = codes[order][1:] == codes[order][:-1]
    dup = np.flatnonzero(same & (stamp[order][1:] == stamp[order][:-1]))
    if len(dup):
        first, second = sorted((int(order[dup[0]]), int(order[dup[0] + 1])))
        series = f" in series {ids.iloc[second]!r}" if ids is not None else ""
        hint = "remove the repeated rows" if ids is not None else \
            "remove the repeated rows, or name the series column with --id-col if the file holds several series"
        raise InputError(
            f"{path}: column {column!r} row {second + 1}: duplicate timestamp {times[second]}{series} "
            f"(also row {first + 1}; {len(dup)} duplicates); {hint}"
        )
    by_series = np.argsort(codes, kind="stable")  # file order within each series
    same = codes[by_series][1:] == codes[by_series][:-1]
    back = np.flatnonzero(same & (stamp[by_series][1:] < stamp[by_series][:-1]))
    if len(back):
        row, prev = int(by_series[back[0] + 1]), int(by_series[back[0]])
        raise InputError(
            f"{path}: column {column!r} row {row + 1}: {times[row]} comes before row {prev + 1}'s {times[prev]} "
            f"({len(back)} such rows); sort the file by time"
        )
    return order


def _check_numeric(frame: pd.DataFrame, source: str, required: tuple[str, ...], skip: set) -> None:
    """Convert numeric-looking text columns to float (in place); a cell that does not parse is an error."""
    for column in frame.columns:
        if column in skip:
            continue
        values = frame[column]
        if not (pd.api.types.is_string_dtype(values) or values.dtype == object):
            continue
        present = values.notna() & (values.astype("string").str.strip() != "")
        numbers = pd.to_numeric(values.where(present), errors="coerce")
        parsed = numbers.notna()
        n_present = int(present.sum())
        if column not in required and (n_present == 0 or parsed.sum() < NUMERIC_SHARE * n_present):
            continue  # a text column (labels, names): leave it as text
        bad = np.flatnonzero((present & ~parsed).to_numpy())
        if len(bad):
            row = int(bad[0])
            raise InputError(
                f"{source}: column {column!r} row {row + 1}: {values.iloc[row]!r} is not a number "
                f"({len(bad)} such rows); fix or blank those cells"
            )
        frame[column] = numbers.astype("float64")
