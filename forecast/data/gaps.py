"""The calendar policy, in one place: make gaps visible and, only when asked, fill them.

`regularize` inserts the timestamps a regular calendar skips as all-NaN rows, so a window that spans a gap
reads NaN and is skipped (never silently stretched over the gap). `build_panel` calls it, so fit, predict,
backtest and sweep all see the same calendar; `describe_gaps` words the one note the commands print.
`fill_missing` fills NaNs inside each series by an explicit policy. Both work on a frame sorted by (series, time) and are vectorized over
all series at once (no per-series Python loop), and never let one series' values reach another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

FILL_POLICIES = ("none", "ffill", "interpolate")


def infer_step(times: np.ndarray, offsets: np.ndarray) -> tuple[str, np.timedelta64]:
    """The series' time step: ('business', 1 day) for trading-day data, else ('fixed', modal step).

    `times` are wall-clock times. Trading-day data: the modal step is one day, every row is a weekday
    and some steps are longer (weekends), so the next rows are the next weekdays (holidays are not known).
    """
    diffs = np.diff(times)
    inside = np.ones(len(diffs), dtype=bool)
    inside[offsets[1:-1] - 1] = False
    diffs = diffs[inside]
    if diffs.size == 0:
        return "fixed", np.timedelta64(1, "D")
    counts = pd.Series(diffs.view(np.int64)).value_counts(sort=False)  # hashing: O(N), unlike np.unique
    seen, n = counts.index.to_numpy(dtype=np.int64), counts.to_numpy()
    modal = np.array(seen[n == n.max()].min()).view(diffs.dtype)[()]  # the shortest of the commonest steps
    day = np.timedelta64(1, "D")
    if modal == day and np.any(diffs > day):
        days = times.astype("datetime64[D]").view(np.int64)
        if ((days + 3) % 7 < 5).all():  # 1970-01-01 was a Thursday: Monday..Friday are 0..4
            return "business", day
    return "fixed", modal


def _naive_ns(index: pd.DatetimeIndex) -> np.ndarray:
    """[N] timestamps as int64 nanoseconds (UTC for zoned indexes)."""
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return index.to_numpy(dtype="datetime64[ns]").astype(np.int64)


def series_offsets(frame: pd.DataFrame, id_col: str | None) -> np.ndarray:
    """[S+1] first row of each series in a frame sorted by (id, time)."""
    if id_col is None or len(frame) == 0:
        return np.array([0, len(frame)], dtype=np.int64)
    ids = frame[id_col].array
    change = np.asarray(ids[1:] != ids[:-1], dtype=bool)  # ids are never missing (checked on reading)
    return np.r_[0, np.flatnonzero(change) + 1, len(frame)].astype(np.int64)


@dataclass(frozen=True)
class CalendarGaps:
    """Where a frame's regular calendar skips steps: `missing[i]` steps are absent after row i.

    stamps: [N] int64 ns (UTC for zoned data); step_ns: the calendar step; missing: [N-1] steps to insert
    after each row.
    """

    stamps: np.ndarray
    step_ns: int
    missing: np.ndarray

    @property
    def total(self) -> int:
        return int(self.missing.sum())

    @property
    def n_gaps(self) -> int:
        return int(np.count_nonzero(self.missing))

    @property
    def first(self) -> int:
        """Row after which the first gap opens (-1 when none)."""
        found = np.flatnonzero(self.missing)
        return int(found[0]) if len(found) else -1


def find_gaps(frame: pd.DataFrame, id_col: str | None) -> CalendarGaps | None:
    """The calendar gaps of a frame sorted by (id, time), or None when there are none to fill.

    The step is the modal spacing. Left alone (None, or no gaps in that series): trading-day calendars
    (weekdays only; weekends and holidays are not gaps), spacings that are not a whole number of steps,
    and a series whose rows would fill less than half of its own calendar (trading sessions, event data:
    not a regular calendar with holes).
    """
    if len(frame) < 3:
        return None
    offsets = series_offsets(frame, id_col)
    stamps = _naive_ns(frame.index)
    inside = np.ones(len(stamps) - 1, dtype=bool)
    inside[offsets[1:-1] - 1] = False  # no gap across a series boundary
    diff = np.diff(stamps)
    if not inside.any() or (diff[inside] == diff[inside].min()).all():
        return None  # one step throughout: nothing is missing (the common case, O(N))
    kind, step = infer_step(stamps.view("datetime64[ns]"), offsets)
    step_ns = int(step.astype("timedelta64[ns]").astype(np.int64))
    if kind == "business" or step_ns <= 0:
        return None
    whole = inside & (diff > step_ns) & (diff % step_ns == 0)
    missing = np.where(whole, diff // step_ns - 1, 0)  # [N-1] rows to add after row i
    if not missing.any():
        return None
    lengths = np.diff(offsets)
    per_series = np.add.reduceat(np.r_[missing, 0], offsets[:-1])  # [S] (the boundary entries are 0)
    sparse = per_series > lengths  # more invented rows than real ones: not a calendar with holes
    if sparse.any():
        missing = np.where(np.repeat(sparse, lengths)[:-1], 0, missing)
    if not missing.any():
        return None
    return CalendarGaps(stamps, step_ns, missing)


def describe_gaps(frame: pd.DataFrame, id_col: str | None, source: str) -> str | None:
    """One line stating the calendar policy for this frame's gaps (None when it has none), for a note."""
    gaps = find_gaps(frame, id_col)
    if gaps is None:
        return None
    i = gaps.first
    series = f" in series {frame[id_col].iloc[i]!r}" if id_col else ""
    return (f"{source}: {gaps.n_gaps} gaps in a regular {pd.Timedelta(gaps.step_ns, 'ns')} calendar; first after "
            f"{frame.index[i]}{series} (next is {frame.index[i + 1]}); {gaps.total} missing steps count as "
            "empty rows: no window that spans one is trained on, scored or forecast from")


def regularize(frame: pd.DataFrame, id_col: str | None, gaps: CalendarGaps | None = None) -> tuple[pd.DataFrame, int]:
    """Insert the timestamps missing from a regular calendar as NaN rows; returns (frame, rows inserted).

    The calendar policy of every command (see `find_gaps` for what counts as a gap): a window never
    stretches over a gap, so a seasonal lag of 24 steps is 24 hours back in hourly data.
    gaps: `find_gaps(frame, id_col)` when the caller has it already.
    """
    gaps = find_gaps(frame, id_col) if gaps is None else gaps
    if gaps is None:
        return frame, 0
    stamps, step_ns, missing = gaps.stamps, gaps.step_ns, gaps.missing
    total = gaps.total
    after = np.r_[0, np.cumsum(missing)]  # rows inserted before row i
    n_new = len(frame) + total
    position = np.arange(len(frame)) + after  # [N] new row of each original row
    source = np.repeat(np.arange(len(frame) - 1), missing)  # [total] original row each inserted row follows
    within = np.arange(total) - np.repeat(np.cumsum(missing) - missing, missing)  # 0.. per gap
    inserted_at = position[source] + 1 + within
    src = np.empty(n_new, dtype=np.int64)
    src[position] = np.arange(len(frame))
    src[inserted_at] = source
    is_new = np.zeros(n_new, dtype=bool)
    is_new[inserted_at] = True
    new_stamps = np.empty(n_new, dtype=np.int64)
    new_stamps[position] = stamps
    new_stamps[inserted_at] = stamps[source] + (within + 1) * step_ns

    index = pd.DatetimeIndex(new_stamps.view("datetime64[ns]"), name=frame.index.name)
    if frame.index.tz is not None:
        index = index.tz_localize("UTC").tz_convert(frame.index.tz)
    columns = {}
    for col in frame.columns:
        taken = frame[col].iloc[src].set_axis(index)
        if col == id_col:
            columns[col] = taken  # an inserted row belongs to the series it was inserted into
        elif pd.api.types.is_numeric_dtype(taken) and not pd.api.types.is_bool_dtype(taken):
            data = taken.to_numpy(dtype=np.float64, copy=True)
            data[is_new] = np.nan
            columns[col] = data
        else:
            columns[col] = taken.where(~is_new)  # text/categorical -> missing
    out = pd.DataFrame(columns, index=index)
    out.attrs = dict(frame.attrs)
    return out, total


def fill_missing(frame: pd.DataFrame, id_col: str | None, columns: Sequence[str], policy: str) -> tuple[pd.DataFrame, int]:
    """Fill NaNs of `columns` inside each series; returns (frame, values filled).

    "ffill" carries the last value forward; "interpolate" draws a straight line between the values on
    each side (numeric columns; text columns are carried forward). Leading NaNs stay NaN (nothing before
    them to use), trailing ones stay NaN under "interpolate" (nothing after them).
    """
    if policy not in FILL_POLICIES:
        raise ValueError(f"fill policy {policy!r} is not one of {', '.join(FILL_POLICIES)}")
    if policy == "none" or not len(frame):
        return frame, 0
    offsets = series_offsets(frame, id_col)
    n = len(frame)
    start = np.repeat(offsets[:-1], np.diff(offsets))  # [N] first row of each row's series
    end = np.repeat(offsets[1:] - 1, np.diff(offsets))  # [N] last row of each row's series
    rows = np.arange(n)
    out = frame.copy()
    filled = 0
    for col in columns:
        values = out[col]
        valid = values.notna().to_numpy()
        if valid.all():
            continue
        prev = np.maximum.accumulate(np.where(valid, rows, -1))  # last valid row at or before i
        has_prev = prev >= start
        if policy == "ffill" or not pd.api.types.is_numeric_dtype(values):
            take = ~valid & has_prev
            if take.any():
                data = values.to_numpy(copy=True)
                data[take] = data[prev[take]]
                out[col] = pd.Series(data, index=out.index, dtype=values.dtype)
            filled += int(take.sum())
            continue
        nxt = np.minimum.accumulate(np.where(valid, rows, n)[::-1])[::-1]  # first valid row at or after i
        take = ~valid & has_prev & (nxt <= end)
        if take.any():
            y = values.to_numpy(dtype=np.float64, copy=True)
            p, q = prev[take], nxt[take]
            y[take] = y[p] + (y[q] - y[p]) * (rows[take] - p) / (q - p)
            out[col] = y
        filled += int(take.sum())
    return out, filled
