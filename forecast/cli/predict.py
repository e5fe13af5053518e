"""`forecast predict`: forecast every series of a file with a saved model and write the forecasts table."""

from __future__ import annotations

import argparse

from forecast.cli.common import (
    add_command,
    add_common,
    add_threads,
    apply_threads,
    check_output_path,
    data_notes,
    floats,
    load_model_dir,
    non_negative_int,
    note,
    note_extra_columns,
    positive_int,
    read,
    show_progress,
)
from forecast.data.chunks import DEFAULT_CHUNK_SERIES, STREAM_ABOVE_ROWS
from forecast.errors import InputError

EXAMPLE = f"""examples:
  forecast predict --model models/seattle-lstm seattle-weather --out forecasts.csv
  forecast predict --model models/prices-gru prices.parquet --origin all --out backtest.parquet
  forecast predict --model models/stations stations.csv --origin 2013-06-30 --fill interpolate --out f.csv
  forecast predict --model models/stations huge.parquet --chunk-series 10000 --out f.parquet
  forecast predict --model models/stations dataset/ --dask local:2 --out f.parquet

DATA must have the columns the model was trained on (and its series column, for a long file holding
many series: all of them are forecast in one pass); other columns are ignored (a note lists them).
The output has one row per (series, origin, step): the series id (long files), origin, timestamp
(of the forecast target), step 1..H, forecast, and q0.1-style quantile columns when the model has them;
a model fit with --intervals or --distribution adds lower_80, upper_80, ... (--intervals picks other levels).
Series too short for the lookback, or with missing values or skipped timestamps inside the window, are
skipped and reported (never failing the others) unless --fill fills the holes first.
A file of more than {STREAM_ABOVE_ROWS:,} rows is streamed (--chunk-series): its rows may come in any order, memory
stays bounded, and the forecasts, notes and errors are the in-memory path's.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "predict", help="forecast every series in a file with a saved model",
        description="Forecast every series in DATA with the model saved in --model; write CSV or Parquet.",
        epilog=EXAMPLE, data=True,
    )
    p.add_argument("--model", required=True, metavar="DIR|FILE.onnx",
                   help="folder written by `forecast fit`, or a .onnx file written by `forecast export` "
                        "(run by ONNX Runtime, without torch)")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="forecasts file, .csv or .parquet (written atomically: no partial file on failure)")
    p.add_argument("--origin", default="last", metavar="last|all|DATE",
                   help="forecast from each series' last row (default), from every possible origin "
                        "(for evaluation), or from one date")
    p.add_argument("--fill", choices=("none", "ffill", "interpolate"), default="none",
                   help="how to fill missing values and skipped timestamps inside series before forecasting "
                        "(default none: series with holes in their window are skipped and reported)")
    p.add_argument("--future", metavar="FILE",
                   help="values of the model's known-future columns for the steps after DATA (same time "
                   "and id columns); needed by models fit with --known-future")
    p.add_argument("--intervals", type=floats, metavar="LEVEL[,LEVEL]",
                   help="interval levels to write (lower_80, upper_80, ...); the model must have been fit "
                        "with --intervals or --distribution (default: the levels it was fit with)")
    p.add_argument("--batch-size", type=positive_int, default=4096,
                   help="windows per forward pass (default 4096)")
    p.add_argument("--chunk-series", type=non_negative_int, metavar="N",
                   help="stream DATA (a long CSV/Parquet file, rows in any order) N whole series at a time, "
                        "writing each chunk's forecasts as they are ready: memory bounded by N, not by the "
                        f"file (needs forecast[stream]); 0: always read DATA whole. Default: stream files of "
                        f"over {STREAM_ABOVE_ROWS:,} rows, {DEFAULT_CHUNK_SERIES:,} series at a time")
    p.add_argument("--dask", metavar="ADDRESS|local:N",
                   help="forecast a partitioned Parquet dataset (DATA: a folder of .parquet files, each "
                        "holding whole series) on a Dask cluster: a scheduler ADDRESS such as "
                        "tcp://10.0.0.5:8786, or local:N for N worker processes on this machine (needs "
                        "forecast[distributed]); --threads is each worker's")
    add_threads(p)
    add_common(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from forecast.models.onnx_runtime import is_onnx_path, load_onnx

    check_output_path(args.out)
    if is_onnx_path(args.model):  # ONNX Runtime takes --threads itself; torch is never imported
        model = load_onnx(args.model, threads=args.threads)
    else:
        apply_threads(args)
        model = load_model_dir(args.model)
    spec = model.spec_
    options = {"origin": args.origin, "fill": args.fill, "batch_size": args.batch_size,
               "intervals": args.intervals}
    if args.dask:
        from forecast.models.distributed import distributed_predict

        if is_onnx_path(args.model):
            raise InputError(f"{args.model}: --dask workers load a model folder, not an .onnx file yet; give "
                             "the model folder the file was exported from, or drop --dask to stream it here")
        if args.future:
            raise InputError("--future cannot be combined with --dask yet; run without --dask (streaming "
                             "reads a file of any size, see --chunk-series)")
        result = distributed_predict(args.model, args.data, args.out, address=args.dask, threads=args.threads,
                                     time_col=args.time_col, missing=args.missing, sort=args.sort,
                                     check=lambda r: _check_result(r, args, args.data, spec), **options)
        return _finish(result, args, args.data, spec)
    chunk_series = _chunk_series(args, spec)
    if chunk_series:
        future = _future(args, spec)
        from forecast.models.streaming import predict_file

        with data_notes():
            result = predict_file(model, args.data, args.out, chunk_series=chunk_series, time_col=args.time_col,
                                  missing=args.missing, sort=args.sort, threads=args.threads,
                                  check=lambda r: _check_result(r, args, args.data, spec), future=future,
                                  progress=show_progress(args), **options)
        return _finish(result, args, args.data, spec)
    return _predict_in_memory(args, model, options)


def _future(args: argparse.Namespace, spec):
    """The --future frame (known-future values after DATA), or None."""
    return read(args.future, args.time_col, spec.id_col, tuple(spec.known_future), sort=args.sort) if args.future else None


def _predict_in_memory(args: argparse.Namespace, model, options: dict) -> int:
    """The fast path for inputs that fit: read DATA whole, forecast, write."""
    from forecast.io import write_table
    from forecast.models.batch import batch_predict

    spec = model.spec_
    frame = read(args.data, args.time_col, spec.id_col, spec.numeric_inputs, missing=args.missing, sort=args.sort)
    source = frame.attrs["source"]
    if spec.id_col is None and frame.index.has_duplicates:
        raise InputError(f"{source}: several rows share a timestamp but the model forecasts a single series "
                         "(it was trained without --id-col)")
    note_extra_columns(frame, [*spec.columns, *([spec.id_col] if spec.id_col else [])], source)
    result = batch_predict(model, frame, progress=show_progress(args), future=_future(args, spec), **options)
    _check_result(result, args, source, spec)
    write_table(result.forecasts, args.out)
    return _finish(result, args, source, spec, rows=len(result.forecasts))


def _chunk_series(args: argparse.Namespace, spec) -> int:
    """Series per streamed chunk, or 0 to read DATA whole: --chunk-series, else stream big long files."""
    from pathlib import Path

    from forecast.data.chunks import estimated_rows, stream_available, stream_extra_error

    if args.chunk_series == 0:
        return 0
    if args.chunk_series:
        if spec.id_col is None:
            raise InputError("--chunk-series streams a file of many series, but this model forecasts a single "
                             "series (fit without --id-col); drop --chunk-series")
        if not Path(args.data).is_file():
            raise InputError(f"{args.data}: --chunk-series streams a CSV or Parquet file; give its path")
        if not stream_available():
            raise stream_extra_error("--chunk-series")
        return args.chunk_series
    rows = estimated_rows(args.data) if spec.id_col else 0
    if rows <= STREAM_ABOVE_ROWS:
        return 0
    if not stream_available():
        note(f"{args.data}: about {rows:,} rows, read whole; pip install 'forecast[stream]' to stream it "
             "in bounded memory")
        return 0
    note(f"{args.data}: about {rows:,} rows: streaming {DEFAULT_CHUNK_SERIES:,} series at a time "
         "(--chunk-series N sets how many; 0 reads the file whole)")
    return DEFAULT_CHUNK_SERIES


def _check_result(result, args: argparse.Namespace, source: str, spec) -> None:
    """No output at all when no series could be forecast."""
    if result.n_forecast == 0:
        raise InputError(f"{source}: no series could be forecast, {result.skipped_summary(spec.lookback)}"
                         + ("; try --fill ffill or --fill interpolate" if args.fill == "none" else ""))


def _finish(result, args: argparse.Namespace, source: str, spec, rows: int | None = None) -> int:
    """Notes on what was filled or skipped, then the one-line summary."""
    if result.rows_inserted and args.fill != "none":  # otherwise the loader's gap note said it all
        note(f"{source}: added {result.rows_inserted} missing timestamps as empty rows, filled by {args.fill}")
    if result.values_filled:
        note(f"{source}: filled {result.values_filled} missing values ({args.fill})")
    if result.skipped:
        note(result.skipped_summary(spec.lookback)
             + ("; --fill ffill|interpolate fills holes" if args.fill == "none" else ""))
    if result.windows_dropped:
        note(f"{result.windows_dropped} windows with missing values or time gaps were skipped")
    rows = result.rows_written if rows is None else rows
    print(f"wrote {rows} forecast rows for {result.n_forecast} series (origin {args.origin}, horizon {spec.horizon}) "
          f"to {args.out}")
    return 0
