"""`forecast export`: write a saved model in a format other tools run (ONNX), for prediction without torch."""

from __future__ import annotations

import argparse

from forecast.cli.common import add_command, load_model_dir

FORMATS = ("onnx",)

EXAMPLE = """examples:
  forecast export --model models/seattle-lstm --format onnx --out seattle-lstm.onnx
  forecast predict --model seattle-lstm.onnx seattle-weather --out forecasts.csv

The ONNX file holds the network and, in its metadata, everything prediction needs around it (spec,
scaler, vocabularies, series ids, columns), so `forecast predict --model FILE.onnx` runs through ONNX
Runtime without importing torch, and gives the same columns as the model folder. The recurrent state is
an optional input (h0, and c0 for an LSTM) and an output (h, c), for callers that stream. An existing
--out file is replaced only when forecast exported it. Needs the onnx extra: pip install 'forecast[onnx]'.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "export", help="export a saved RNN/GRU/LSTM model to ONNX (predict without torch)",
        description="Export the model saved in --model to --out in --format (ONNX), preprocessing metadata included.",
        epilog=EXAMPLE,
    )
    p.add_argument("--model", required=True, metavar="DIR", help="folder written by `forecast fit`")
    p.add_argument("--format", choices=FORMATS, default="onnx", help="output format (default onnx)")
    p.add_argument("--out", required=True, metavar="FILE", help="the file to write, e.g. model.onnx")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from forecast.extras import require

    require("onnx", "onnx", "forecast export --format onnx")
    from forecast.models.onnx_export import OPSET, check_onnx_target, export_onnx

    check_onnx_target(args.out)  # before loading: fail fast on a path we may not write
    written = export_onnx(load_model_dir(args.model), args.out)  # refuses models that do not export
    print(f"wrote {written} ({written.stat().st_size / 1e3:.0f} kB, ONNX opset {OPSET}); predict with "
          f"`forecast predict --model {written} DATA --out forecasts.csv`")
    return 0
