"""Turn a time-indexed frame (wide, or long with a series column) into stacked arrays the windows index.

Every series is laid end to end in one float32 array `values` [T, F]; `offsets` [S+1] mark where each
series starts. Windows are later taken as strided views of this array, so it is the only copy of the data.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast.config import WindowSpec
from forecast.data.gaps import find_gaps, infer_step, regularize
from forecast.data.reuse import reused
from forecast.errors import InputError

# Calendar features as name -> function of a (local wall-clock) DatetimeIndex -> (position, period).
# Day of year is divided by that year's length, so December 31 and January 1 are neighbours every year.
_CALENDAR = {
    "dayofweek": lambda idx: (idx.day_of_week, 7.0),
    "dayofyear": lambda idx: (idx.day_of_year - 1, np.where(idx.is_leap_year, 366.0, 365.0)),
    "hour": lambda idx: (idx.hour, 24.0),
    "month": lambda idx: (idx.month - 1, 12.0),
}


@dataclass
class Panel:
    """Series stacked end to end.

    values: [T, F] float32, row-major, columns `columns` (numeric inputs, then calendar sin/cos pairs).
    codes: [T, C] int64 codes of categorical columns (0 = unseen category).
    times: [T] datetime64 timestamps.
    offsets: [S+1] row where each series starts; series s is rows offsets[s]:offsets[s+1].
    series: the S series ids (a single None for a wide frame).
    n_observed: [S] rows of each series that came from the frame (the rest are appended future rows).
    """

    values: np.ndarray
    columns: tuple[str, ...]
    codes: np.ndarray
    categorical: tuple[str, ...]
    times: np.ndarray
    offsets: np.ndarray
    series: list
    n_observed: np.ndarray
    tz: str | None = None

    @property
    def n_series(self) -> int:
        return len(self.series)

    @property
    def lengths(self) -> np.ndarray:
        """Rows per series, appended future rows included."""
        return np.diff(self.offsets)

    def series_of_row(self) -> np.ndarray:
        """[T] series index of every row."""
        return np.repeat(np.arange(self.n_series), self.lengths)

    def column_index(self, names: Sequence[str]) -> np.ndarray:
        """Positions of `names` in `columns`."""
        lookup = {c: i for i, c in enumerate(self.columns)}
        return np.array([lookup[n] for n in names], dtype=np.int64)

    def timestamps(self, rows: np.ndarray) -> pd.DatetimeIndex:
        """Timestamps of the given global rows, in the frame's time zone."""
        idx = pd.DatetimeIndex(self.times[rows])
        return idx.tz_localize("UTC").tz_convert(self.tz) if self.tz else idx


def calendar_columns(calendar: Sequence[str]) -> tuple[str, ...]:
    """Names of the sin/cos columns that encode the given calendar features."""
    return tuple(f"{name}_{fn}" for name in calendar for fn in ("sin", "cos"))


def calendar_values(times: pd.DatetimeIndex, calendar: Sequence[str]) -> np.ndarray:
    """[T, 2*len(calendar)] sine/cosine encodings of calendar features (known in advance).

    `times` should be local wall-clock times (a tz-aware index is read in its own zone): hour 0 of a
    New York series is midnight in New York, not in UTC.
    """
    out = np.empty((len(times), 2 * len(calendar)), dtype=np.float32)
    for k, name in enumerate(calendar):
        position, period = _CALENDAR[name](times)
        angle = 2 * np.pi * np.asarray(position, dtype=np.float64) / period
        out[:, 2 * k] = np.sin(angle)
        out[:, 2 * k + 1] = np.cos(angle)
    return out


def check_frame(frame: pd.DataFrame, spec: WindowSpec, *, source: str = "frame") -> None:
    """Fail with one clear line if `frame` cannot feed `spec` (index, id column, missing columns, dtypes)."""
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise InputError(
            f"{source}: the index must be a DatetimeIndex (load files with forecast.load_table or set_index)"
        )
    needed = list(spec.columns) + ([spec.id_col] if spec.id_col else [])
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InputError(
            f"{source}: missing column(s) {missing}; available: {list(frame.columns)}"
        )
    for col in spec.numeric_inputs:
        if not pd.api.types.is_numeric_dtype(frame[col]):
            raise InputError(f"{source}: column {col!r} must be numeric, found dtype {frame[col].dtype}")


@reused  # one panel per frame slice inside a backtest (forecast.data.reuse)
def build_panel(
    frame: pd.DataFrame,
    spec: WindowSpec,
    *,
    vocabularies: dict[str, list[str]] | None = None,
    future_steps: int = 0,
    source: str = "frame",
) -> Panel:
    """Stack the series of `frame` into a Panel for `spec`.

    vocabularies: category lists per categorical column (learned on training data); codes are 1-based,
        0 for a category not in the list.
    future_steps: rows to append after each series with extrapolated timestamps and NaN values, so that
        forecasts from the last origin have timestamps and calendar features.
    """
    check_frame(frame, spec, source=source)
    tz = str(frame.index.tz) if frame.index.tz is not None else None
    if spec.id_col:
        missing_id = frame[spec.id_col].isna().to_numpy()
        if missing_id.any():
            row = int(np.flatnonzero(missing_id)[0]) + 1
            raise InputError(f"{source}: series id column {spec.id_col!r} is empty at row {row}; fill or drop it")
        ids = frame[spec.id_col].to_numpy()
        order = np.lexsort((frame.index.asi8, pd.factorize(ids, sort=True)[0]))
        if not np.array_equal(order, np.arange(len(order))):
            frame = frame.iloc[order]
    offsets, series_list, times = _layout(frame, spec.id_col)
    _check_times(times, offsets, series_list, source)
    # The calendar policy (forecast.data.gaps): skipped steps become NaN rows, so no window spans a gap.
    gaps = find_gaps(frame, spec.id_col)
    if gaps is not None:
        frame, _ = regularize(frame[[*([spec.id_col] if spec.id_col else []), *spec.columns]], spec.id_col, gaps)
        added = np.add.reduceat(np.r_[gaps.missing, 0], offsets[:-1])  # [S] rows inserted into each series
        offsets = offsets + np.r_[0, np.cumsum(added)]
        times = _layout(frame, None)[2]
    index = frame.index

    # The panel's one array, row-major so that every window is one contiguous block (pandas hands out
    # column-major, read-only views of its blocks): [T, F_num] numeric + [T, 2*K_cal] calendar sin/cos.
    n_numeric = len(spec.numeric_inputs)
    values = np.empty((len(frame), n_numeric + 2 * len(spec.calendar)), dtype=np.float32)
    values[:, :n_numeric] = frame[list(spec.numeric_inputs)].to_numpy(dtype=np.float32)
    if spec.calendar:
        values[:, n_numeric:] = calendar_values(index, spec.calendar)  # local time, not UTC
    codes = _encode(frame, spec.categorical, vocabularies)
    columns = (*spec.numeric_inputs, *calendar_columns(spec.calendar))
    panel = Panel(values, columns, codes, spec.categorical, times, offsets, series_list,
                  np.diff(offsets).copy(), tz)
    if future_steps:
        panel = _append_future(panel, future_steps, spec.calendar)
    return panel


def _layout(frame: pd.DataFrame, id_col: str | None) -> tuple[np.ndarray, list, np.ndarray]:
    """Series offsets [S+1], series ids and UTC-naive times [T] of a frame sorted by (id, time)."""
    index = frame.index
    if id_col:
        codes_of_series, series = pd.factorize(frame[id_col], sort=True)
        boundaries = np.flatnonzero(np.diff(codes_of_series)) + 1
        offsets = np.concatenate([[0], boundaries, [len(frame)]]).astype(np.int64)
        series_list = list(series)
    else:
        offsets = np.array([0, len(frame)], dtype=np.int64)
        series_list = [None]
    times = (index.tz_convert("UTC").tz_localize(None) if index.tz is not None else index)
    return offsets, series_list, times.to_numpy(dtype="datetime64[ns]")


def _check_times(times: np.ndarray, offsets: np.ndarray, series: list, source: str) -> None:
    if len(times) == 0:
        raise InputError(f"{source}: no rows")
    step = np.diff(times.astype(np.int64))
    inside = np.ones(len(step), dtype=bool)
    inside[offsets[1:-1] - 1] = False  # differences across series boundaries don't count
    bad = np.flatnonzero(inside & (step <= 0))
    if bad.size:
        row = int(bad[0]) + 1
        kind = "duplicate" if step[bad[0]] == 0 else "unsorted"
        sid = series[int(np.searchsorted(offsets, row, side="right")) - 1]
        where = f" in series {sid!r}" if sid is not None else ""
        raise InputError(
            f"{source}: {kind} timestamp {pd.Timestamp(times[row])} at row {row + 1}{where}; "
            "sort the rows by time and remove duplicates"
        )


def _encode(frame: pd.DataFrame, columns: Sequence[str], vocabularies: dict[str, list[str]] | None) -> np.ndarray:
    codes = np.zeros((len(frame), len(columns)), dtype=np.int64)
    for k, col in enumerate(columns):
        vocab = (vocabularies or {}).get(col)
        if vocab is None:
            raise InputError(f"no vocabulary for categorical column {col!r}; fit a vocabulary on training data")
        position = pd.Index(vocab, dtype="string").get_indexer(frame[col].astype("string"))
        codes[:, k] = position + 1  # -1 (unseen or missing) -> 0
    return codes


def fit_vocabularies(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, list[str]]:
    """Sorted category lists of categorical columns, learned from (training) rows."""
    return {
        col: sorted(str(v) for v in frame[col].dropna().astype("string").unique()) for col in columns
    }


def future_timestamps(panel: Panel, steps: int) -> np.ndarray:
    """[S, steps] UTC-naive timestamps of the `steps` rows after each series' last row.

    Business-day and whole-day steps are taken on the local wall clock (a daily series keeps its time of
    day across daylight-saving changes and weekends); monthly, quarterly and yearly series follow their
    calendar frequency (pandas' inferred one); shorter steps are taken in absolute time.
    """
    wall = _wall_clock(panel.times, panel.tz)
    kind, step = infer_step(wall, panel.offsets)
    last = panel.times[panel.offsets[1:] - 1]  # [S] UTC-naive
    last_wall = wall[panel.offsets[1:] - 1]  # [S] local wall clock
    ahead = np.arange(1, steps + 1)
    day = np.timedelta64(1, "D")
    if kind == "business":
        date = last_wall.astype("datetime64[D]")
        days = np.busday_offset(date[:, None], ahead[None, :], roll="forward")  # [S, steps]
        out = days.astype("datetime64[ns]") + (last_wall - date)[:, None]  # keep the time of day
    elif step >= 28 * day and (calendar_steps := _calendar_steps(wall, panel.offsets, last_wall, steps)) is not None:
        out = calendar_steps  # months, quarters, years: lengths vary, so step the calendar, not a timedelta
    elif panel.tz and step % day == np.timedelta64(0, "ns"):
        out = last_wall[:, None] + step * ahead[None, :]
    else:
        return (last[:, None] + step * ahead[None, :]).astype("datetime64[ns]")
    if not panel.tz:
        return out.astype("datetime64[ns]")
    local = pd.DatetimeIndex(out.ravel()).tz_localize(
        panel.tz, ambiguous=np.ones(out.size, dtype=bool), nonexistent="shift_forward"
    )
    return local.tz_convert("UTC").tz_localize(None).to_numpy(dtype="datetime64[ns]").reshape(out.shape)


def _calendar_steps(wall: np.ndarray, offsets: np.ndarray, last_wall: np.ndarray, steps: int) -> np.ndarray | None:
    """[S, steps] next wall-clock times of monthly/quarterly/yearly series (pandas' inferred frequency of the
    longest series), or None when no such frequency is found."""
    longest = int(np.argmax(np.diff(offsets)))
    rows = wall[offsets[longest]:offsets[longest + 1]]
    if len(rows) < 3:
        return None
    try:
        with warnings.catch_warnings():  # pandas 3 warns that infer_freq will return an offset; to_offset takes both
            warnings.simplefilter("ignore", DeprecationWarning)
            freq = pd.tseries.frequencies.to_offset(pd.infer_freq(pd.DatetimeIndex(rows)))
    except (TypeError, ValueError):
        return None
    if freq is None:
        return None
    return np.stack([
        pd.date_range(pd.Timestamp(t), periods=steps + 1, freq=freq)[1:].to_numpy(dtype="datetime64[ns]")
        for t in last_wall
    ])


def _wall_clock(times: np.ndarray, tz: str | None) -> np.ndarray:
    """UTC-naive `times` as naive local wall-clock times of zone `tz`."""
    if not tz:
        return times
    return pd.DatetimeIndex(times).tz_localize("UTC").tz_convert(tz).tz_localize(None).to_numpy(dtype="datetime64[ns]")


def _append_future(panel: Panel, steps: int, calendar: Sequence[str]) -> Panel:
    """Append `steps` rows per series: extrapolated timestamps, NaN values, calendar features filled in."""
    lengths = panel.lengths
    n_series = panel.n_series
    new_lengths = lengths + steps
    new_offsets = np.concatenate([[0], np.cumsum(new_lengths)]).astype(np.int64)
    dest = np.arange(len(panel.times)) + np.repeat(np.arange(n_series) * steps, lengths)
    future = (new_offsets[1:, None] - steps + np.arange(steps)[None, :]).ravel()  # [S*steps]

    values = np.full((len(dest) + len(future), panel.values.shape[1]), np.nan, dtype=np.float32)
    values[dest] = panel.values
    times = np.empty(len(values), dtype="datetime64[ns]")
    times[dest] = panel.times
    times[future] = future_timestamps(panel, steps).ravel()
    codes = np.zeros((len(values), panel.codes.shape[1]), dtype=np.int64)
    codes[dest] = panel.codes
    out = Panel(values, panel.columns, codes, panel.categorical, times, new_offsets, panel.series,
                panel.n_observed, panel.tz)
    if calendar:
        n_cal = 2 * len(calendar)
        values[future, -n_cal:] = calendar_values(out.timestamps(future), calendar)  # local time
    return out
