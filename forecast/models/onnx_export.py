"""Export a fitted RNNForecaster to one ONNX file that ONNX Runtime runs without torch.

Exporter: torch's TorchScript-based exporter (`torch.onnx.export(..., dynamo=False)`), not the default
torch.export-based ("dynamo") one. Measured with torch 2.13 on this project's networks: the TorchScript
exporter maps nn.RNN / nn.GRU / nn.LSTM to ONNX's RNN / GRU / LSTM operators, keeps the batch (and, where
the network allows, the time) axis dynamic, and exports in about a second; the dynamo exporter took ~24 s
for a 2-layer LSTM and failed to trace a state input whose batch axis may be 1 or B (torch.export's
while_loop metadata check), which the optional state below needs.

Graph inputs: x [B, L, F] float32 (scaled, as `Preparation` makes them), series [B] int64 (with a series
embedding), codes [B, L, C] int64 (categorical columns), future [B, H, K] float32 (known-future columns),
h0 (and c0 for an LSTM) [layers, 1 or B', hidden]: optional, zeros when left out (an initializer the
caller may override). Outputs: forecast [B, H, T, Q] (P(class 1) as [B, 1, 1, 1] for classifiers) and the
state after the window, h (and c) [layers, B', hidden]; B' = B * T for channel-independent networks.

Heads: every head of `RecurrentNetwork` goes through `RecurrentNetwork.forecast`, so a head added there
exports without change here; a head whose output is not [B, H, T, Q] adds its mapping in `_Graph.forward`
(as classify does) and its task to `window_inputs.predict_frame`.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from forecast.errors import InputError
from forecast.extras import require
from forecast.io import atomic_path, check_name_length, check_output_parent
from forecast.models.networks import RecurrentNetwork
from forecast.models.onnx_runtime import (
    FORECAST_OUTPUT,
    FORMAT_KEY,
    MODEL_KEY,
    ONNX_FORMAT_VERSION,
    STATE_INPUTS,
    STATE_OUTPUTS,
)

OPSET = 17  # RNN/GRU/LSTM and every operator the heads use; read by ONNX Runtime 1.14 and later


class _Graph(nn.Module):
    """The exported computation: named inputs -> (forecast, state...), state starting from h0 (c0) expanded."""

    def __init__(self, network: RecurrentNetwork, names: list[str], classify: bool) -> None:
        super().__init__()
        self.network, self.names, self.classify = network, names, classify

    def forward(self, *inputs: torch.Tensor):
        given = dict(zip(self.names, inputs, strict=True))
        c = self.network.config
        x = given["x"]  # [B, L, F]
        rows = x.shape[0] * (c.n_targets if c.channel_independent else 1)  # B': sequences the recurrence runs
        h = given["h0"].expand(-1, rows, -1)  # [layers, 1|B', hidden] -> [layers, B', hidden]
        if c.cell == "lstm":
            h = (h, given["c0"].expand(-1, rows, -1))
        y, state = self.network(x, h, series=given.get("series"), codes=given.get("codes"),
                                future=given.get("future"))
        if c.head == "transducer":
            y = y[:, -1]  # [B, L, H, T, Q] -> [B, H, T, Q]: the forecast from the window's last step
        if self.classify:
            y = torch.softmax(y, dim=-1)[:, 1].reshape(-1, 1, 1, 1)  # [B, 2] -> [B, 1, 1, 1] P(class 1)
        return (y, *state) if isinstance(state, tuple) else (y, state)


def check_onnx_target(path: str | os.PathLike[str]) -> Path:
    """Fail before any work unless `path` may receive a model.onnx: a new file, or an ONNX file forecast
    wrote (its metadata says so); never anything else that exists."""
    target, shown = Path(path), str(path)
    check_name_length(target, shown)
    if target.suffix.lower() != ".onnx":
        raise InputError(f"{shown}: an ONNX model's file name ends in .onnx; give --out model.onnx")
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise InputError(f"{shown}: exists and is not a regular file; choose a new --out file")
    if target.exists() and not _written_by_forecast(target):
        raise InputError(f"{shown}: exists and was not written by forecast export; forecast never replaces "
                         "a file it did not create: choose a new --out file")
    check_output_parent(target, shown)
    return target


def _written_by_forecast(path: Path) -> bool:
    onnx = require("onnx", "onnx", "ONNX export")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # not ONNX at all (onnx raises DecodeError and others)
        return False
    return any(p.key == MODEL_KEY for p in model.metadata_props)


def export_onnx(model, path: str | os.PathLike[str]) -> Path:
    """Write fitted RNNForecaster `model` to `path` (.onnx) with its preprocessing metadata embedded;
    atomically (temporary name, then rename) and only over a file forecast itself exported."""
    onnx = require("onnx", "onnx", "ONNX export")
    from forecast.artifacts import json_default, library_versions
    from forecast.models.estimators import RNNForecaster
    from forecast.models.tasks import CLASSIFY_TASKS

    if not isinstance(model, RNNForecaster):
        raise InputError(f"ONNX export covers the recurrent forecasters (rnn, gru, lstm), not "
                         f"{type(model).__name__}; conformal intervals do not export: fit the model without "
                         "--intervals to export it")
    target = check_onnx_target(path)
    metadata, _ = model._artifact_state()  # also checks that the model is fitted
    if model.task == "distribution":
        raise InputError("task='distribution': ONNX export covers point, quantile and class forecasts, not yet "
                         "the Gaussian/Student-t heads; export a model fit without --distribution")
    if model.min_lookback is not None:
        raise InputError(f"min_lookback={model.min_lookback}: left-padded windows are packed by torch, which "
                         "ONNX export does not cover; export a model fit without min_lookback")
    network, c = model.network_.eval(), model.network_config_
    names, example, dynamic = _inputs(model, network)
    outputs = [FORECAST_OUTPUT, *STATE_OUTPUTS[: 2 if c.cell == "lstm" else 1]]
    dynamic |= {FORECAST_OUTPUT: {0: "batch"}, **{n: {1: "rows"} for n in outputs[1:]}}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter is chosen on purpose (module docstring); its deprecation notice and its
        # advice to define h0/c0 as inputs (done) are not the user's concern.
        warnings.simplefilter("ignore")
        torch.onnx.export(_Graph(network, names, model.task in CLASSIFY_TASKS), tuple(example), buffer,
                          dynamo=False, input_names=names, output_names=outputs, dynamic_axes=dynamic,
                          opset_version=OPSET, do_constant_folding=True)
    graph = onnx.load_from_string(buffer.getvalue())
    _optional_state(onnx, graph, names, c)
    metadata = {"format_version": 1, "class": type(model).__name__, "versions": library_versions(), **metadata}
    onnx.helper.set_model_props(graph, {FORMAT_KEY: str(ONNX_FORMAT_VERSION),
                                        MODEL_KEY: json.dumps(metadata, default=json_default)})
    graph.producer_name, graph.doc_string = "forecast", f"forecast {c.cell} forecaster ({c.head} head)"
    onnx.checker.check_model(graph)
    with atomic_path(target) as tmp:
        tmp.write_bytes(graph.SerializeToString())
    return target


def _inputs(model, network: RecurrentNetwork) -> tuple[list[str], list[torch.Tensor], dict]:
    """Input names, example tensors (batch 2) and dynamic axes for `network` as `model` feeds it."""
    c, spec = network.config, model.spec_
    batch, steps = 2, spec.lookback
    names, example = ["x"], [torch.zeros(batch, steps, c.n_inputs)]
    # The time axis stays dynamic (streaming longer or shorter chunks) unless a layer reads a fixed lookback.
    dynamic: dict = {"x": {0: "batch", **({1: "steps"} if c.skip == "none" and c.segment == 1 else {})}}
    if network.series_embedding is not None:
        names.append("series")
        example.append(torch.zeros(batch, dtype=torch.int64))
        dynamic["series"] = {0: "batch"}
    if c.category_sizes:
        names.append("codes")
        example.append(torch.zeros(batch, steps, len(c.category_sizes), dtype=torch.int64))
        dynamic["codes"] = {0: "batch", **dynamic["x"]}
    if c.n_future:
        names.append("future")
        example.append(torch.zeros(batch, c.horizon, c.n_future))
        dynamic["future"] = {0: "batch"}
    for name in STATE_INPUTS[: 2 if c.cell == "lstm" else 1]:
        names.append(name)
        example.append(torch.zeros(c.num_layers, 1, c.hidden_size))
        dynamic[name] = {1: "state_rows"}
    return names, example, dynamic


def _optional_state(onnx, graph, names: list[str], c) -> None:
    """Give h0 (c0) a zeros initializer of shape [layers, 1, hidden]: a caller may leave the state out."""
    import numpy as np

    for name in STATE_INPUTS:
        if name in names:
            zeros = np.zeros((c.num_layers, 1, c.hidden_size), dtype=np.float32)
            graph.graph.initializer.append(onnx.numpy_helper.from_array(zeros, name))
