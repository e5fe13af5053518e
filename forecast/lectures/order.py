"""Order sensitivity: an additive "bag of inputs" state cannot tell orders apart; an Elman RNN can.

The additive state s_i = s_{i-1} + W x_i ends at s_L = W (x_1 + ... + x_L), the same for every order of
the inputs, so no head on top of it can use order. The Elman RNN's s_i = tanh(W x_i + U s_{i-1} + b)
mixes each input with what came before, so order changes the state.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from forecast.lectures.common import accuracy, fit_classifier, make_network, new_figure, write_outputs
from forecast.lectures.tasks import increasing_task, permute_steps

NAME = "order-sensitivity"
COLORS = {"additive": "tab:gray", "rnn": "tab:red"}


class AdditiveState(nn.Module):
    """s_i = s_{i-1} + W x_i, then an MLP head on the final state: a bag-of-inputs sequence classifier.

    Same interface as RecurrentNetwork: `forward(x, h=None) -> (logits [B, n_classes], final state [B, H])`.
    """

    def __init__(self, n_inputs: int, hidden_size: int, n_classes: int = 2) -> None:
        super().__init__()
        self.input = nn.Linear(n_inputs, hidden_size, bias=False)  # W
        self.head = nn.Sequential(nn.Linear(hidden_size, hidden_size), nn.Tanh(), nn.Linear(hidden_size, n_classes))

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        states = torch.cumsum(self.input(x), dim=1)  # [B, L, F] -> [B, L, H]: s_i = s_{i-1} + W x_i
        final = states[:, -1] if h is None else states[:, -1] + h  # [B, H]
        return self.head(final), final


def make_additive(n_inputs: int, hidden_size: int, *, seed: int, n_classes: int = 2) -> AdditiveState:
    """An AdditiveState seeded locally."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return AdditiveState(n_inputs, hidden_size, n_classes)


def output_change(network: nn.Module, x: torch.Tensor, *, seed: int = 0) -> float:
    """Largest |output(x) - output(x with its steps permuted)| over a batch: 0 for an order-blind network."""
    with torch.no_grad():
        a, _ = network(x)
        b, _ = network(permute_steps(x, seed=seed))
    return float((a - b).abs().max())


def run(out_dir: str | Path, *, quick: bool = False, seed: int = 0, plots: bool = True) -> dict:
    """Train the additive state and the Elman RNN on "is the sequence increasing?"; compare accuracies."""
    length, hidden = 5, 32
    n_pairs, epochs = (400, 10) if quick else (3000, 30)
    x, y = increasing_task(n_pairs, length, seed=seed)
    x_test, y_test = increasing_task(1000, length, seed=seed + 1)
    models = {
        "additive": make_additive(1, hidden, seed=seed),
        "rnn": make_network("rnn", 1, hidden, seed=seed, head="classify"),
    }
    labels = {"additive": "additive state  s_i = s_(i-1) + W x_i", "rnn": "Elman RNN"}
    numbers: dict = {"task": f"is the sequence increasing? length {length}, pairs with the same values",
                     "n_train": len(x), "n_test": len(x_test), "hidden_size": hidden, "epochs": epochs,
                     "chance": 0.5, "models": {}}
    fig, (ax_loss, ax_acc) = new_figure(2)
    for name, net in models.items():
        change_init = output_change(net, x_test, seed=seed)
        history = fit_classifier(net, x, y, epochs=epochs, seed=seed)
        numbers["models"][name] = {
            "train_accuracy": accuracy(net, x, y),
            "test_accuracy": accuracy(net, x_test, y_test),
            "max_output_change_when_permuted": output_change(net, x_test, seed=seed),
            "max_output_change_when_permuted_at_init": change_init,
            "loss_per_epoch": history,
        }
        ax_loss.plot(range(1, epochs + 1), history, color=COLORS[name], label=labels[name])
    names = list(models)
    accs = [numbers["models"][m]["test_accuracy"] for m in names]
    ax_acc.bar([labels[m].split("  ")[0] for m in names], accs, color=[COLORS[m] for m in names])
    ax_acc.axhline(0.5, color="k", ls="--", lw=1, label="chance")
    for i, acc in enumerate(accs):
        ax_acc.text(i, acc + 0.02, f"{acc:.2f}", ha="center")
    ax_acc.set_ylim(0, 1.1)
    ax_acc.set_ylabel("test accuracy")
    ax_acc.set_title("Is the sequence increasing?")
    ax_acc.legend(loc="lower right")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training cross-entropy")
    ax_loss.set_title("Same values, different order")
    ax_loss.legend()
    return write_outputs(out_dir, NAME, fig, numbers, quick=quick, seed=seed, plots=plots)
