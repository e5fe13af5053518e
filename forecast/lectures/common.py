"""Shared pieces of the lecture experiments: data preparation, training loops, measurements, output files."""

from __future__ import annotations

import json
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import nn

from forecast.config import WindowSpec
from forecast.data.panel import Panel, build_panel
from forecast.data.splits import Split, time_split
from forecast.data.transforms import ColumnScaler
from forecast.data.windows import Windows
from forecast.io import atomic_path, save_figure
from forecast.models.lightning import ForecastModule
from forecast.models.networks import NetworkConfig, RecurrentNetwork
from forecast.models.training import DEFAULT_TRAIN, TrainConfig, TrainResult, train

CELL_LABELS = {"rnn": "Elman RNN", "gru": "GRU", "lstm": "LSTM"}
CELL_COLORS = {"rnn": "tab:red", "gru": "tab:green", "lstm": "tab:blue"}


# -- data -----------------------------------------------------------------------------------------------
@dataclass
class PreparedData:
    """A scaled panel with time-ordered train / validation / test windows (scaler fit on training rows)."""

    panel: Panel
    spec: WindowSpec
    split: Split
    scaler: ColumnScaler
    train: Windows
    val: Windows
    test: Windows

    def unscale_target(self, scaled: np.ndarray) -> np.ndarray:
        """[N] scaled first-target values -> original units (single series, global scaler)."""
        col = self.panel.column_index(self.spec.targets[:1])[0]
        return scaled * float(self.scaler.scale_[0, col]) + float(self.scaler.center_[0, col])


def prepare(frame: pd.DataFrame, spec: WindowSpec, *, val_size: float = 0.1, test_size: float = 0.2) -> PreparedData:
    """Panel, split and standard scaling of `frame` for `spec`; the scaler sees training rows only."""
    panel = build_panel(frame, spec)
    split = time_split(panel, val_size=val_size, test_size=test_size)
    rows = split.train_rows(panel) & np.isfinite(panel.values).all(axis=1)
    scaler = ColumnScaler("standard").fit(panel.values, panel.series_of_row(), rows)
    scaled = replace(panel, values=scaler.transform(panel.values, np.zeros(len(panel.times), np.int64)))
    parts = {part: split.windows(scaled, spec, part) for part in ("train", "val", "test")}
    return PreparedData(scaled, spec, split, scaler, **parts)


def tensors(windows: Windows) -> tuple[torch.Tensor, torch.Tensor]:
    """All windows of a (small) set as tensors: x [N, L, F], y [N, H, T]."""
    batch = windows.batch(np.arange(len(windows)))
    return torch.from_numpy(batch["x"]), torch.from_numpy(batch["y"])


# -- networks -------------------------------------------------------------------------------------------
def make_network(cell: str, n_inputs: int, hidden_size: int, *, seed: int, head: str = "direct",
                 n_classes: int = 2, nonlinearity: str = "tanh") -> RecurrentNetwork:
    """A one-layer RecurrentNetwork with PyTorch's default initialization, seeded locally."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return RecurrentNetwork(NetworkConfig(n_inputs=n_inputs, cell=cell, hidden_size=hidden_size, head=head,
                                              n_classes=n_classes, nonlinearity=nonlinearity))


def open_gates(network: RecurrentNetwork, bias: float) -> RecurrentNetwork:
    """Set the bias of the gate that keeps the old state (LSTM forget gate, GRU update gate) to `bias`.

    PyTorch initializes these biases near 0, so the gate starts half shut (sigmoid(0) = 0.5) and the
    state, and the gradient through it, halves every step. A positive bias (1 is the common choice,
    Jozefowicz et al. 2015) opens the gate. The Elman RNN has no such gate; it is returned unchanged.
    """
    rnn = network.rnn
    if isinstance(rnn, nn.LSTM | nn.GRU):
        h = rnn.hidden_size
        with torch.no_grad():
            for layer in range(rnn.num_layers):
                # Both cells store gates in 4H (LSTM: i, f, g, o) / 3H (GRU: r, z, n) blocks; the keep gate is
                # block 1. Its pre-activation adds bias_ih and bias_hh, so one carries the bias, one is zero.
                getattr(rnn, f"bias_ih_l{layer}")[h:2 * h] = bias
                getattr(rnn, f"bias_hh_l{layer}")[h:2 * h] = 0.0
    return network


# -- measurements ---------------------------------------------------------------------------------------
def input_gradient_norms(network: nn.Module, x: torch.Tensor, loss_fn: Callable[[torch.Tensor], torch.Tensor]
                         ) -> np.ndarray:
    """Mean over sequences of |dl_i/dx_{i,t}|, indexed by distance T-t (0 = last input): [L].

    `loss_fn(output)` returns per-sequence losses [B]; summing them keeps each sequence's gradient its own.
    """
    x = x.detach().clone().requires_grad_(True)
    network.zero_grad(set_to_none=True)
    out, _ = network(x)
    loss_fn(out).sum().backward()
    network.zero_grad(set_to_none=True)
    norms = torch.linalg.vector_norm(x.grad, dim=-1).mean(dim=0)  # [B, L, F] -> [L]
    return norms.flip(0).double().numpy()  # index = distance to the last step


def accuracy(network: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Share of sequences whose arg-max logit is the label."""
    with torch.no_grad():
        logits, _ = network(x)
    return float((logits.argmax(dim=-1) == y).float().mean())


# -- training -------------------------------------------------------------------------------------------
def fit_classifier(network: nn.Module, x: torch.Tensor, y: torch.Tensor, *, epochs: int, seed: int,
                   lr: float = 1e-2, batch_size: int = 64, clip_norm: float = 1.0) -> list[float]:
    """Train a classify-head network with Adam on in-memory tensors; returns the mean loss per epoch.

    A plain loop rather than Lightning: the synthetic tasks are a few thousand tiny sequences, where the
    Trainer's fixed cost per fit would dominate. Clipping by norm keeps every cell's training stable.
    """
    optimizer = torch.optim.Adam(network.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    history = []
    network.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            logits, _ = network(x[idx])
            loss = F.cross_entropy(logits, y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(network.parameters(), clip_norm)
            optimizer.step()
            total += float(loss.detach()) * len(idx)
        history.append(total / len(x))
    network.eval()
    return history


def lightning_fit(module: ForecastModule, train_windows: Windows, val: Windows | None = None, *, epochs: int,
                  batch_size: int = DEFAULT_TRAIN.batch_size, seed: int = 0, callbacks: Sequence[L.Callback] = (),
                  gradient_clip_val: float | None = None, gradient_clip_algorithm: str = "norm",
                  max_steps: int = -1) -> TrainResult:
    """Train `module` with the toolkit's one training path (`forecast.models.training.train`).

    The lectures train without clipping unless a variant asks for it, and every one of `epochs` (no early
    stopping: their figures compare runs epoch by epoch); with `val`, the best epoch's weights are restored
    (`result.best_epoch` says which).
    """
    config = TrainConfig(max_epochs=epochs, max_steps=max_steps, batch_size=batch_size, patience=None,
                         gradient_clip_val=gradient_clip_val, gradient_clip_algorithm=gradient_clip_algorithm)
    return train(module, train_windows, val, config, seed=seed, callbacks=callbacks)


# -- output -----------------------------------------------------------------------------------------------
def new_figure(ncols: int, nrows: int = 1, *, width: float = 5.0, height: float = 3.6) -> tuple[Figure, np.ndarray]:
    """A figure with a grid of axes, made without pyplot's global state."""
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False).ravel())
    return fig, axes


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float):
        # JSON has no NaN/inf; 6 significant digits keep per-step curves small and are plenty for plots.
        return float(f"{value:.6g}") if np.isfinite(value) else None
    return value


def write_outputs(out_dir: str | Path, name: str, figure: Figure, numbers: dict, *, quick: bool, seed: int,
                  plots: bool = True) -> dict:
    """Write `<name>.png` (unless not `plots`) and `<name>.json` (atomically) and return the numbers with the
    run's settings."""
    out = Path(out_dir)
    result = {
        "experiment": name, "quick": quick, "seed": seed,
        "torch": torch.__version__, "python": platform.python_version(),
        **numbers,
        "files": {"figure": str(out / f"{name}.png") if plots else None, "numbers": str(out / f"{name}.json")},
    }
    result = _jsonable(result)
    if plots:
        save_figure(figure, out / f"{name}.png", dpi=90)  # small enough to commit next to the code
    else:
        import matplotlib.pyplot as plt

        plt.close(figure)
    with atomic_path(out / f"{name}.json") as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n")
    return result
