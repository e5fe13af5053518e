"""Zero-copy windows X_{t-L+1..t} -> y_{t+1..t+H} over a Panel.

Shape contract (B windows, L lookback, H horizon):
    x        [B, L, F_in]  numeric inputs at t-L+1..t (targets, features, known-future, calendar sin/cos)
    y        [B, H, T]     target columns at t+1..t+H
    future   [B, H, K]     known-future columns (and calendar encodings) at t+1..t+H
    codes    [B, L, C]     categorical codes at t-L+1..t
    series   [B]           integer series index (for embeddings)
    lengths  [B]           real (unpadded) input rows, only for windows made with `min_lookback`
Windows are strided views (`sliding_window_view`) over the panel's one array, laid out [rows, L, F] so a
window is one contiguous block of memory; a batch is gathered by fancy-indexing window starts, which
copies only that batch. Nothing after the origin is read except targets and known-future columns.

Short histories: by default an origin needs L rows of history, and series with fewer than L+H rows are
skipped and listed in `Windows.skipped`. With `min_lookback=m` an origin needs only m rows; its window is
left-padded with zeros and `lengths` says how many rows are real (see `forecast.data.padding`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from forecast.config import WindowSpec
from forecast.data.panel import Panel, calendar_columns
from forecast.errors import InputError


def origin_range(
    lengths: np.ndarray, lookback: int, horizon: int, first_target: np.ndarray, last_target: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-series local origins [lo, hi] whose targets fall in rows [first_target, last_target].

    An origin t reads rows t-L+1..t and forecasts t+1..t+H, so t >= L-1, t+1 >= first_target and
    t+H <= last_target (pass the minimum history as `lookback` for padded windows). Empty ranges have hi < lo.
    """
    lo = np.maximum(lookback - 1, first_target - 1)
    hi = np.minimum(last_target, lengths - 1) - horizon
    return lo.astype(np.int64), hi.astype(np.int64)


def expand_origins(offsets: np.ndarray, lo: np.ndarray, hi: np.ndarray, stride: int = 1) -> np.ndarray:
    """Global row numbers of origins offsets[s]+lo[s] .. offsets[s]+hi[s] (every `stride`), all series.

    Stride is anchored at the range's last origin, so the most recent origin is always included.
    """
    counts = np.where(hi >= lo, (hi - lo) // stride + 1, 0)
    first = offsets[:-1] + hi - (counts - 1) * stride  # global first origin, aligned so the last one is hi
    if len(counts) == 1:  # one series: a plain range, no per-window bookkeeping arrays
        return np.arange(first[0], first[0] + counts[0] * stride, stride, dtype=np.int64)
    total = int(counts.sum())
    series = np.repeat(np.arange(len(counts)), counts)
    within = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)  # 0..count-1 per series
    return (first[series] + within * stride).astype(np.int64)


def _column_selector(idx: np.ndarray) -> slice | np.ndarray:
    """A slice when `idx` is a contiguous ascending run (basic indexing, no gather), else the index array."""
    if len(idx) and np.array_equal(idx, np.arange(idx[0], idx[0] + len(idx))):
        return slice(int(idx[0]), int(idx[0]) + len(idx))
    return idx


@dataclass
class Windows:
    """A set of window origins over a Panel with the column roles of a WindowSpec.

    origins: [N] global row of each window's origin. skipped: ids of series too short to give any window.
    min_lookback: None for full windows; m for windows with at least m real rows, left-padded to L.
    """

    panel: Panel
    spec: WindowSpec
    origins: np.ndarray
    skipped: list = field(default_factory=list)
    min_lookback: int | None = None

    def __post_init__(self) -> None:
        p, s = self.panel, self.spec
        self.origins = np.asarray(self.origins, dtype=np.int64)
        self.input_idx = p.column_index((*s.numeric_inputs, *calendar_columns(s.calendar)))
        self.target_idx = p.column_index(s.targets)
        self.future_idx = p.column_index((*s.known_future, *calendar_columns(s.calendar)))
        self._inputs_sel = _column_selector(self.input_idx)
        self._target_sel = _column_selector(self.target_idx)
        self._future_sel = _column_selector(self.future_idx)
        self._all_inputs = isinstance(self._inputs_sel, slice) and self._inputs_sel == slice(0, p.values.shape[1])
        # Views, not copies: [T-L+1, L, F] and [T-H+1, H, F]; each window is a contiguous block.
        # (A panel shorter than L has no full window; its padded windows are gathered row by row.)
        long_enough = len(p.values) >= s.lookback
        self._past = sliding_window_view(p.values, s.lookback, axis=0).transpose(0, 2, 1) if long_enough else None
        self._past_codes = (
            sliding_window_view(p.codes, s.lookback, axis=0).transpose(0, 2, 1) if long_enough else None
        )
        # Targets of origin t start at row t+1, so every origin needs t+H <= T-1.
        self._has_targets = len(self.origins) == 0 or int(self.origins.max()) + s.horizon < len(p.values)
        self._ahead = (
            sliding_window_view(p.values, s.horizon, axis=0).transpose(0, 2, 1) if len(p.values) >= s.horizon else None
        )

    def __len__(self) -> int:
        return len(self.origins)

    @property
    def n_inputs(self) -> int:
        return len(self.input_idx)

    @property
    def n_future(self) -> int:
        return len(self.future_idx)

    @property
    def padded(self) -> bool:
        """True when windows may hold fewer than L real rows (made with `min_lookback`)."""
        return self.min_lookback is not None

    def series(self, idx: np.ndarray | slice) -> np.ndarray:
        """[B] series index of windows `idx`."""
        return np.searchsorted(self.panel.offsets, self.origins[idx], side="right") - 1

    def lengths(self, idx: np.ndarray | slice) -> np.ndarray:
        """[B] real input rows of windows `idx` (L for every full window)."""
        origins = self.origins[idx]
        if not self.padded:
            return np.full(len(origins), self.spec.lookback, dtype=np.int64)
        first_row = self.panel.offsets[self.series(idx)]
        return np.minimum(self.spec.lookback, origins - first_row + 1)

    def _gather_past(self, view: np.ndarray | None, source: np.ndarray, idx: np.ndarray | slice) -> np.ndarray:
        """[B, L, F] rows t-L+1..t of `source` per window; rows before a series' start are zeros."""
        origins = self.origins[idx]
        lookback = self.spec.lookback
        if self.padded or view is None:
            first_row = self.panel.offsets[self.series(idx)]  # [B]
            if view is None or np.any(origins - first_row + 1 < lookback):
                rows = origins[:, None] - lookback + 1 + np.arange(lookback)  # [B, L] global rows
                pad = rows < first_row[:, None]  # [B, L] rows before the series starts
                out = source[np.where(pad, first_row[:, None], rows)]  # [B, L, F]
                out[pad] = 0
                return out
        return view[origins - lookback + 1]  # [B, L, F], one contiguous block per window

    def inputs(self, idx: np.ndarray | slice) -> np.ndarray:
        """[B, L, F_in] inputs of windows `idx` (left-padded with zeros for short windows)."""
        w = self._gather_past(self._past, self.panel.values, idx)  # [B, L, F]
        return w if self._all_inputs else np.ascontiguousarray(w[:, :, self._inputs_sel])

    def _ahead_rows(self, idx: np.ndarray | slice) -> np.ndarray:
        if not self._has_targets:
            raise IndexError("some origins have fewer than H rows after them; append future rows (future_steps)")
        origins = self.origins[idx]
        if not len(origins):
            return np.empty((0, self.spec.horizon, self.panel.values.shape[1]), dtype=self.panel.values.dtype)
        return self._ahead[origins + 1]  # [B, H, F]

    def targets(self, idx: np.ndarray | slice) -> np.ndarray:
        """[B, H, T] targets of windows `idx` (NaN where they lie past the data)."""
        return np.ascontiguousarray(self._ahead_rows(idx)[:, :, self._target_sel])

    def future(self, idx: np.ndarray | slice) -> np.ndarray:
        """[B, H, K] known-future covariates of windows `idx`."""
        return np.ascontiguousarray(self._ahead_rows(idx)[:, :, self._future_sel])

    def codes(self, idx: np.ndarray | slice) -> np.ndarray:
        """[B, L, C] categorical codes of windows `idx` (0, the unseen code, in padding)."""
        return self._gather_past(self._past_codes, self.panel.codes, idx)

    def batch(self, idx: np.ndarray | slice) -> dict[str, np.ndarray]:
        """Everything a model needs for windows `idx`, as numpy arrays (shapes in the module docstring)."""
        out = {"x": self.inputs(idx), "series": self.series(idx)}
        if self._has_targets:
            ahead = self._ahead_rows(idx)  # [B, H, F], gathered once for targets and known-future columns
            out["y"] = np.ascontiguousarray(ahead[:, :, self._target_sel])
            if self.n_future:
                out["future"] = np.ascontiguousarray(ahead[:, :, self._future_sel])
        if self.panel.codes.shape[1]:
            out["codes"] = self.codes(idx)
        if self.padded:
            out["lengths"] = self.lengths(idx)
        return out

    def origin_times(self) -> np.ndarray:
        """[N] timestamps of the origins."""
        return self.panel.times[self.origins]

    def subset(self, mask: np.ndarray) -> Windows:
        """The windows where `mask` (boolean or integer index) selects (same panel, no copy of the data)."""
        return Windows(self.panel, self.spec, self.origins[mask], self.skipped, self.min_lookback)


@dataclass
class ArrayWindows:
    """Windows already cut into arrays, with the `len()` / `batch(idx)` of `Windows` (what training reads).

    x: [N, L, F] inputs; y: [N, H, T] targets. For estimators that take windows as arrays (RNNStateFeatures).
    """

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.x)

    def batch(self, idx: np.ndarray | slice) -> dict[str, np.ndarray]:
        """{"x": [B, L, F], "y": [B, H, T]} of windows `idx` (one fancy index each)."""
        return {"x": self.x[idx], "y": self.y[idx]}


def make_windows(
    panel: Panel,
    spec: WindowSpec,
    *,
    first_target: np.ndarray | int = 0,
    last_target: np.ndarray | int | None = None,
    require_targets: bool = True,
    require_finite: bool = True,
    stride: int | None = None,
    min_lookback: int | None = None,
) -> Windows:
    """Windows whose targets lie in per-series local rows [first_target, last_target].

    require_targets=False allows origins up to each series' last observed row (for forecasting the
    future from appended rows). require_finite drops windows with a NaN input (and, when targets are
    required, a NaN target or known-future value after the origin).
    min_lookback=m (1 <= m <= L) also makes windows with only m..L-1 rows of history, left-padded; by
    default every window has L real rows. Series with fewer than L+H observed rows (m+H with min_lookback;
    L or m when targets are not required) are reported in `skipped`.
    """
    if min_lookback is not None and not 1 <= min_lookback <= spec.lookback:
        raise ValueError(f"min_lookback must be in [1, lookback={spec.lookback}], got {min_lookback!r}")
    history = spec.lookback if min_lookback is None else min_lookback
    lengths = panel.n_observed if require_targets else panel.lengths
    lo_target = np.broadcast_to(np.asarray(first_target, dtype=np.int64), lengths.shape)
    hi_target = (
        lengths - 1 if last_target is None
        else np.broadcast_to(np.asarray(last_target, dtype=np.int64), lengths.shape)
    )
    if require_targets:
        lo, hi = origin_range(lengths, history, spec.horizon, lo_target, hi_target)
    else:
        lo = np.maximum(history - 1, lo_target - 1)
        hi = np.minimum(hi_target, panel.n_observed - 1)
    origins = expand_origins(panel.offsets, lo, hi, stride or spec.stride)
    needed = history + spec.horizon if require_targets else history
    skipped = [panel.series[s] for s in np.flatnonzero(panel.n_observed < needed)]
    windows = Windows(panel, spec, origins, skipped, min_lookback)
    if require_finite and len(origins):  # NaN inputs (or targets) would poison a batch's loss
        ok = finite_windows(panel, windows, require_targets)
        if not ok.all():
            windows = windows.subset(ok)
    return windows


def finite_windows(panel: Panel, windows: Windows, with_targets: bool, chunk: int = 1 << 15) -> np.ndarray:
    """[N] True where every value a window reads is finite.

    O(N) with prefix counts of bad rows; origins are taken in chunks so the temporaries stay small
    next to the series whatever N is.
    """
    spec = windows.spec
    bad_in = _bad_rows(panel.values, windows.input_idx)
    # Rows after the origin matter only for training windows (targets and known-future columns). A
    # forecasting window whose known-future values are missing is kept: its forecast is NaN, not a guess.
    ahead_cols = np.concatenate([windows.target_idx, windows.future_idx])
    bad_out = _bad_rows(panel.values, ahead_cols) if with_targets else None
    if not bad_in.any() and (bad_out is None or not bad_out.any()):
        return np.ones(len(windows), dtype=bool)  # the common case: clean data, no bookkeeping at all
    inputs = _prefix_count(bad_in)
    outputs = _prefix_count(bad_out) if bad_out is not None else None
    ok = np.empty(len(windows), dtype=bool)
    for start in range(0, len(windows), chunk):
        o = windows.origins[start:start + chunk]
        first = o - spec.lookback + 1  # first input row (clipped to the series start for padded windows)
        if windows.padded:
            first = np.maximum(first, panel.offsets[np.searchsorted(panel.offsets, o, side="right") - 1])
        good = inputs[o + 1] == inputs[first]
        if outputs is not None:
            good &= outputs[o + 1 + spec.horizon] == outputs[o + 1]
        ok[start:start + chunk] = good
    return ok


def _prefix_count(bad: np.ndarray) -> np.ndarray:
    """[T+1] number of bad rows before each row (int32 while it fits: half the memory of int64)."""
    out = np.zeros(len(bad) + 1, dtype=np.int32 if len(bad) < 2**31 - 1 else np.int64)
    np.cumsum(bad, out=out[1:])
    return out


def _bad_rows(values: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """[T] True where any of `columns` is NaN/inf; column by column, so no copy of the array is made."""
    bad = np.zeros(len(values), dtype=bool)
    for c in columns:
        bad |= ~np.isfinite(values[:, c])
    return bad


def select_origins(panel: Panel, origins: np.ndarray, origin: str | pd.Timestamp) -> np.ndarray:
    """Keep the origins asked for: 'last' per series, 'all', or the one at a date in each series."""
    if len(origins) == 0:
        return origins
    if origin == "all":
        return origins
    series_idx = np.searchsorted(panel.offsets, origins, side="right") - 1
    if origin == "last":
        is_last = np.r_[series_idx[1:] != series_idx[:-1], True]
        return origins[is_last]
    try:
        stamp = pd.Timestamp(origin)
    except (TypeError, ValueError):
        raise InputError(f"origin must be 'last', 'all' or a date, got {origin!r}") from None
    times = panel.timestamps(origins)
    if stamp.tz is None and times.tz is not None:
        stamp = stamp.tz_localize(times.tz)
    keep = origins[times == stamp]
    if len(keep) == 0:
        raise InputError(f"no series has a forecast origin at {stamp} (with a full lookback before it)")
    return keep


def forecast_windows(panel: Panel, spec: WindowSpec, origin: str | pd.Timestamp = "last", *,
                     min_lookback: int | None = None) -> tuple[Windows, list[str]]:
    """Windows to forecast from at `origin` ('last', 'all' or a date), with finite inputs, and the skipped series.

    Skipped: series too short for a window, plus (origin='last') series whose last window has gaps. The
    windows are made once; the finite ones are a subset of them.
    """
    every = make_windows(panel, spec, require_targets=False, require_finite=False, min_lookback=min_lookback)
    finite = every.subset(finite_windows(panel, every, with_targets=False)) if len(every) else every
    chosen = Windows(panel, spec, select_origins(panel, finite.origins, origin), every.skipped, min_lookback)
    skipped = set(every.skipped)
    if origin == "last":
        missing = np.setdiff1d(select_origins(panel, every.origins, "last"), chosen.origins)
        series = np.searchsorted(panel.offsets, missing, side="right") - 1
        skipped |= set(np.asarray(panel.series, dtype=object)[series].tolist())
    return chosen, sorted(map(str, skipped))
