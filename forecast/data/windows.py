"""Zero-copy windows X_{t-L+1..t} -> y_{t+1..t+H} over a Panel.

Shape contract (B windows, L lookback, H horizon):
    inputs  [B, L, F_in]   numeric inputs at t-L+1..t (targets, features, known-future, calendar sin/cos)
    targets [B, H, T]      target columns at t+1..t+H
    future  [B, H, K]      known-future columns (and calendar encodings) at t+1..t+H
    codes   [B, L, C]      categorical codes at t-L+1..t
    series  [B]            integer series index (for embeddings)
Windows are strided views (`sliding_window_view`) over the panel's one array; a batch is gathered by
fancy-indexing window origins, which copies only that batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from forecast.config import WindowSpec
from forecast.data.panel import Panel, calendar_columns


def origin_range(
    lengths: np.ndarray, lookback: int, horizon: int, first_target: np.ndarray, last_target: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-series local origins [lo, hi] whose targets fall in rows [first_target, last_target].

    An origin t reads rows t-L+1..t and forecasts t+1..t+H, so t >= L-1, t+1 >= first_target and
    t+H <= last_target. Empty ranges have hi < lo.
    """
    lo = np.maximum(lookback - 1, first_target - 1)
    hi = np.minimum(last_target, lengths - 1) - horizon
    return lo.astype(np.int64), hi.astype(np.int64)


def expand_origins(offsets: np.ndarray, lo: np.ndarray, hi: np.ndarray, stride: int = 1) -> np.ndarray:
    """Global row numbers of origins offsets[s]+lo[s] .. offsets[s]+hi[s] (every `stride`), all series.

    Stride is anchored at the range's last origin, so the most recent origin is always included.
    """
    counts = np.where(hi >= lo, (hi - lo) // stride + 1, 0)
    total = int(counts.sum())
    series = np.repeat(np.arange(len(counts)), counts)
    within = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)  # 0..count-1 per series
    first = hi - (counts - 1) * stride  # aligned so the last origin is hi
    return (offsets[:-1][series] + first[series] + within * stride).astype(np.int64)


@dataclass
class Windows:
    """A set of window origins over a Panel with the column roles of a WindowSpec."""

    panel: Panel
    spec: WindowSpec
    origins: np.ndarray  # [N] global row of each window's origin
    skipped: list = field(default_factory=list)  # series ids too short to give any window

    def __post_init__(self) -> None:
        p, s = self.panel, self.spec
        self.input_idx = p.column_index((*s.numeric_inputs, *calendar_columns(s.calendar)))
        self.target_idx = p.column_index(s.targets)
        self.future_idx = p.column_index((*s.known_future, *calendar_columns(s.calendar)))
        # Views, not copies: [T-L+1, F, L] and [T-H+1, F, H].
        self._past = sliding_window_view(p.values, s.lookback, axis=0)
        self._ahead = sliding_window_view(p.values, s.horizon, axis=0) if len(p.values) > s.horizon else None
        self._past_codes = sliding_window_view(p.codes, s.lookback, axis=0)
        self._series_of_row = p.series_of_row()

    def __len__(self) -> int:
        return len(self.origins)

    @property
    def n_inputs(self) -> int:
        return len(self.input_idx)

    @property
    def n_future(self) -> int:
        return len(self.future_idx)

    def inputs(self, idx: np.ndarray | slice) -> np.ndarray:
        """[B, L, F_in] inputs of windows `idx`."""
        w = self._past[self.origins[idx] - self.spec.lookback + 1]  # [B, F, L]
        return np.ascontiguousarray(w[:, self.input_idx, :].transpose(0, 2, 1))

    def targets(self, idx: np.ndarray | slice) -> np.ndarray:
        """[B, H, T] targets of windows `idx` (NaN where they lie past the data)."""
        w = self._ahead[self.origins[idx] + 1]  # [B, F, H]
        return np.ascontiguousarray(w[:, self.target_idx, :].transpose(0, 2, 1))

    def future(self, idx: np.ndarray | slice) -> np.ndarray:
        """[B, H, K] known-future covariates of windows `idx`."""
        w = self._ahead[self.origins[idx] + 1]  # [B, F, H]
        return np.ascontiguousarray(w[:, self.future_idx, :].transpose(0, 2, 1))

    def codes(self, idx: np.ndarray | slice) -> np.ndarray:
        """[B, L, C] categorical codes of windows `idx`."""
        w = self._past_codes[self.origins[idx] - self.spec.lookback + 1]  # [B, C, L]
        return np.ascontiguousarray(w.transpose(0, 2, 1))

    def series(self, idx: np.ndarray | slice) -> np.ndarray:
        """[B] series index of windows `idx`."""
        return self._series_of_row[self.origins[idx]]

    def batch(self, idx: np.ndarray | slice) -> dict[str, np.ndarray]:
        """Everything a model needs for windows `idx`, as numpy arrays."""
        out = {"x": self.inputs(idx), "series": self.series(idx)}
        if self._ahead is not None:
            out["y"] = self.targets(idx)
            if self.n_future:
                out["future"] = self.future(idx)
        if self.panel.codes.shape[1]:
            out["codes"] = self.codes(idx)
        return out

    def origin_times(self) -> np.ndarray:
        """[N] timestamps of the origins."""
        return self.panel.times[self.origins]

    def subset(self, mask: np.ndarray) -> Windows:
        """The windows where `mask` is true (same panel, no copy of the data)."""
        return Windows(self.panel, self.spec, self.origins[mask], self.skipped)


def make_windows(
    panel: Panel,
    spec: WindowSpec,
    *,
    first_target: np.ndarray | int = 0,
    last_target: np.ndarray | int | None = None,
    require_targets: bool = True,
    require_finite: bool = True,
    stride: int | None = None,
) -> Windows:
    """Windows whose targets lie in per-series local rows [first_target, last_target].

    require_targets=False allows origins up to each series' last observed row (for forecasting the
    future from appended rows). require_finite drops windows with a NaN input (and target, when required).
    Series with fewer than L+H observed rows (L+1 when targets are not required) are reported in `skipped`.
    """
    lengths = panel.n_observed if require_targets else panel.lengths
    lo_target = np.broadcast_to(np.asarray(first_target, dtype=np.int64), lengths.shape)
    hi_target = lengths - 1 if last_target is None else np.broadcast_to(np.asarray(last_target), lengths.shape)
    if require_targets:
        lo, hi = origin_range(lengths, spec.lookback, spec.horizon, lo_target, hi_target)
    else:
        lo = np.maximum(spec.lookback - 1, lo_target - 1)
        hi = np.minimum(hi_target, panel.n_observed - 1)
    origins = expand_origins(panel.offsets, lo, hi, stride or spec.stride)
    needed = spec.window_length if require_targets else spec.lookback
    skipped = [panel.series[s] for s in np.flatnonzero(panel.n_observed < needed)]
    windows = Windows(panel, spec, origins, skipped)
    if require_finite and len(origins):
        windows = windows.subset(_finite_windows(panel, windows, require_targets))
    return windows


def _finite_windows(panel: Panel, windows: Windows, with_targets: bool) -> np.ndarray:
    """[N] True where every value a window reads is finite (O(N) with a prefix count of bad rows)."""
    spec = windows.spec
    prefix = np.concatenate([[0], np.cumsum(_bad_rows(panel.values, windows.input_idx))])
    o = windows.origins
    ok = prefix[o + 1] - prefix[o + 1 - spec.lookback] == 0
    if with_targets:
        cols = np.concatenate([windows.target_idx, windows.future_idx])
        prefix_out = np.concatenate([[0], np.cumsum(_bad_rows(panel.values, cols))])
        ok &= prefix_out[o + 1 + spec.horizon] - prefix_out[o + 1] == 0
    return ok


def _bad_rows(values: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """[T] True where any of `columns` is NaN/inf; column by column, so no copy of the array is made."""
    bad = np.zeros(len(values), dtype=bool)
    for c in columns:
        bad |= ~np.isfinite(values[:, c])
    return bad
