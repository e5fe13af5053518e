"""Forecast every series of a (possibly huge) long frame in one pass, skipping the series that cannot be.

`batch_predict` wraps a fitted forecaster's `predict`: it makes calendar gaps visible (NaN rows), fills
holes only under an explicit policy, trims each series to the rows the requested origins read, and feeds
the series through the model in chunks (with a progress bar), so that memory stays bounded and one bad
series never fails or changes the forecasts of another. Skipped series are counted by reason.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecast.data.gaps import FILL_POLICIES, fill_missing, regularize, series_offsets
from forecast.errors import InputError

SHORT, HOLES, NO_ORIGIN = "too short", "missing values or time gaps", "no row at the origin"


@dataclass
class BatchForecast:
    """The forecasts frame plus what happened to each series that has no forecast."""

    forecasts: pd.DataFrame
    n_series: int
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason -> series ids (text)
    rows_inserted: int = 0  # timestamps a regular calendar skipped, added as NaN rows
    values_filled: int = 0  # NaNs filled under the fill policy
    windows_dropped: int = 0  # origin="all": windows skipped for holes inside them
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per stage: prepare, predict, assemble
    rows_written: int = 0  # a chunked run's forecast rows, written as they came (its `forecasts` is empty)

    @property
    def n_forecast(self) -> int:
        return self.n_series - sum(len(v) for v in self.skipped.values())

    def skipped_summary(self, lookback: int, *, examples: int = 3) -> str:
        """One line: how many series were skipped, why, and the first few ids of each reason."""
        parts = []
        for reason, ids in self.skipped.items():
            if not ids:
                continue
            what = f"{reason} for lookback {lookback}" if reason == SHORT else reason
            shown = ", ".join(ids[:examples]) + (", ..." if len(ids) > examples else "")
            parts.append(f"{len(ids)} {what} ({shown})")
        return f"skipped {sum(len(v) for v in self.skipped.values())} of {self.n_series} series: " + "; ".join(parts)


def batch_predict(model, frame: pd.DataFrame, *, origin: str | pd.Timestamp = "last", fill: str = "none",
                  batch_size: int = 4096, progress: bool = False,
                  future: pd.DataFrame | None = None, intervals: Sequence[float] | None = None) -> BatchForecast:
    """Forecasts for every series of `frame` (sorted by series, then time) with a fitted `model`.

    origin: "last" (each series' last row), "all" (every origin with a full window) or a date.
    fill: "none" skips series whose window has holes; "ffill"/"interpolate" fill them first.
    batch_size: windows per forward pass; series are fed in chunks of about that many windows.
    future: values of the model's known-future columns after the data (time-indexed, with the id column
        for panels), passed on to `model.predict(..., future=...)` chunk by chunk.
    intervals: levels passed to a ConformalForecaster's or a distributional RNN's predict (others refuse them).
    """
    if fill not in FILL_POLICIES:
        raise InputError(f"fill={fill!r} is not one of {', '.join(FILL_POLICIES)}")
    started = time.perf_counter()
    spec = model.spec_
    source = frame.attrs.get("source", "data")
    if hasattr(model, "check_columns"):
        model.check_columns(frame, source)
    id_col = spec.id_col
    keep = ([id_col] if id_col else []) + list(spec.columns)
    frame = frame[keep]
    frame, inserted = regularize(frame, id_col)
    frame, filled = fill_missing(frame, id_col, spec.columns, fill)
    offsets = series_offsets(frame, id_col)
    lengths = np.diff(offsets)
    ids = _series_ids(frame, id_col, offsets)

    skipped: dict[str, list[str]] = {SHORT: [], HOLES: []}
    if origin not in ("last", "all"):
        stamp = _origin_stamp(origin, frame.index)
        at = frame.index == stamp
        has = np.add.reduceat(at, offsets[:-1]) > 0 if len(frame) else np.zeros(0, bool)
        skipped[NO_ORIGIN] = [ids[s] for s in np.flatnonzero(~has)]
        if not has.any():
            return BatchForecast(pd.DataFrame(), len(ids), {NO_ORIGIN: ids}, inserted, filled)
        keep_rows = np.repeat(has, lengths)
        frame = frame[keep_rows]
        ids = [ids[s] for s in np.flatnonzero(has)]
        first_at = np.flatnonzero(frame.index == stamp)
        offsets = series_offsets(frame, id_col)
        lengths = np.diff(offsets)
        rows_before = first_at - offsets[:-1] + 1  # rows up to and including the origin, per series
    else:
        rows_before = lengths
        if origin == "last" and _reads_only_its_window(model):  # only the rows the last window needs
            frame, offsets = _tail(frame, offsets, spec.lookback + (model.target_transform != "none"))
    short = rows_before < spec.lookback
    skipped[SHORT] = [ids[s] for s in np.flatnonzero(short)]

    windows = np.maximum(lengths - spec.lookback + 1, 1) if origin == "all" else np.ones(len(lengths), np.int64)
    chunk_of = np.cumsum(windows) // max(batch_size, 1)  # [S] chunk number of each series
    bounds = np.flatnonzero(np.r_[True, chunk_of[1:] != chunk_of[:-1], True])
    parts = []
    from tqdm.auto import tqdm

    prepared = time.perf_counter()

    with tqdm(total=len(ids), unit="series", disable=not progress, file=sys.stderr, leave=False) as bar:
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            chunk = frame.iloc[offsets[a]:offsets[b]]
            chunk.attrs = {}
            if not short[a:b].all():
                part = _predict_chunk(model, chunk, origin, batch_size, _future_of(future, chunk, id_col),
                                      intervals)
                if len(part):
                    parts.append(part)
            bar.update(int(b - a))
    predicted = time.perf_counter()
    result = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if origin == "last" and len(result):  # forecasts from each series' last row only
        last = pd.Series(frame.index[offsets[1:] - 1], index=ids)
        expected = last.iloc[0] if id_col is None else result[id_col].astype(str).map(last)
        result = result[(result["origin"] == expected).to_numpy()]
    got: set[str] = set()
    if len(result):
        got = set(map(str, result[id_col].unique())) if id_col else {ids[0]}
    short_ids = set(skipped[SHORT])
    skipped[HOLES] = [s for s in ids if s not in got and s not in short_ids]
    dropped = 0
    if origin == "all":
        expected_windows = int(np.maximum(lengths - spec.lookback + 1, 0).sum())
        dropped = expected_windows - len(result) // (spec.horizon * len(spec.targets))
    result = result.reset_index(drop=True)
    seconds = {"prepare": prepared - started, "predict": predicted - prepared,
               "assemble": time.perf_counter() - predicted}
    return BatchForecast(result, len(ids) + len(skipped.get(NO_ORIGIN, [])),
                         {k: v for k, v in skipped.items() if v}, inserted, filled, max(dropped, 0), seconds)


def _capabilities(model) -> tuple[bool, bool]:
    """(recurrent, reads known-future values) of `model`: as its registry entry says, or as the model says
    itself (an OnnxForecaster, which is not registered: looking it up would import torch)."""
    if getattr(type(model), "recurrent", None) is not None:
        return bool(model.recurrent), bool(model.known_future)
    from forecast.models import registry
    from forecast.models.conformal import ConformalForecaster

    entry = registry.entry_of(model)
    # A conformal wrapper passes known-future values to what it wraps: that model says whether it reads them.
    inner = registry.entry_of(model.forecaster_) if isinstance(model, ConformalForecaster) else entry
    return (entry is not None and entry.recurrent, inner is not None and inner.known_future)


def _reads_only_its_window(model) -> bool:
    """True for models whose forecast reads only the last `lookback` rows (+1 for a differencing transform):
    the recurrent entries of the registry; others (e.g. a historical mean) may read the whole history, so
    their input is not trimmed."""
    return _capabilities(model)[0]


def _future_of(future: pd.DataFrame | None, chunk: pd.DataFrame, id_col: str | None) -> pd.DataFrame | None:
    """The rows of `future` that belong to the series of `chunk`."""
    if future is None or id_col is None:
        return future
    return future[future[id_col].isin(chunk[id_col].unique())]


def _predict_chunk(model, chunk: pd.DataFrame, origin, batch_size: int,
                   future: pd.DataFrame | None = None, intervals: Sequence[float] | None = None) -> pd.DataFrame:
    recurrent, known_future = _capabilities(model)
    options: dict = {"origin": origin}
    if intervals is not None:
        # scikit-learn is imported only when intervals are asked (the ONNX path stays without it)
        from forecast.models.conformal import ConformalForecaster

        own = getattr(model, "task", None) == "distribution"  # a distributional RNN's own bounds
        if not isinstance(model, ConformalForecaster) and not own:
            raise InputError(f"{type(model).__name__} was saved without calibration errors, so it has no honest "
                             "intervals; fit it again with --intervals 0.8,0.95 (forecast fit) to calibrate it")
        options["intervals"] = intervals
    if recurrent:
        options["batch_size"] = batch_size
    if future is not None:
        if not known_future:
            raise InputError(f"{type(model).__name__} reads no known-future values; drop --future")
        options["future"] = future
    try:
        return model.predict(chunk, **options)
    except InputError:
        if origin in ("last", "all"):
            raise
        return pd.DataFrame()  # a date no series of this chunk has a complete window at


def _series_ids(frame: pd.DataFrame, id_col: str | None, offsets: np.ndarray) -> list[str]:
    if id_col is None:
        return [str(frame.attrs.get("source", "series"))]
    return [str(v) for v in frame[id_col].iloc[offsets[:-1]].tolist()]


def _tail(frame: pd.DataFrame, offsets: np.ndarray, rows: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The last `rows` rows of each series (all of a shorter one) and the new offsets."""
    lengths = np.diff(offsets)
    if (lengths <= rows).all():
        return frame, offsets
    position = np.arange(len(frame)) - np.repeat(offsets[:-1], lengths)
    keep = position >= np.repeat(lengths - rows, lengths)
    new_lengths = np.minimum(lengths, rows)
    return frame[keep], np.r_[0, np.cumsum(new_lengths)].astype(np.int64)


def _origin_stamp(origin, index: pd.DatetimeIndex) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(origin)
    except (TypeError, ValueError):
        raise InputError(f"origin must be 'last', 'all' or a date like 2015-06-30, got {origin!r}") from None
    if stamp.tz is None and index.tz is not None:
        stamp = stamp.tz_localize(index.tz)
    return stamp
