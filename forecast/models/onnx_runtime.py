"""Forecast with an exported model.onnx through ONNX Runtime: no torch, no Lightning.

`RNNForecaster.to_onnx` (forecast.models.onnx_export) writes the network as an ONNX graph and embeds what
prediction needs around it (params, spec, scaler, vocabularies, series ids, columns) as JSON in the
model's metadata_props; `load_onnx` reads both back, and `OnnxForecaster.predict` prepares the windows
with the same `Preparation` as the torch path (forecast.models.window_inputs), so the forecasts frame has
the same columns and values. The recurrent state is an optional graph input (`h0`, and `c0` for an LSTM,
[layers, 1 or B, hidden], zeros when left out) and an output (`h`, `c`): `run_network` streams with it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.data.prepare import Preparation
from forecast.data.windows import Windows
from forecast.errors import InputError
from forecast.extras import require
from forecast.models.frames import TrainedColumns
from forecast.models.tasks import CLASSIFY_TASKS
from forecast.models.window_inputs import predict_frame, window_batches

FORMAT_KEY, MODEL_KEY = "forecast.format_version", "forecast.model"  # metadata_props of our ONNX files
ONNX_FORMAT_VERSION = 1
FORECAST_OUTPUT = "forecast"  # [B, H, T, Q] scaled forecasts ([B, 1, 1, 1] P(class 1) for classifiers)
STATE_INPUTS, STATE_OUTPUTS = ("h0", "c0"), ("h", "c")  # c0 / c: LSTM only
FLOAT_INPUTS = ("x", "future")  # float32 in the graph; series and codes are int64


def is_onnx_path(path: str | os.PathLike[str]) -> bool:
    """True for a path naming an ONNX file (by its extension), as `forecast predict --model` tells them apart."""
    return Path(path).suffix.lower() == ".onnx"


class OnnxForecaster(TrainedColumns):
    """A recurrent forecaster exported by `RNNForecaster.to_onnx`, run by ONNX Runtime (predict only; not a
    scikit-learn estimator, so that loading it imports neither scikit-learn nor torch).

    path: the model.onnx file; threads: ONNX Runtime intra-op threads (1: fastest for small recurrent
    models on a shared machine). Load with `load_onnx(path)`; after loading: session_, metadata_ (the
    embedded JSON), params_ (the RNNForecaster's parameters), spec_, preparation_, columns and dtypes.
    """

    recurrent = True  # forecasts from the last `lookback` rows in batches (forecast.models.batch)

    def __init__(self, *, path: str | os.PathLike[str], threads: int = 1) -> None:
        self.path = path
        self.threads = threads

    def load(self) -> OnnxForecaster:
        """Open the ONNX file and read its embedded metadata; returns self."""
        ort = require("onnxruntime", "onnx", "predicting with an ONNX model")
        path = Path(self.path)
        if not path.is_file():
            raise InputError(f"{path}: no such ONNX file; export one with `forecast export --model DIR "
                             f"--format onnx --out {path.name}`")
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: h0/c0 are initializers in the inputs on purpose (optional)
        if self.threads:
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types for files that are not ONNX
            raise InputError(f"{path}: not a readable ONNX model ({type(exc).__name__}); export it again") from None
        meta = session.get_modelmeta().custom_metadata_map
        if MODEL_KEY not in meta:
            raise InputError(f"{path}: an ONNX model without forecast's metadata ({MODEL_KEY}); only files written "
                             "by `forecast export --format onnx` can be used with forecast predict")
        if meta.get(FORMAT_KEY) != str(ONNX_FORMAT_VERSION):
            raise InputError(f"{path}: forecast ONNX format {meta.get(FORMAT_KEY)!r} is not supported by this "
                             f"forecast (expects {ONNX_FORMAT_VERSION}); export the model again")
        metadata = json.loads(meta[MODEL_KEY])
        self.session_, self.metadata_, self.params_ = session, metadata, dict(metadata["params"])
        self._restore_common(metadata)
        self.preparation_ = Preparation.from_dict(
            metadata, self.spec_, **{k: self.params_[k] for k in
                                     ("scaler", "per_series_scaling", "target_transform", "min_lookback")})
        # h0 / c0 are overridable initializers (optional inputs), which get_inputs() leaves out
        self.input_names_ = [i.name for i in (*session.get_inputs(), *session.get_overridable_initializers())]
        return self

    def _check_loaded(self) -> None:
        if not hasattr(self, "session_"):
            raise InputError(f"{type(self).__name__} is not loaded yet; use load_onnx(path) or call load()")

    @property
    def target_transform(self) -> str:
        """The target transform the model was trained with (batch prediction keeps one more row for it)."""
        return self.params_["target_transform"]

    @property
    def known_future(self) -> bool:
        """Whether predict reads known-future values after the data (`future=`)."""
        return bool(self.spec_.known_future)

    def run_network(self, inputs: dict[str, np.ndarray], state: tuple[np.ndarray, ...] | None = None
                    ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """One pass of the graph: `inputs` (x [B, L, F] scaled, series, codes, future as the model needs) and
        the recurrent state to start from (None: zeros) -> (forecasts [B, H, T, Q], state after the window).

        Feeding a window's state to the next window of the same series continues the recurrence (streaming).
        """
        self._check_loaded()
        feed = {k: np.ascontiguousarray(v, dtype=np.float32 if k in FLOAT_INPUTS else np.int64)
                for k, v in inputs.items() if k in self.input_names_}
        if state is not None:
            feed.update({name: np.ascontiguousarray(s, dtype=np.float32) for name, s in zip(STATE_INPUTS, state, strict=False)})
        names = [o.name for o in self.session_.get_outputs()]
        out = self.session_.run(None, feed)
        return out[names.index(FORECAST_OUTPUT)], tuple(out[names.index(n)] for n in STATE_OUTPUTS if n in names)

    def predict(self, frame: pd.DataFrame, *, origin: str | pd.Timestamp = "last",
                future: pd.DataFrame | None = None, batch_size: int = 4096) -> pd.DataFrame:
        """The same forecasts frame as the exported `RNNForecaster.predict` (see there), through ONNX Runtime."""
        self._check_loaded()
        params = self.params_
        n_out = (1, 1, 1) if params["task"] in CLASSIFY_TASKS else (
            self.spec_.horizon, len(self.spec_.targets), len(params["quantiles"]) if params["task"] == "quantile" else 1)

        def run(windows: Windows, series_map: np.ndarray) -> np.ndarray:
            outs = [self.run_network(batch)[0] for batch in window_batches(windows, series_map, batch_size)]
            return np.concatenate(outs).astype(np.float64) if outs else np.zeros((0, *n_out))

        return predict_frame(self, frame, run, task=params["task"], quantiles=tuple(params["quantiles"]),
                             origin=origin, future=future)


def load_onnx(path: str | os.PathLike[str], *, threads: int = 1) -> OnnxForecaster:
    """Load a model.onnx written by `RNNForecaster.to_onnx` / `forecast export --format onnx` (no torch)."""
    return OnnxForecaster(path=path, threads=threads).load()
