"""Load a user's CSV or Parquet table as a time-indexed frame, rejecting bad files with one clear line.

Checks, all vectorized (the loader runs on multi-million-row files): missing/empty/non-UTF-8 file, no time
column, unparsable, duplicate or unsorted timestamps, text in a numeric column, all-empty columns,
missing values (handled only by an explicit policy), and gaps in a regular calendar (a warning stating
the calendar policy of forecast.data.gaps).
Errors name the file, the column and the 1-based data row (the header is row 0).
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.data.gaps import describe_gaps, regularize
from forecast.errors import DataWarning, InputError

TIME_NAMES = ("date", "timestamp", "time", "datetime", "ds")
# Column separators recognised in .csv/.txt files, in order of preference, with their names for messages.
SEPARATORS = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
MISSING_POLICIES = ("error", "drop", "ffill", "interpolate", "keep")
# A text column is "numeric-looking" when at least this share of its non-empty values parse as numbers.
NUMERIC_SHARE = 0.5
_ZONE_SUFFIX = r"(?:Z|[+-]\d{2}:?\d{2})$"


def _read(path: Path) -> pd.DataFrame:
    """Read CSV or Parquet by extension; turn reader failures into InputError naming the file."""
    suffix = table_suffix(path)
    check_readable(path)
    with read_errors(path, suffix):
        if suffix in {".parquet", ".pq"}:
            return pd.read_parquet(path)
        if is_text_table(suffix):
            return pd.read_csv(path, **csv_options(path, suffix))
    raise InputError(f"{path}: unsupported extension {suffix!r}; use .csv or .parquet")


def table_suffix(path: Path) -> str:
    """The extension that says how to read `path` (.csv.gz counts as .csv.gz), lower case."""
    compressed = path.suffix.lower() in {".gz", ".zip", ".bz2", ".xz"}
    return "".join(path.suffixes[-2:]).lower() if compressed else path.suffix.lower()


def is_text_table(suffix: str) -> bool:
    return suffix.startswith(".csv") or suffix in {".txt", ".tsv"}


def check_readable(path: Path) -> None:
    """Fail with one line unless `path` is an existing, non-empty file."""
    if not path.exists():
        raise InputError(f"{path}: file not found; check the path")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a CSV or Parquet file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty; expected a header line and data rows")


def csv_options(path: Path, suffix: str) -> dict:
    """`pd.read_csv` options for a text table: its sniffed separator and decimal mark (announced when not
    the usual comma), UTF-8, spaces after separators skipped."""
    sep, decimal = ("\t", ".") if suffix == ".tsv" else _sniff(path)
    if sep != "," and suffix != ".tsv":
        comma = " with decimal commas" if decimal == "," else ""
        warnings.warn(f"{path}: read as {SEPARATORS[sep]}-separated{comma}", DataWarning, stacklevel=4)
    return {"sep": sep, "decimal": decimal, "encoding": "utf-8", "skipinitialspace": True}


@contextlib.contextmanager
def read_errors(path: Path, suffix: str) -> Iterator[None]:
    """Turn a reader's failure inside the block into one InputError naming the file and what to do."""
    try:
        yield
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
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{path}: cannot read it as {suffix[1:]} ({type(exc).__name__}: {exc})") from None


def _sniff(path: Path, n_lines: int = 20) -> tuple[str, str]:
    """(separator, decimal mark) of a text table from its first lines: a comma unless the lines split
    evenly on a tab, ';' or '|' and not on commas. ';'-separated files with digit,digit use decimal commas."""
    if path.suffix.lower() in {".gz", ".zip", ".bz2", ".xz"}:
        return ",", "."  # compressed: pandas decompresses; commas as always
    with open(path, "rb") as handle:
        head = handle.read(65536).decode("utf-8", errors="replace")
    lines = [line for line in head.splitlines()[:n_lines] if line.strip()]
    if len(lines) > 1 and len(head) == 65536:
        lines = lines[:-1]  # the last line may be cut
    for sep in SEPARATORS:
        counts = {line.count(sep) for line in lines}
        if lines and len(counts) == 1 and counts.pop() > 0:
            decimal = "," if sep == ";" and re.search(r"\d,\d", "\n".join(lines[1:])) else "."
            return sep, decimal
    return ",", "."


def _arrow_parse(text: pd.Series) -> pd.DatetimeIndex | None:
    """Fast path: pyarrow's strict ISO 8601 cast, naive then UTC; None when any value needs the slow path."""
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        return None
    try:
        arrow = pa.array(text.array)  # zero-copy for pandas' Arrow-backed strings
    except (TypeError, pa.ArrowInvalid):
        return None
    for zone in (None, "UTC"):
        try:
            cast = arrow.cast(pa.timestamp("us", tz=zone))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        stamps = pd.DatetimeIndex(cast.to_pandas())  # nulls become NaT; a UTC cast stays tz-aware
        return stamps.tz_localize(zone) if zone and stamps.tz is None else stamps
    return None


def _parse_mixed_zones(text: pd.Series, path: Path, column: str, rows: np.ndarray | None = None) -> pd.DatetimeIndex:
    """Timestamps under several UTC offsets become UTC; a row without any offset among them is an error."""
    zoned = text.str.contains(_ZONE_SUFFIX, regex=True, na=False)
    naive = (~zoned & text.notna()).to_numpy()
    if naive.any():
        row = int(np.flatnonzero(naive)[0])
        raise InputError(
            f"{path}: column {column!r} row {_line(rows, row)}: {text.iloc[row]!r} has no UTC offset while other "
            "rows do; give every timestamp an offset (e.g. +00:00) or none"
        )
    return pd.DatetimeIndex(pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce"))


def _find_time_column(frame: pd.DataFrame, path: Path, time_col: str | None) -> str:
    """The given time column, else a conventionally named one, else the first text column that parses."""
    if time_col is not None:
        if time_col not in frame.columns:
            raise InputError(f"{path}: no column {time_col!r}; columns are {', '.join(map(str, frame.columns))}")
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
    if len(frame.columns) == 1:
        found = [name for sep, name in SEPARATORS.items() if sep in str(frame.columns[0])]
        if found:
            raise InputError(f"{path}: one column {str(frame.columns[0])[:40]!r}: the lines do not split evenly on "
                             f"commas or {found[0]}s; give every line the header's number of {found[0]}s")
    raise InputError(
        f"{path}: no time column found (looked for {', '.join(TIME_NAMES)} or ISO dates); "
        "name it with time_col= (--time-col)"
    )


def _parse_times(values: pd.Series, path: Path, column: str, rows: np.ndarray | None = None) -> pd.DatetimeIndex:
    """Parse ISO dates and zoned timestamps; zoned values are converted to UTC; name the first bad row."""
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.DatetimeIndex(values)
    else:
        text = values.astype("string")
        parsed = _arrow_parse(text)
        if parsed is None and text.str.contains(_ZONE_SUFFIX, regex=True, na=False).any():
            # Checked here rather than left to pandas: 2.x silently reads naive rows beside zoned ones as
            # UTC and keeps mixed offsets as objects, where 3.x raises "Mixed timezones".
            parsed = _parse_mixed_zones(text, path, column, rows)
        elif parsed is None:
            try:
                parsed = pd.DatetimeIndex(pd.to_datetime(text, format="ISO8601", errors="coerce"))
            except ValueError:  # "Mixed timezones" written in a form the suffix pattern does not know
                parsed = _parse_mixed_zones(text, path, column, rows)
        if parsed.tz is not None:
            parsed = parsed.tz_convert("UTC")
        elif parsed.isna().all() and text.notna().any():  # not ISO at all: let pandas infer one format
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                parsed = pd.DatetimeIndex(pd.to_datetime(text, errors="coerce"))
    bad = np.flatnonzero(parsed.isna())
    if len(bad):
        row = int(bad[0])
        shown = values.iloc[row]
        what = "is empty" if pd.isna(shown) else f"{shown!r} is not a timestamp"
        raise InputError(
            f"{path}: column {column!r} row {_line(rows, row)}: {what} ({len(bad)} bad rows); "
            "use ISO 8601 like 2015-01-31 or 2015-01-31T09:30:00+00:00"
        )
    return parsed


def _check_order(times: pd.DatetimeIndex, codes: np.ndarray, ids: pd.Series | None, path: Path,
                 column: str, sort: bool, rows: np.ndarray | None = None) -> np.ndarray | None:
    """Reject duplicate stamps within a series; reject or (sort=True) fix decreasing ones.

    Returns the row order that sorts by (series, time), or None when the file already is.
    """
    stamp = times.asi8
    if len(stamp) < 2 or bool(((codes[1:] > codes[:-1]) | ((codes[1:] == codes[:-1]) & (stamp[1:] > stamp[:-1]))).all()):
        return None  # already sorted by (series, time) with no repeats: the common case, in O(n)
    order = np.lexsort((stamp, codes))  # by series, then time; stable for ties
    same = codes[order][1:] == codes[order][:-1]
    dup = np.flatnonzero(same & (stamp[order][1:] == stamp[order][:-1]))
    if len(dup):
        first, second = sorted((int(order[dup[0]]), int(order[dup[0] + 1])))
        series = f" in series {ids.iloc[second]!r}" if ids is not None else ""
        hint = "" if ids is not None else "; if the file holds several series, name the id column (id_col=)"
        raise InputError(
            f"{path}: column {column!r} row {_line(rows, second)}: duplicate timestamp {times[second]}{series} "
            f"(also row {_line(rows, first)}; {len(dup)} duplicates){hint}"
        )
    # Unsorted: within one series, a timestamp earlier than the previous row of that series (file order).
    by_series = np.argsort(codes, kind="stable")
    same = codes[by_series][1:] == codes[by_series][:-1]
    back = np.flatnonzero(same & (stamp[by_series][1:] < stamp[by_series][:-1]))
    if len(back):
        row, prev = int(by_series[back[0] + 1]), int(by_series[back[0]])
        where = (f"{path}: column {column!r} row {_line(rows, row)}: {times[row]} comes before row "
                 f"{_line(rows, prev)}'s {times[prev]}")
        if not sort:
            raise InputError(f"{where} ({len(back)} such rows); sort the file by time or pass sort=True (--sort)")
        warnings.warn(f"{where}; sorted {len(back)} out-of-order rows", DataWarning, stacklevel=3)
    return order


def _coerce_numeric(frame: pd.DataFrame, path: Path, skip: set[str], rows: np.ndarray | None = None) -> pd.DataFrame:
    """Turn numeric-looking text columns into floats; a value that does not parse is an error naming its row."""
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
        if n_present == 0 or parsed.sum() < NUMERIC_SHARE * n_present:
            continue  # a text column (labels, names): leave it as text
        bad = np.flatnonzero((present & ~parsed).to_numpy())
        if len(bad):
            row = int(bad[0])
            raise InputError(
                f"{path}: column {column!r} row {_line(rows, row)}: {values.iloc[row]!r} is not a number "
                f"({len(bad)} such rows); fix or blank those cells"
            )
        frame[column] = numbers.astype("float64")
    return frame


def apply_missing(frame: pd.DataFrame, path: str | os.PathLike[str], missing: str, id_col: str | None,
                  codes: np.ndarray | None = None) -> pd.DataFrame:
    """Apply a missing-value policy to a frame sorted by (id, time); never fill without being asked (and a
    warning saying so). Missing timestamps of a regular calendar are missing values too: "ffill" and
    "interpolate" fill them; the other policies leave them to the calendar policy (forecast.data.gaps),
    announced by a warning."""
    if missing not in MISSING_POLICIES:
        raise InputError(f"missing={missing!r} is not one of {', '.join(MISSING_POLICIES)}")
    inserted = 0
    if missing in ("ffill", "interpolate"):
        frame, inserted = regularize(frame, id_col)
        codes = None if inserted else codes
    else:
        report_gaps(frame, id_col, path)
    if missing == "keep":  # the caller handles holes itself (batch prediction skips or fills per series)
        return frame
    if codes is None:
        codes = pd.factorize(frame[id_col], sort=True)[0] if id_col else np.zeros(len(frame), dtype=np.int64)
    values = [c for c in frame.columns if c != id_col]
    holes = frame[values].isna()
    n_holes = int(holes.to_numpy().sum())
    if n_holes == 0:
        return frame
    if missing == "error":
        rows, cols = np.nonzero(holes.to_numpy())  # row-major: the first hole in time order
        series = f" in series {frame[id_col].iloc[rows[0]]!r}" if id_col else ""
        raise InputError(
            f"{path}: column {values[cols[0]]!r} at {frame.index[rows[0]]}{series}: missing value ({n_holes} missing in "
            f"{holes.any(axis=0).sum()} columns); choose missing='drop', 'ffill', 'interpolate' "
            "or 'keep' (skip the windows that touch one) (--missing)"
        )
    if missing == "drop":
        keep = ~holes.any(axis=1).to_numpy()
        warnings.warn(f"{path}: dropped {int((~keep).sum())} rows with missing values", DataWarning, stacklevel=3)
        return frame[keep]
    group = pd.Series(codes, index=frame.index)
    numeric = [c for c in values if pd.api.types.is_numeric_dtype(frame[c])]
    filled = frame.copy()
    if missing == "interpolate":
        x = codes.astype("float64") * _span_seconds(frame.index) + _seconds(frame.index)
        for column in numeric:
            filled[column] = _interpolate_inside(filled[column].to_numpy("float64"), x, group)
    # ffill for the 'ffill' policy, and for text columns under 'interpolate'.
    rest = values if missing == "ffill" else [c for c in values if c not in numeric]
    if rest:
        filled[rest] = filled[rest].groupby(group.to_numpy()).ffill()
    leading = filled[values].isna().any(axis=1).to_numpy()
    message = f"{path}: filled {n_holes - int(filled[values].isna().to_numpy().sum())} missing values ({missing})"
    if inserted:
        message += f", {inserted} skipped timestamps of a regular calendar added as rows first"
    if leading.any():
        message += f"; dropped {int(leading.sum())} rows at series edges that could not be filled"
    warnings.warn(message, DataWarning, stacklevel=3)
    return filled[~leading]


def _seconds(index: pd.DatetimeIndex) -> np.ndarray:
    """Seconds since the earliest stamp, as floats (whatever the index's time unit)."""
    if not len(index):
        return np.zeros(0)
    return ((index - index.min()) / pd.Timedelta(seconds=1)).to_numpy("float64")


def _span_seconds(index: pd.DatetimeIndex) -> float:
    seconds = _seconds(index)
    return float(seconds.max()) + 1.0 if len(seconds) else 1.0


def _interpolate_inside(y: np.ndarray, x: np.ndarray, group: pd.Series) -> np.ndarray:
    """Linear-in-time interpolation of interior gaps only; x keeps series apart (series k lives on its own span)."""
    valid = ~np.isnan(y)
    has_before = pd.Series(np.where(valid, 1.0, np.nan)).groupby(group.to_numpy()).ffill().notna().to_numpy()
    has_after = pd.Series(np.where(valid, 1.0, np.nan)).groupby(group.to_numpy()).bfill().notna().to_numpy()
    inside = ~valid & has_before & has_after
    out = y.copy()
    if inside.any():
        out[inside] = np.interp(x[inside], x[valid], y[valid])
    return out


def report_gaps(frame: pd.DataFrame, id_col: str | None, path: str | os.PathLike[str]) -> None:
    """Warn about gaps in a regular calendar, in the words of the one calendar policy (forecast.data.gaps)."""
    message = describe_gaps(frame, id_col, str(path))
    if message:
        warnings.warn(message, DataWarning, stacklevel=3)


def load_table(
    path: str | os.PathLike[str],
    time_col: str | None = None,
    id_col: str | None = None,
    *,
    missing: str = "error",
    sort: bool = False,
) -> pd.DataFrame:
    """Load a CSV/Parquet file as a frame indexed by time (sorted by id, then time), after validating it.

    Zoned timestamps become UTC; naive ones stay naive. `missing` is the policy for empty cells: "error"
    (default), "drop" rows, "ffill" within each series, or "interpolate" linearly in time inside each series
    (edges that cannot be filled are dropped), or "keep" them as NaN for the caller to handle. Every fill or
    drop is announced with a DataWarning.
    """
    if missing not in MISSING_POLICIES:
        raise InputError(f"missing={missing!r} is not one of {', '.join(MISSING_POLICIES)}")
    source = Path(path)
    frame = _read(source)
    if not isinstance(frame.index, pd.RangeIndex):  # Parquet written with its index (e.g. by `forecast fetch`)
        frame = frame.reset_index()
    if frame.columns.empty:
        raise InputError(f"{source}: no columns found; expected a header line")
    if frame.empty:
        raise InputError(f"{source}: has a header but no data rows")
    time_name = find_key_columns(frame, source, time_col, id_col)
    check_empty_columns([str(c) for c in frame.columns if frame[c].isna().all()], source)
    return check_rows(frame, source, time_name, id_col, missing=missing, sort=sort)


def find_key_columns(frame: pd.DataFrame, source: Path, time_col: str | None, id_col: str | None) -> str:
    """The time column's name (given, conventional, or the first of ISO dates in `frame`, which may be the
    file's first rows only); fail unless the id column exists and differs from it."""
    time_name = _find_time_column(frame, source, time_col)
    if id_col is not None and id_col not in frame.columns:
        raise InputError(f"{source}: no id column {id_col!r}; columns are {', '.join(map(str, frame.columns))}")
    if id_col == time_name:
        raise InputError(f"{source}: id_col and time_col are both {id_col!r}; they must differ")
    return time_name


def check_empty_columns(empty: list[str], source: Path) -> None:
    """Fail on columns that are empty in every row of the file."""
    if empty:
        raise InputError(f"{source}: column {empty[0]!r} is empty in every row; drop it or fill it "
                         f"({len(empty)} empty columns)")


def check_rows(frame: pd.DataFrame, source: str | os.PathLike[str], time_col: str, id_col: str | None, *,
               missing: str = "error", sort: bool = False, rows: np.ndarray | None = None) -> pd.DataFrame:
    """The row checks of `load_table` on a raw frame in file order whose time column is known: timestamps,
    series ids, order and duplicates, numbers, then the missing-value policy. Returns the time-indexed frame.

    rows: [n] 0-based file row of each frame row, for messages, when the frame is a part of the file (the
    series of one streamed chunk); None: the frame is the whole file.
    """
    source = Path(source)
    times = _parse_times(frame[time_col], source, str(time_col), rows)
    ids = frame[id_col] if id_col is not None else None
    if ids is not None and ids.isna().any():
        row = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise InputError(f"{source}: column {id_col!r} row {_line(rows, row)}: empty series id; fill it or "
                         "drop the row")
    codes = pd.factorize(ids, sort=True)[0] if ids is not None else np.zeros(len(frame), dtype=np.int64)
    order = _check_order(times, codes, ids, source, str(time_col), sort, rows)
    frame = _coerce_numeric(frame.drop(columns=[time_col]), source, {id_col} if id_col else set(), rows)
    frame.index = times.rename(time_col)
    if order is not None:
        frame, codes = frame.iloc[order], codes[order]
    return apply_missing(frame, source, missing, id_col, codes)


def _line(rows: np.ndarray | None, position: int) -> int:
    """1-based file row of the frame row at `position` (the header is row 0)."""
    return int(rows[position]) + 1 if rows is not None else position + 1
