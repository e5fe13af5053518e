"""Exploding gradients and their cures: an Elman RNN whose recurrent weights are too large.

The recurrent matrix starts as an orthogonal matrix times a gain > 1, so backpropagation through time
multiplies the gradient by up to `gain` per step. Training uses the toolkit's own path (ForecastModule
and a Lightning Trainer, SGD with momentum) with no clipping, clipping by value, clipping by norm
(Trainer's gradient_clip_val / gradient_clip_algorithm), and with weight decay; each step's loss and
gradient norm (before and after clipping) are recorded.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import torch

from forecast import datasets
from forecast.config import WindowSpec
from forecast.errors import TrainingError
from forecast.lectures.common import lightning_fit, make_network, new_figure, prepare, tensors, write_outputs
from forecast.models.lightning import ForecastModule

NAME = "exploding-gradients"

# variant -> (gradient_clip_val, gradient_clip_algorithm, weight_decay)
VARIANTS: dict[str, tuple[float | None, str, float]] = {
    "no clipping": (None, "norm", 0.0),
    "clip by value 0.1": (0.1, "value", 0.0),
    "clip by norm 1": (1.0, "norm", 0.0),
    "weight decay 0.1": (None, "norm", 0.1),
}
COLORS = {"no clipping": "tab:red", "clip by value 0.1": "tab:orange", "clip by norm 1": "tab:blue",
          "weight decay 0.1": "tab:purple"}


class StepRecorder(L.Callback):
    """Per optimizer step: the training loss, the gradient's norm and largest entry after clipping, and the
    recurrent matrix's spectral norm (its largest gain per step) after the update.

    Lightning clips inside the optimizer step and zeroes gradients only before the next backward, so at
    the end of a batch `p.grad` holds exactly the (clipped) gradient the optimizer used.
    """

    def __init__(self) -> None:
        self.loss: list[float] = []
        self.clipped_norm: list[float] = []
        self.clipped_max: list[float] = []
        self.recurrent_norm: list[float] = []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.loss.append(float(outputs["loss"]))
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        self.clipped_norm.append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))
        self.clipped_max.append(float(max(g.abs().max() for g in grads)))
        w_hh = module.network.rnn.weight_hh_l0.detach()
        self.recurrent_norm.append(float(torch.linalg.matrix_norm(w_hh, ord=2)))


def exploding_rnn(n_inputs: int, hidden_size: int, gain: float, *, seed: int):
    """An Elman RNN forecaster whose recurrent matrix is `gain` times a random orthogonal matrix."""
    net = make_network("rnn", n_inputs, hidden_size, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        torch.nn.init.orthogonal_(net.rnn.weight_hh_l0, gain=gain, generator=generator)
    return net


def train_variant(data, *, clip: float | None, algorithm: str, weight_decay: float, gain: float, hidden: int,
                  steps: int, lr: float, seed: int) -> dict:
    """Train one variant for `steps` optimizer steps; returns its per-step records (stops at a NaN loss)."""
    net = exploding_rnn(data.train.n_inputs, hidden, gain, seed=seed)
    module = ForecastModule(net, lr=lr, optimizer="sgd", weight_decay=weight_decay, max_epochs=10_000)
    recorder = StepRecorder()
    diverged_at = None
    try:
        lightning_fit(module, data.train, epochs=10_000, max_steps=steps, seed=seed, callbacks=[recorder],
                      gradient_clip_val=clip, gradient_clip_algorithm=algorithm)
    except TrainingError:
        diverged_at = len(recorder.loss)  # the loss of this step was NaN/inf: training stopped
    n = len(recorder.loss)
    x_test, y_test = tensors(data.test)
    with torch.no_grad():
        test_mse = float(((net(x_test)[0][..., 0] - y_test) ** 2).mean())
    return {
        "loss": recorder.loss,
        "grad_norm": module.grad_norms[:n],  # before clipping
        "clipped_grad_norm": recorder.clipped_norm,
        "clipped_grad_max": recorder.clipped_max,
        "recurrent_spectral_norm": recorder.recurrent_norm,
        "diverged_at_step": diverged_at,
        "steps_done": n,
        "final_loss": float(np.mean(recorder.loss[-10:])) if n else None,
        "median_grad_norm": float(np.median(module.grad_norms[:n])) if n else None,
        "max_grad_norm": float(np.max(module.grad_norms[:n])) if n else None,
        "max_clipped_grad_norm": float(np.max(recorder.clipped_norm)) if n else None,
        "recurrent_spectral_norm_after": recorder.recurrent_norm[-1] if n else None,
        "test_mse": test_mse if np.isfinite(test_mse) else None,
    }


def run(out_dir: str | Path, *, quick: bool = False, seed: int = 0, plots: bool = True) -> dict:
    """Train the exploding Elman RNN four ways on Seattle temp_max; plot loss and gradient norm per step.

    Full runs repeat each variant with three seeds (initialization and batch order): the per-step plot
    shows the first, and `per_seed` holds every seed's test MSE and final recurrent norm, because which
    variant ends best depends on the seed while what happens to the recurrent matrix does not.
    """
    gain, hidden, lr = 2.0, 32, 0.01
    lookback, steps, seeds = (32, 40, (seed,)) if quick else (64, 400, (seed, seed + 1, seed + 2))
    spec = WindowSpec(target="temp_max", lookback=lookback, features=("temp_min", "precipitation", "wind"))
    data = prepare(datasets.load("seattle-weather"), spec)
    results, other_seeds = {}, {}
    for name, (clip, algorithm, weight_decay) in VARIANTS.items():
        runs = [train_variant(data, clip=clip, algorithm=algorithm, weight_decay=weight_decay, gain=gain,
                              hidden=hidden, steps=steps, lr=lr, seed=s) for s in seeds]
        results[name] = runs[0]  # per-step curves of the first seed; summaries of every seed below
        other_seeds[name] = {
            key: [r[key] for r in runs]
            for key in ("test_mse", "recurrent_spectral_norm_after", "max_grad_norm", "max_clipped_grad_norm",
                        "diverged_at_step")
        }

    fig, (ax_loss, ax_norm, ax_w) = new_figure(3, width=4.6)
    for name, r in results.items():
        steps_axis = np.arange(1, r["steps_done"] + 1)
        ax_loss.semilogy(steps_axis, r["loss"], color=COLORS[name], lw=1, label=name)
        ax_norm.semilogy(steps_axis, r["grad_norm"], color=COLORS[name], lw=1, label=name)
        mses = ", ".join("diverged" if m is None else f"{m:.2f}" for m in other_seeds[name]["test_mse"])
        ax_w.semilogy(np.arange(0, r["steps_done"] + 1), [gain, *r["recurrent_spectral_norm"]], color=COLORS[name],
                      lw=1.5, label=f"{name} (test MSE {mses})")
        if r["diverged_at_step"] is not None:
            ax_loss.axvline(r["diverged_at_step"], color=COLORS[name], ls=":", lw=1)
    ax_norm.axhline(1.0, color="tab:blue", ls="--", lw=0.8, label="norm clip threshold")
    ax_loss.set_title(f"Elman RNN, recurrent gain {gain:g}: training loss\n(SGD + momentum, lr {lr:g})", fontsize=9)
    ax_loss.set_xlabel("optimizer step")
    ax_loss.set_ylabel("training MSE (scaled temp_max)")
    ax_norm.set_title("gradient norm before clipping", fontsize=9)
    ax_norm.set_xlabel("optimizer step")
    ax_norm.set_ylabel("|grad|")
    ax_w.set_title("spectral norm of the recurrent matrix" + (f"\n(test MSE of seeds {', '.join(map(str, seeds))})"
                                                           if len(seeds) > 1 else ""), fontsize=9)
    ax_w.set_xlabel("optimizer step")
    ax_w.set_ylabel("|W_hh|_2")
    ax_w.legend(fontsize=7)
    ax_loss.legend(fontsize=7)
    ax_norm.legend(fontsize=7)
    numbers = {
        "data": "Seattle daily, next-day temp_max, scaled (scaler fit on training rows)",
        "recurrent_init": f"orthogonal x gain {gain:g}", "gain": gain, "hidden_size": hidden, "lookback": lookback,
        "optimizer": "sgd (momentum 0.9)", "lr": lr, "max_steps": steps, "seeds": list(seeds),
        "per_seed": other_seeds, "variants": results,
    }
    return write_outputs(out_dir, NAME, fig, numbers, quick=quick, seed=seed, plots=plots)
