"""The ETTh1 benchmark under the Informer / DLinear / PatchTST protocol, for our models and baselines.

Protocol (see also /work/shared/benchmarks/README.md): rows 0-8640 train, 8640-11520 validation,
11520-14400 test (rows after 14400 are unused); a window belongs to the part where its *targets* lie and
its inputs may reach back into earlier parts; every column is z-scored with the mean and standard
deviation (ddof=0) of the training rows only; MSE and MAE are computed on that normalized scale and
averaged over every test window, step and column. Univariate: `OT` in, `OT` out. Multivariate: the 7
columns in, the 7 columns out.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd
import torch

from forecast import datasets
from forecast.benchmarks.window_models import (
    RecurrentSettings,
    RidgeLookback,
    fit_recurrent,
    predict_network,
    repeat_last,
)
from forecast.config import WindowSpec
from forecast.data.panel import Panel, build_panel
from forecast.data.splits import Split
from forecast.data.transforms import ColumnScaler
from forecast.data.windows import Windows
from forecast.errors import InputError

TRAIN_END, VAL_END, TEST_END = 8640, 11520, 14400
COLUMNS = ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")
TARGETS = {"univariate": ("OT",), "multivariate": COLUMNS}
SETTINGS = tuple(TARGETS)
RECURRENT = ("rnn", "gru", "lstm")
MODELS = ("repeat", "ridge", *RECURRENT)
INFORMER_HORIZONS = (24, 48, 168, 336, 720)
DLINEAR_HORIZONS = (96, 192, 336, 720)

# Published MSE / MAE on the normalized scale: (setting, model) -> {horizon: (mse, mae)}.
# Informer's tables (its README after the 2021-03 rescaling update) and the DLinear / PatchTST tables.
PUBLISHED: dict[tuple[str, str], dict[int, tuple[float, float]]] = {
    ("univariate", "LSTMa"): dict(zip(INFORMER_HORIZONS, [(0.114, 0.272), (0.193, 0.358), (0.236, 0.392),
                                                          (0.590, 0.698), (0.683, 0.768)], strict=True)),
    ("univariate", "DeepAR"): dict(zip(INFORMER_HORIZONS, [(0.107, 0.280), (0.162, 0.327), (0.239, 0.422),
                                                           (0.445, 0.552), (0.658, 0.707)], strict=True)),
    ("univariate", "Informer"): dict(zip(INFORMER_HORIZONS, [(0.098, 0.247), (0.158, 0.319), (0.183, 0.346),
                                                             (0.222, 0.387), (0.269, 0.435)], strict=True)),
    ("multivariate", "LSTMa"): dict(zip(INFORMER_HORIZONS, [(0.650, 0.624), (0.702, 0.675), (1.212, 0.867),
                                                            (1.424, 0.994), (1.960, 1.322)], strict=True)),
    ("multivariate", "Informer"): dict(zip(INFORMER_HORIZONS, [(0.577, 0.549), (0.685, 0.625), (0.931, 0.752),
                                                               (1.128, 0.873), (1.215, 0.896)], strict=True)),
    ("multivariate", "DLinear (lookback 336)"): dict(zip(DLINEAR_HORIZONS, [
        (0.375, 0.399), (0.405, 0.416), (0.439, 0.443), (0.472, 0.490)], strict=True)),
    ("multivariate", "PatchTST/64"): dict(zip(DLINEAR_HORIZONS, [
        (0.370, 0.400), (0.413, 0.429), (0.422, 0.440), (0.447, 0.468)], strict=True)),
    ("multivariate", "Repeat (last value)"): dict(zip(DLINEAR_HORIZONS, [
        (1.295, 0.713), (1.325, 0.733), (1.323, 0.744), (1.339, 0.756)], strict=True)),
}


@dataclass(frozen=True)
class ProtocolData:
    """ETTh1 rows 0-14400 of one setting, z-scored with training-row statistics, and the protocol split."""

    setting: str
    panel: Panel  # values [14400, T] on the normalized scale
    split: Split
    scaler: ColumnScaler  # center_ / scale_ [1, T]: the training rows' mean and std

    @property
    def targets(self) -> tuple[str, ...]:
        return TARGETS[self.setting]


def load_protocol(setting: str, frame: pd.DataFrame | None = None) -> ProtocolData:
    """The protocol's data for `setting` ("univariate" or "multivariate"); `frame` defaults to the bundled file."""
    if setting not in TARGETS:
        raise InputError(f"setting {setting!r} is not one of {SETTINGS}")
    frame = datasets.load("etth1") if frame is None else frame
    if len(frame) < TEST_END:
        raise InputError(f"ETTh1 needs at least {TEST_END} rows for the protocol, the frame has {len(frame)}")
    spec = WindowSpec(target=TARGETS[setting], lookback=1)  # the panel depends only on the columns
    panel = build_panel(frame.iloc[:TEST_END], spec, source="ETTh1")
    split = Split(train_end=np.array([TRAIN_END]), val_end=np.array([VAL_END]))
    rows = panel.series_of_row()
    scaler = ColumnScaler("standard").fit(panel.values, rows, split.train_rows(panel))
    return ProtocolData(setting, replace(panel, values=scaler.transform(panel.values, rows)), split, scaler)


def protocol_windows(data: ProtocolData, lookback: int, horizon: int, part: str) -> Windows:
    """Windows of `part` ("train", "val" or "test") whose targets lie in that part's rows.

    Test windows: origins 11519..14399-H, so 2880-H+1 of them whatever the lookback (inputs reach back).
    """
    spec = WindowSpec(target=data.targets, lookback=lookback, horizon=horizon)
    return data.split.windows(data.panel, spec, part)


def scores(forecast: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """MSE and MAE averaged over every window, step and column ([N, H, T] arrays, normalized scale)."""
    if forecast.shape != truth.shape:
        raise ValueError(f"forecast shape {forecast.shape} != truth shape {truth.shape}")
    error = np.asarray(forecast, dtype=np.float64) - np.asarray(truth, dtype=np.float64)
    return {"mse": float(np.mean(error**2)), "mae": float(np.mean(np.abs(error)))}


@dataclass(frozen=True)
class ETTh1Config:
    """What to run and with which hyperparameters (all documented in the JSON the run prints).

    ridge_lookback / rnn_lookback: L of the Ridge baseline (DLinear's 336) and of the recurrent networks.
    eval_stride: use every k-th validation and test window only (1 = the protocol; >1 only for smoke runs).
    """

    horizons: tuple[int, ...] = (24, 48, 168)
    settings: tuple[str, ...] = SETTINGS
    models: tuple[str, ...] = MODELS
    ridge_lookback: int = 336
    ridge_alphas: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)
    rnn_lookback: int = 96
    recurrent: RecurrentSettings = field(default_factory=RecurrentSettings)
    eval_stride: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "horizons", tuple(int(h) for h in self.horizons))
        bad = [h for h in self.horizons if not 1 <= h <= TEST_END - VAL_END]
        if bad or not self.horizons:
            raise InputError(f"horizons {bad or '(none)'} must be integers in [1, {TEST_END - VAL_END}]")
        for name, allowed in (("settings", SETTINGS), ("models", MODELS)):
            values = tuple(getattr(self, name))
            unknown = [v for v in values if v not in allowed]
            if unknown or not values:
                raise InputError(f"{name} {unknown or '(none)'} must be chosen from {', '.join(allowed)}")
            object.__setattr__(self, name, values)
        for name in ("ridge_lookback", "rnn_lookback", "eval_stride"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be a positive integer, got {getattr(self, name)}")

    @classmethod
    def quick(cls, **overrides) -> ETTh1Config:
        """A smoke run: tiny networks, two training batches, one epoch, one Ridge penalty, every 24th val/test window."""
        recurrent = RecurrentSettings(hidden_size=8, max_epochs=1, limit_train_batches=2, batch_size=64)
        defaults = {"horizons": (24,), "ridge_lookback": 48, "ridge_alphas": (1.0,), "rnn_lookback": 48,
                    "recurrent": recurrent, "eval_stride": 24}
        return cls(**{**defaults, **overrides})

    def to_dict(self) -> dict:
        data = asdict(self)
        data["recurrent"] = self.recurrent.to_dict()
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def _every(windows: Windows, stride: int) -> Windows:
    if stride == 1:
        return windows
    keep = np.zeros(len(windows), dtype=bool)
    keep[::stride] = True
    return windows.subset(keep)


def run_model(data: ProtocolData, model: str, horizon: int, config: ETTh1Config) -> dict:
    """Fit `model` on the protocol's training windows (validation windows for model selection), score on test."""
    lookback = {"repeat": 1, "ridge": config.ridge_lookback}.get(model, config.rnn_lookback)
    train, val, test = (protocol_windows(data, lookback, horizon, part) for part in ("train", "val", "test"))
    val, test = _every(val, config.eval_stride), _every(test, config.eval_stride)
    started, cpu_started = time.perf_counter(), time.process_time()
    info: dict = {}
    if model == "repeat":
        forecast = repeat_last(test)
    elif model == "ridge":
        ridge = RidgeLookback(alphas=config.ridge_alphas).fit(train, val)
        forecast = ridge.predict(test)
        info = {"alpha": ridge.alpha_, "val_mse": ridge.best_val_loss_}
    else:
        fit = fit_recurrent(model, config.recurrent, train, val, seed=config.seed)
        forecast = predict_network(fit.network, test)
        info = {"val_mse": fit.best_val_loss, "epochs": fit.epochs, "best_epoch": fit.best_epoch}
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "setting": data.setting, "horizon": horizon, "model": model, "lookback": lookback,
        **scores(forecast, test.targets(slice(None))),
        "n_train_windows": len(train), "n_test_windows": len(test), "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2), **info,
    }


def run(config: ETTh1Config | None = None, *, frame: pd.DataFrame | None = None,
        log: Callable[[dict], None] | None = None) -> dict:
    """Run every (setting, horizon, model) of `config`; returns a JSON-ready dict (rows in "results")."""
    config = config or ETTh1Config()
    started = time.perf_counter()
    results = []
    for setting in config.settings:
        data = load_protocol(setting, frame)
        for horizon in config.horizons:
            for model in config.models:
                row = run_model(data, model, horizon, config)
                results.append(row)
                if log is not None:
                    log(row)
    return {
        "benchmark": "etth1",
        "protocol": {"train_rows": [0, TRAIN_END], "val_rows": [TRAIN_END, VAL_END],
                     "test_rows": [VAL_END, TEST_END], "scaling": "z-score per column, training rows only",
                     "metrics": "MSE and MAE on the normalized scale, mean over test windows, steps and columns"},
        "config": config.to_dict(),
        "results": results,
        "published": [{"setting": s, "model": m, "horizon": h, "mse": v[0], "mae": v[1]}
                      for (s, m), table in PUBLISHED.items() for h, v in table.items()],
        "environment": {"torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                        "python": platform.python_version(), "machine": platform.machine()},
        "seconds": round(time.perf_counter() - started, 1),
    }


_LABELS = {"repeat": "repeat last value", "ridge": "Ridge over the lookback", "rnn": "Elman RNN",
           "gru": "GRU", "lstm": "LSTM"}


def markdown_table(result: dict, *, horizons: Sequence[int] | None = None) -> str:
    """Our MSE / MAE beside the published rows, one table per setting (cells 'MSE / MAE', '-' if not run)."""
    ours = result["results"]
    horizons = sorted(horizons or {r["horizon"] for r in ours})
    lines = []
    for setting in SETTINGS:
        rows = [r for r in ours if r["setting"] == setting]
        if not rows:
            continue
        lines += [f"**{setting}** (MSE / MAE, normalized scale; lower is better)", "",
                  "| model | " + " | ".join(str(h) for h in horizons) + " |",
                  "|---|" + "---|" * len(horizons)]
        for model in dict.fromkeys(r["model"] for r in rows):
            cells = {r["horizon"]: f"{r['mse']:.3f} / {r['mae']:.3f}" for r in rows if r["model"] == model}
            lookback = next(r["lookback"] for r in rows if r["model"] == model)
            label = f"ours: {_LABELS[model]}" + (f" (L={lookback})" if model != "repeat" else "")
            lines.append(f"| {label} | " + " | ".join(cells.get(h, "-") for h in horizons) + " |")
        for (s, name), table in PUBLISHED.items():
            if s == setting and any(h in table for h in horizons):
                cells = [f"{table[h][0]:.3f} / {table[h][1]:.3f}" if h in table else "-" for h in horizons]
                lines.append(f"| published: {name} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)
