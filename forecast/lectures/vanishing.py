"""Vanishing gradients: how much training signal reaches an input T-t steps before the output.

For Elman RNN, GRU and LSTM of the same hidden size we measure |dl/dx_t| (the gradient of each window's
loss with respect to its input at step t, averaged over windows) against the distance T-t, at PyTorch's
default initialization and after training, on real windows (Seattle daily weather, next-day temp_max)
and on a synthetic task that needs long memory (marked recall). The gated cells are also shown with
their keep gate opened (forget / update gate bias 1), the usual initialization fix.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from forecast import datasets
from forecast.config import WindowSpec
from forecast.lectures.common import (
    CELL_COLORS,
    CELL_LABELS,
    accuracy,
    fit_classifier,
    input_gradient_norms,
    lightning_fit,
    make_network,
    new_figure,
    open_gates,
    prepare,
    tensors,
    write_outputs,
)
from forecast.lectures.tasks import recall_task
from forecast.models.lightning import ForecastModule

NAME = "vanishing-gradients"
GATE_BIAS = 1.0
# variant -> (cell, keep-gate bias or None for PyTorch's default initialization)
VARIANTS: dict[str, tuple[str, float | None]] = {
    "rnn": ("rnn", None),
    "gru": ("gru", None),
    "lstm": ("lstm", None),
    "gru+gate": ("gru", GATE_BIAS),
    "lstm+gate": ("lstm", GATE_BIAS),
}


def build(variant: str, n_inputs: int, hidden_size: int, *, seed: int, head: str, n_classes: int = 2):
    """The network of a variant: a cell at default init, or with its keep gate opened."""
    cell, bias = VARIANTS[variant]
    net = make_network(cell, n_inputs, hidden_size, seed=seed, head=head, n_classes=n_classes)
    return open_gates(net, bias) if bias is not None else net


def squared_errors(y: torch.Tensor):
    """Per-window loss of a direct-head forecast against targets y [B, H, T]: [B]."""
    return lambda out: ((out[..., 0] - y) ** 2).flatten(1).sum(dim=1)  # [B, H, T, 1] -> [B]


def cross_entropies(y: torch.Tensor):
    """Per-sequence cross-entropy of classify-head logits against labels y [B]: [B]."""
    return lambda out: F.cross_entropy(out, y, reduction="none")


def ratios(norms: np.ndarray, distances: tuple[int, ...]) -> dict[str, float]:
    """|dl/dx| at each distance relative to distance 1 (distance 0 is the input the output sees last)."""
    return {str(d): float(norms[d] / norms[1]) for d in distances if d < len(norms)}


def _label(variant: str) -> str:
    cell, bias = VARIANTS[variant]
    return CELL_LABELS[cell] + (f" (gate bias {bias:g})" if bias is not None else "")


def run(out_dir: str | Path, *, quick: bool = False, seed: int = 0, plots: bool = True) -> dict:
    """Measure |dl/dx_t| against distance, at init and after training, on weather and synthetic recall."""
    hidden = 32
    lookback = 32 if quick else 64
    epochs_weather, epochs_recall = (2, 3) if quick else (15, 20)
    n_recall = 300 if quick else 2000
    probe = (1, 5, 10, 20, 30, 50, 63)

    # Real windows: next-day Seattle temp_max from the last `lookback` days; scaler fit on training rows.
    spec = WindowSpec(target="temp_max", lookback=lookback, features=("temp_min", "precipitation", "wind"))
    data = prepare(datasets.load("seattle-weather"), spec)
    x_w, y_w = tensors(data.test)
    x_w, y_w = x_w[:256], y_w[:256]
    # Synthetic long memory: recall the marked symbol at the first step, `lookback - 1` steps back.
    distance = lookback - 1
    x_r, y_r = recall_task(n_recall, lookback, distance, seed=seed)
    x_rt, y_rt = recall_task(512, lookback, distance, seed=seed + 1)

    panels = {("weather", "init"): {}, ("weather", "trained"): {}, ("recall", "init"): {}, ("recall", "trained"): {}}
    scores: dict = {"weather_test_mse_scaled": {}, "recall_test_accuracy": {}}
    for variant in VARIANTS:
        net = build(variant, x_w.shape[-1], hidden, seed=seed, head="direct")
        panels["weather", "init"][variant] = input_gradient_norms(net, x_w, squared_errors(y_w))
        module = ForecastModule(net, lr=1e-3, max_epochs=epochs_weather)
        lightning_fit(module, data.train, epochs=epochs_weather, seed=seed)
        panels["weather", "trained"][variant] = input_gradient_norms(net, x_w, squared_errors(y_w))
        with torch.no_grad():
            scores["weather_test_mse_scaled"][variant] = float(((net(x_w)[0][..., 0] - y_w) ** 2).mean())

        net = build(variant, x_r.shape[-1], hidden, seed=seed, head="classify", n_classes=4)
        panels["recall", "init"][variant] = input_gradient_norms(net, x_rt, cross_entropies(y_rt))
        fit_classifier(net, x_r, y_r, epochs=epochs_recall, seed=seed)
        panels["recall", "trained"][variant] = input_gradient_norms(net, x_rt, cross_entropies(y_rt))
        scores["recall_test_accuracy"][variant] = accuracy(net, x_rt, y_rt)

    fig, axes = new_figure(2, 2)
    titles = {
        "weather": f"Seattle temp_max, next day (lookback {lookback})",
        "recall": f"Marked recall, symbol {distance} steps back",
    }
    numbers: dict = {
        "hidden_size": hidden, "lookback": lookback, "gate_bias": GATE_BIAS,
        "epochs": {"weather": epochs_weather, "recall": epochs_recall}, "n_recall_train": n_recall,
        "measure": "mean over sequences of |dl_i/dx_{i,T-d}|_2 against distance d (d=0: last input); "
                   "plotted relative to d=1",
        "scores": scores, "ratio_to_distance_1": {}, "grad_norms": {},
    }
    for ax, ((task, stage), curves) in zip(axes, panels.items(), strict=True):
        key = f"{task}/{stage}"
        numbers["ratio_to_distance_1"][key] = {v: ratios(g, probe) for v, g in curves.items()}
        numbers["grad_norms"][key] = {v: g for v, g in curves.items()}
        for variant, g in curves.items():
            cell, bias = VARIANTS[variant]
            # Relative to distance 1, so curves of nets with very different loss levels compare.
            ax.semilogy(np.arange(len(g)), np.maximum(g / g[1], 1e-30), color=CELL_COLORS[cell],
                        ls="--" if bias is not None else "-", label=_label(variant))
        stage_text = "at initialization" if stage == "init" else "after training"
        ax.set_title(f"{titles[task]}\n{stage_text}", fontsize=9)
        ax.set_xlabel("distance T - t (steps back from the output)")
        ax.set_ylabel("|dl/dx_t| relative to distance 1")
        ax.grid(True, which="major", alpha=0.3)
    axes[0].legend(fontsize=7)
    return write_outputs(out_dir, NAME, fig, numbers, quick=quick, seed=seed, plots=plots)
