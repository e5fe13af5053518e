"""Memory length: how many steps back can each cell recall an input, when trained the same small way?

Each (cell, distance) pair trains a fresh network on the marked-recall task (a random symbol at every
step, a marker on the one that matters, `distance` steps before the end; all sequences the same length)
and measures held-out accuracy. A cell "copes" with a distance when its accuracy reaches the threshold;
its memory length is the largest distance up to which it copes at every distance tried. Full runs
average three seeds (data, initialization and batch order all change with the seed).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from forecast.lectures.common import (
    CELL_COLORS,
    CELL_LABELS,
    accuracy,
    fit_classifier,
    make_network,
    new_figure,
    open_gates,
    write_outputs,
)
from forecast.lectures.tasks import recall_task

NAME = "memory-length"
# variant -> (cell, keep-gate bias or None for PyTorch's default initialization); see vanishing.py
VARIANTS: dict[str, tuple[str, float | None]] = {
    "rnn": ("rnn", None),
    "gru": ("gru", None),
    "lstm": ("lstm", None),
    "lstm+gate": ("lstm", 1.0),
}


def memory_length(distances: Sequence[int], accuracies: Sequence[float], threshold: float) -> int:
    """Largest distance d such that accuracy >= threshold at d and at every shorter distance tried (0: none)."""
    longest = 0
    for d, acc in sorted(zip(distances, accuracies, strict=True)):
        if acc < threshold:
            break
        longest = d
    return longest


def recall_accuracy(cell: str, distance: int, *, length: int, hidden_size: int, n_train: int, epochs: int,
                    n_symbols: int, seed: int, gate_bias: float | None = None) -> float:
    """Held-out accuracy of a freshly trained `cell` network on marked recall at `distance`.

    gate_bias: if given, the LSTM forget / GRU update gate bias at initialization (see `open_gates`).
    """
    x, y = recall_task(n_train, length, distance, n_symbols=n_symbols, seed=seed)
    x_test, y_test = recall_task(1000, length, distance, n_symbols=n_symbols, seed=seed + 10_000)
    net = make_network(cell, n_symbols + 1, hidden_size, seed=seed, head="classify", n_classes=n_symbols)
    if gate_bias is not None:
        open_gates(net, gate_bias)
    fit_classifier(net, x, y, epochs=epochs, seed=seed)
    return accuracy(net, x_test, y_test)


def run(out_dir: str | Path, *, quick: bool = False, seed: int = 0, plots: bool = True) -> dict:
    """Accuracy against distance per cell (mean over seeds); memory length at a 90% threshold.

    The three cells use PyTorch's default initialization; an LSTM with its forget gate opened (bias 1)
    is added to show how much of the LSTM's result is its initialization.
    """
    n_symbols, hidden, threshold = 4, 16, 0.9
    if quick:
        distances, n_train, epochs, seeds = (1, 4, 12), 600, 6, (seed,)
    else:
        distances, n_train, epochs, seeds = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32), 2000, 15, (seed, seed + 1, seed + 2)
    length = max(distances) + 1
    per_seed = {
        variant: [[recall_accuracy(cell, d, length=length, hidden_size=hidden, n_train=n_train, epochs=epochs,
                                   n_symbols=n_symbols, seed=s, gate_bias=bias) for d in distances] for s in seeds]
        for variant, (cell, bias) in VARIANTS.items()
    }
    curves = {v: np.mean(acc, axis=0) for v, acc in per_seed.items()}  # [seeds, distances] -> [distances]
    lengths = {v: memory_length(distances, acc, threshold) for v, acc in curves.items()}
    seed_lengths = {v: [memory_length(distances, acc, threshold) for acc in per_seed[v]] for v in VARIANTS}

    fig, (ax,) = new_figure(1, width=6.5, height=4.0)
    for variant, acc in curves.items():
        cell, bias = VARIANTS[variant]
        name = CELL_LABELS[cell] + (f", gate bias {bias:g}" if bias is not None else "")
        per = f"; seeds: {', '.join(map(str, seed_lengths[variant]))}" if len(seeds) > 1 else ""
        ax.plot(distances, acc, "o-" if bias is None else "s--", color=CELL_COLORS[cell],
                label=f"{name}: copes up to {lengths[variant]}{per}")
        if len(seeds) > 1:
            ax.fill_between(distances, np.min(per_seed[variant], axis=0), np.max(per_seed[variant], axis=0),
                            color=CELL_COLORS[cell], alpha=0.12, lw=0)
    ax.axhline(threshold, color="k", ls="--", lw=0.8, label=f"threshold {threshold:.0%}")
    ax.axhline(1 / n_symbols, color="gray", ls=":", lw=0.8, label="chance")
    ax.set_xscale("log", base=2)
    ax.set_xticks(distances, [str(d) for d in distances])
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("distance to the relevant input (steps before the end)")
    ax.set_ylabel("held-out accuracy" + (f" (mean of {len(seeds)} seeds; band: min-max)" if len(seeds) > 1 else ""))
    ax.set_title(f"Marked recall, {length}-step sequences, hidden {hidden}, {epochs} epochs on {n_train}", fontsize=9)
    ax.legend(fontsize=8)
    numbers = {
        "task": f"marked recall of 1 of {n_symbols} symbols among distractors; sequences of {length} steps",
        "hidden_size": hidden, "n_train": n_train, "n_test": 1000, "epochs": epochs, "threshold": threshold,
        "chance": 1 / n_symbols, "seeds": list(seeds), "distances": list(distances),
        "accuracy": curves, "accuracy_per_seed": per_seed, "memory_length": lengths,
        "memory_length_per_seed": seed_lengths,
        "variants": {v: {"cell": c, "gate_bias": b} for v, (c, b) in VARIANTS.items()},
    }
    return write_outputs(out_dir, NAME, fig, numbers, quick=quick, seed=seed, plots=plots)
