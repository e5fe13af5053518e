"""Streaming batch prediction: forecast a table chunk by chunk of whole series, writing each chunk's rows as
soon as they are ready, so memory is bounded by the chunk and not by the file.

The loop does not know how a chunk is forecast: it takes any `forecast_chunk(frame) -> BatchForecast`
(a saved model through `batch_predict`, or another engine), so the in-memory, streamed and distributed
paths share one per-chunk function and give the same rows.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import pandas as pd

from forecast.data.chunks import DEFAULT_CHUNK_SERIES, SeriesChunks
from forecast.errors import DataWarning
from forecast.io import table_appender
from forecast.models.batch import BatchForecast, batch_predict

ChunkForecaster = Callable[[pd.DataFrame], BatchForecast]
"""Forecasts of one frame of whole series (time-indexed, sorted by series then time)."""


def model_forecaster(model, **options) -> ChunkForecaster:
    """`batch_predict(model, frame, **options)` as a chunk forecaster (origin, fill, batch_size, future,
    intervals: see batch_predict)."""
    return functools.partial(batch_predict, model, **options)


def combine(parts: Sequence[BatchForecast], rows_written: int = 0) -> BatchForecast:
    """One summary of the parts of a chunked run: counts added, skipped series listed in chunk order. The
    forecasts frame is empty (the parts' rows were written as they came)."""
    skipped: dict[str, list[str]] = {}
    seconds: dict[str, float] = {}
    for part in parts:
        for reason, ids in part.skipped.items():
            skipped.setdefault(reason, []).extend(ids)
        for stage, value in part.seconds.items():
            seconds[stage] = seconds.get(stage, 0.0) + value
    return BatchForecast(pd.DataFrame(), sum(p.n_series for p in parts), skipped,
                         sum(p.rows_inserted for p in parts), sum(p.values_filled for p in parts),
                         sum(p.windows_dropped for p in parts), seconds, rows_written)


def stream_forecasts(chunks: Iterable[Any], forecast_chunk: Callable[[Any], BatchForecast],
                     write: Callable[[pd.DataFrame], None]) -> BatchForecast:
    """Forecast each chunk and `write` its rows before reading the next; the combined summary.

    chunks: frames of whole series for a ChunkForecaster, or whatever `forecast_chunk` takes (the
    distributed path passes results computed on workers).

    The data warnings of the chunks (gaps, sorting, fills) are shown once each when all went well,
    with how many chunks repeated them, instead of once per chunk.
    """
    parts, rows = [], 0
    with chunk_warnings():
        for chunk in chunks:
            part = forecast_chunk(chunk)
            if len(part.forecasts):
                write(part.forecasts)
                rows += len(part.forecasts)
            part.forecasts = pd.DataFrame()  # written: let it go
            parts.append(part)
    return combine(parts, rows)


@contextlib.contextmanager
def chunk_warnings() -> Iterator[None]:
    """Hold the DataWarnings raised inside; once the block succeeds, warn each kind once (kinds differ in
    more than their numbers), saying in how many chunks it came up."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        yield
    kinds: dict[str, list[str]] = {}
    for warning in caught:
        if not issubclass(warning.category, DataWarning):
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
            continue
        text = str(warning.message).splitlines()[0]
        kinds.setdefault(re.sub(r"\d+", "#", text), []).append(text)
    for texts in kinds.values():
        more = f" (first chunk; {len(texts)} chunks had such rows)" if len(texts) > 1 else ""
        warnings.warn(texts[0] + more, DataWarning, stacklevel=3)


def predict_file(model, data: str | os.PathLike[str], out: str | os.PathLike[str], *,
                 chunk_series: int = DEFAULT_CHUNK_SERIES, time_col: str | None = None, missing: str = "keep",
                 sort: bool = False, threads: int = 0, forecast_chunk: ChunkForecaster | None = None,
                 check: Callable[[BatchForecast], None] | None = None, **options) -> BatchForecast:
    """Forecast every series of a long CSV/Parquet file of any size with a fitted `model` (which has an id
    column), streaming `chunk_series` whole series at a time, and write the forecasts to `out` (CSV or
    Parquet, renamed into place only at the end). Returns the run's summary (its forecasts frame is empty).

    forecast_chunk: how a chunk is forecast (default `model_forecaster(model, **options)`).
    check: called with the summary before `out` is put in place; raise there to leave no output.
    time_col, missing, sort: the loader's options; threads: DuckDB's (0: one per core).
    """
    spec = model.spec_
    forecast_chunk = forecast_chunk or model_forecaster(model, **options)
    with SeriesChunks(data, time_col, spec.id_col, chunk_series=chunk_series, numeric=spec.numeric_inputs,
                      missing=missing, sort=sort, threads=threads) as chunks, table_appender(out) as write:
        result = stream_forecasts(chunks, forecast_chunk, write)
        if check is not None:
            check(result)
    return result
