"""`forecast predict`: forecast every series of a file with a saved model and write the forecasts table."""

from __future__ import annotations

import argparse

from forecast.cli.common import (
    add_command,
    add_common,
    add_threads,
    apply_threads,
    check_output_path,
    floats,
    load_model_dir,
    note,
    note_extra_columns,
    positive_int,
    read,
    show_progress,
)

EXAMPLE = """examples:
  forecast predict --model models/seattle-lstm seattle-weather --out forecasts.csv
  forecast predict --model models/prices-gru prices.parquet --origin all --out backtest.parquet
  forecast predict --model models/stations stations.csv --origin 2013-06-30 --fill interpolate --out f.csv

DATA must have the columns the model was trained on (and its series column, for a long file holding
many series: all of them are forecast in one pass); other columns are ignored (a note lists them).
The output has one row per (series, origin, step): the series id (long files), origin, timestamp
(of the forecast target), step 1..H, forecast, and q0.1-style quantile columns when the model has them;
a model fit with --intervals or --distribution adds lower_80, upper_80, ... (--intervals picks other levels).
Series too short for the lookback, or with missing values or skipped timestamps inside the window, are
skipped and reported (never failing the others) unless --fill fills the holes first.
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
    add_threads(p)
    add_common(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from forecast.errors import InputError
    from forecast.io import write_table
    from forecast.models.batch import batch_predict
    from forecast.models.onnx_runtime import is_onnx_path, load_onnx

    check_output_path(args.out)
    if is_onnx_path(args.model):  # ONNX Runtime takes --threads itself; torch is never imported
        model = load_onnx(args.model, threads=args.threads)
    else:
        apply_threads(args)
        model = load_model_dir(args.model)
    spec = model.spec_
    frame = read(args.data, args.time_col, spec.id_col, spec.numeric_inputs, missing=args.missing, sort=args.sort)
    source = frame.attrs["source"]
    if spec.id_col is None and frame.index.has_duplicates:
        raise InputError(f"{source}: several rows share a timestamp but the model forecasts a single series "
                         "(it was trained without --id-col)")
    note_extra_columns(frame, [*spec.columns, *([spec.id_col] if spec.id_col else [])], source)
    future = read(args.future, args.time_col, spec.id_col, tuple(spec.known_future), sort=args.sort) if args.future else None
    result = batch_predict(model, frame, origin=args.origin, fill=args.fill, batch_size=args.batch_size,
                           progress=show_progress(args), future=future, intervals=args.intervals)
    if result.rows_inserted and args.fill != "none":  # otherwise the loader's gap note said it all
        note(f"{source}: added {result.rows_inserted} missing timestamps as empty rows, filled by {args.fill}")
    if result.values_filled:
        note(f"{source}: filled {result.values_filled} missing values ({args.fill})")
    if result.n_forecast == 0:
        raise InputError(f"{source}: no series could be forecast, {result.skipped_summary(spec.lookback)}"
                         + ("; try --fill ffill or --fill interpolate" if args.fill == "none" else ""))
    if result.skipped:
        note(result.skipped_summary(spec.lookback)
             + ("; --fill ffill|interpolate fills holes" if args.fill == "none" else ""))
    if result.windows_dropped:
        note(f"{result.windows_dropped} windows with missing values or time gaps were skipped")
    write_table(result.forecasts, args.out)
    print(f"wrote {len(result.forecasts)} forecast rows for {result.n_forecast} series "
          f"(origin {args.origin}, horizon {spec.horizon}) to {args.out}")
    return 0
