"""The training recipe: loss, optimizer, schedule and logging around a RecurrentNetwork.

Clipping is set on the Trainer (gradient_clip_val / gradient_clip_algorithm); the module's
`configure_gradient_clipping` applies those settings, sharing with the clipper the gradient norm it records.
"""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import WeightAveraging

from forecast.data.padding import padding_mask
from forecast.errors import TrainingError
from forecast.models.distributions import nll_loss
from forecast.models.networks import RecurrentNetwork
from forecast.models.tasks import CLASSIFY_TASKS, LOSSES, TASKS
from forecast.models.training import decay_factor

__all__ = ["CLASSIFY_TASKS", "LOSSES", "TASKS", "ExponentialWeightAverage", "ForecastModule", "KeepBestWeights",
           "fit_trainer", "quiet_lightning"]


def pinball_loss(pred: torch.Tensor, target: torch.Tensor, quantiles: torch.Tensor) -> torch.Tensor:
    """Mean pinball loss; pred [..., Q], target [...], quantiles [Q]."""
    diff = target.unsqueeze(-1) - pred  # [..., Q]
    return torch.maximum(quantiles * diff, (quantiles - 1) * diff).mean()


def transducer_targets(x: torch.Tensor, y: torch.Tensor, n_targets: int, horizon: int) -> torch.Tensor:
    """Targets of every input step: [B, L, H, T] from inputs x [B, L, F] (targets first) and y [B, H, T]."""
    seq = torch.cat([x[:, :, :n_targets], y], dim=1)  # [B, L, T] + [B, H, T] -> [B, L+H, T]
    return seq[:, 1:, :].unfold(1, horizon, 1).transpose(-1, -2)  # [B, L, T, H] -> [B, L, H, T]


def class_labels(batch: dict[str, torch.Tensor], task: str, thresholds: torch.Tensor) -> torch.Tensor:
    """[B] 0/1 labels of the first target's next value.

    direction: 1 where it is above the value at the origin (inputs hold the targets first).
    event: 1 where it exceeds the threshold; `thresholds` [S] holds it in each series' scaled units.
    """
    y = batch["y"][:, 0, 0]  # [B, H, T] -> [B]
    if task == "direction":
        return (y > batch["x"][:, -1, 0]).long()
    return (y > thresholds[batch["series"]]).long()


class ForecastModule(L.LightningModule):
    """Trains a RecurrentNetwork for regression, quantile regression, a distribution (Gaussian or
    Student-t, by negative log-likelihood), or a two-class task.

    The two-class tasks are up/down direction of the next value and an event (next value above a threshold).
    Per-step bookkeeping stays on the device and is summarised once per epoch (`epoch_summary`):
    the training loss is summed as a tensor instead of `self.log` on every step (profiled at about a tenth
    of the benchmark LSTM's step), and `grad_norms` collects the total gradient norm of every optimizer
    step before clipping, turned into floats once per epoch.
    """

    def __init__(
        self,
        network: RecurrentNetwork,
        *,
        task: str = "regression",
        loss: str = "mse",
        quantiles: Sequence[float] = (),
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        optimizer: str = "adamw",
        lr_schedule: str | None = None,
        max_epochs: int = 1,
        event_thresholds: Sequence[float] = (),
        track_grad_norm: bool = True,
        distribution: str = "normal",
    ) -> None:
        super().__init__()
        self.network = network
        self.task, self.loss_name = task, loss
        self.distribution = distribution  # task="distribution": the family the head's outputs parametrize
        self.register_buffer("quantiles", torch.tensor(list(quantiles), dtype=torch.float32), persistent=False)
        self.lr, self.weight_decay, self.optimizer_name = lr, weight_decay, optimizer
        self.register_buffer(
            "event_thresholds", torch.tensor(list(event_thresholds), dtype=torch.float32), persistent=False
        )
        self.lr_schedule, self.max_epochs = lr_schedule, max_epochs
        self.track_grad_norm = track_grad_norm
        self.grad_norms: list[float] = []  # total gradient norm before clipping, one per optimizer step
        self._epoch_norms: list[torch.Tensor] = []  # this epoch's norms, still on the device
        self._loss_sum: torch.Tensor | float = 0.0  # this epoch's sum of batch loss * batch size
        self._loss_count = 0
        self._summary: tuple[int, dict[str, float]] = (-1, {})

    # Lightning sets `_current_fx_name` around every hook call (about 45 times a step) and the step sets the
    # loss sums; nn.Module.__setattr__ looks for parameters, buffers and submodules on each of them. These
    # are never any of those, so they skip that check (a measurable share of a small network's step).
    _PLAIN_ATTRIBUTES = frozenset({"_current_fx_name", "_loss_sum", "_loss_count"})

    def __setattr__(self, name: str, value) -> None:
        if name in ForecastModule._PLAIN_ATTRIBUTES:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    # -- loss ---------------------------------------------------------------------------------------
    def _point_loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.loss_name == "mae":
            return F.l1_loss(pred, target)
        if self.loss_name == "huber":
            return F.huber_loss(pred, target)
        return F.mse_loss(pred, target)

    def compute_loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        net = self.network
        x, y = batch["x"], batch["y"]
        lengths = batch.get("lengths")  # [B] real rows of left-padded short windows, or None
        pred, _ = net(x, series=batch.get("series"), codes=batch.get("codes"), future=batch.get("future"),
                      lengths=lengths)
        if self.task in CLASSIFY_TASKS:
            return F.cross_entropy(pred, class_labels(batch, self.task, self.event_thresholds))  # pred [B, 2]
        if net.config.head == "transducer":
            target = transducer_targets(x, y, net.config.n_targets, net.config.horizon)  # [B, L, H, T]
            if lengths is not None:  # only real positions carry a loss: [B, L, ...] -> [N_real, ...]
                real = padding_mask(lengths, x.shape[1])
                pred, target = pred[real], target[real]
        else:
            target = y  # [B, H, T]
        if self.task == "quantile":
            return pinball_loss(pred, target, self.quantiles)
        if self.task == "distribution":
            return nll_loss(pred, target, self.distribution)  # pred [..., T, P], target [..., T]
        return self._point_loss(pred.squeeze(-1), target)  # [..., T, 1] -> [..., T]

    # -- steps --------------------------------------------------------------------------------------
    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self.compute_loss(batch)
        # On the CPU this check is free; on an accelerator it would wait for the device at every step, so
        # there the epoch's loss sum, which any NaN or inf poisons, is checked once per epoch instead.
        if loss.device.type == "cpu" and not torch.isfinite(loss):
            raise self._diverged(float(loss), f"batch {batch_idx}")
        self._loss_sum = self._loss_sum + loss.detach() * len(batch["x"])
        self._loss_count += len(batch["x"])
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self.log("val_loss", self.compute_loss(batch), on_epoch=True, prog_bar=True, batch_size=len(batch["x"]))

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self.log("test_loss", self.compute_loss(batch), on_epoch=True, batch_size=len(batch["x"]))

    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self.network.forecast(
            batch["x"], series=batch.get("series"), codes=batch.get("codes"), future=batch.get("future"),
            lengths=batch.get("lengths"),
        )

    def configure_gradient_clipping(self, optimizer: torch.optim.Optimizer, gradient_clip_val=None,
                                    gradient_clip_algorithm=None) -> None:
        """Record the total gradient norm, then clip as the Trainer was told (gradient_clip_val / _algorithm).

        Lightning calls this on every step, after backward and before the optimizer step. One norm serves
        both the record and norm clipping, instead of a logging hook and the clipper computing it twice.
        """
        params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        norm = None
        if params and self.track_grad_norm:
            norm = torch.nn.utils.get_total_norm([p.grad for p in params], foreach=True).detach()
            self._epoch_norms.append(norm)  # the raw norm, before clipping
        if not gradient_clip_val:
            return
        if gradient_clip_algorithm == "norm" and norm is not None:
            torch.nn.utils.clip_grads_with_norm_(params, gradient_clip_val, norm, foreach=True)
        else:
            self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)

    def _diverged(self, value: float, where: str) -> TrainingError:
        return TrainingError(
            f"training loss became {value} at epoch {self.current_epoch}, {where}; lower the learning rate "
            f"(lr={self.lr:g}) or enable gradient clipping (gradient_clip_val)"
        )

    def epoch_summary(self) -> dict[str, float]:
        """This epoch's mean training loss and gradient norms (mean, max), logged once per epoch.

        Callbacks may call it in their `on_train_epoch_end` (which Lightning runs before the module's);
        later calls in the same epoch return the same numbers.
        """
        epoch, summary = self._summary
        if epoch == self.current_epoch:
            return summary
        summary = {}
        if self._loss_count:
            summary["train_loss"] = float(self._loss_sum) / self._loss_count
            if not math.isfinite(summary["train_loss"]):
                raise self._diverged(summary["train_loss"], "in one of its batches")
        if self._epoch_norms:
            norms = torch.stack(self._epoch_norms).float().tolist()  # one device sync per epoch
            self.grad_norms.extend(norms)
            summary["grad_norm"], summary["grad_norm_max"] = sum(norms) / len(norms), max(norms)
        self._loss_sum, self._loss_count, self._epoch_norms = 0.0, 0, []
        for name, value in summary.items():
            self.log(name, value, prog_bar=name == "train_loss")
        self._summary = (self.current_epoch, summary)
        return summary

    def on_train_epoch_end(self) -> None:
        self.epoch_summary()

    def transfer_batch_to_device(self, batch: dict[str, torch.Tensor], device: torch.device,
                                 dataloader_idx: int) -> dict[str, torch.Tensor]:
        # Batches are flat dicts of tensors: skip Lightning's generic collection walk (and on the CPU, any copy).
        if device.type == "cpu":
            return batch
        return {k: v.to(device, non_blocking=True) for k, v in batch.items()}

    def configure_optimizers(self):
        params = self.parameters()
        if self.optimizer_name == "adam":
            opt = torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        elif self.optimizer_name == "sgd":
            opt = torch.optim.SGD(params, lr=self.lr, weight_decay=self.weight_decay, momentum=0.9)
        else:
            opt = torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)
        if self.lr_schedule == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, self.max_epochs))
            return {"optimizer": opt, "lr_scheduler": sched}
        if self.lr_schedule == "plateau":
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "val_loss"}}
        if self.lr_schedule == "decay":
            return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.LambdaLR(opt, decay_factor)}
        return opt


def fit_trainer(trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
    """`trainer.fit(*args, **kwargs)`, except that Ctrl-C comes back as KeyboardInterrupt.

    Lightning catches KeyboardInterrupt, tears down, ignores SIGINT from then on and calls `sys.exit(1)`
    (trainer/call.py: _call_and_handle_interrupt), so callers could neither tell an interrupt from a
    failure nor stop again. Here the interrupt is re-raised after Lightning's teardown and SIGINT's handler
    is restored, so the CLI reports `forecast: interrupted` (exit 130) and Optuna marks the trial failed.
    """
    main_thread = threading.current_thread() is threading.main_thread()
    handler = signal.getsignal(signal.SIGINT) if main_thread else None
    try:
        trainer.fit(*args, **kwargs)
    except SystemExit as exc:
        if trainer.interrupted and exc.code == 1:
            raise KeyboardInterrupt from None
        raise
    finally:
        if main_thread and handler is not None and signal.getsignal(signal.SIGINT) is not handler:
            signal.signal(signal.SIGINT, handler)
    if trainer.interrupted:  # a launcher that returns instead of exiting
        raise KeyboardInterrupt


def quiet_lightning() -> None:
    """Silence Lightning's start-up banners (GPU/TPU availability, tips); warnings still show."""
    import logging
    import warnings

    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.pytorch.accelerators.cuda",
                 "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # Lightning 2.6 calls a torch pytree API that torch 2.13 deprecates; nothing a user can act on.
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
    # Batches are one fancy index over in-memory arrays, so loader worker processes would only add overhead.
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    # Fits without validation windows (RNNStateFeatures, val_size=0, lectures) skip the loop on purpose.
    warnings.filterwarnings("ignore", message=r".*defined a `validation_step` but have no `val_dataloader`")
    warnings.filterwarnings("ignore", message=r".*Total length of .* across ranks is zero.*")
    # ForecastModule moves its flat batches itself, whichever DataModule feeds it.
    warnings.filterwarnings("ignore", message=r".*overridden `transfer_batch_to_device`.*")


class ExponentialWeightAverage(WeightAveraging):
    """An exponential moving average of the weights, updated after every optimizer step (Polyak averaging).

    Lightning's WeightAveraging swaps the average in for validation; `use_average` copies it into the module
    once the fit is over. `decay` is the weight the average keeps at each step (`training.ema_decay`).
    """

    def __init__(self, decay: float) -> None:
        from torch.optim.swa_utils import get_ema_multi_avg_fn

        super().__init__(multi_avg_fn=get_ema_multi_avg_fn(decay))

    def on_train_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        """Leave the raw weights in place: ModelCheckpoint writes `last.ckpt` after this hook, and a resumed fit
        must continue from the raw weights, not from the average. `train()` calls `use_average` after the fit."""

    def use_average(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        """Copy the average into `module` (what WeightAveraging does when training ends)."""
        super().on_train_end(trainer, module)


class KeepBestWeights(L.Callback):
    """Keeps the weights of the epoch with the lowest validation loss (in memory) and per-epoch history.

    The weights are those validation scored: copied at the end of validation, before a weight-averaging
    callback later in the list swaps the raw weights back. Its state goes into Lightning checkpoints, so a
    resumed fit still knows the best epoch so far.
    """

    def __init__(self) -> None:
        self.best_loss = float("inf")
        self.best_state: dict | None = None
        self.history: list[dict[str, float]] = []
        self._lr = float("nan")
        self._validated: dict | None = None  # the weights the last validation scored

    def on_validation_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._validated = {k: v.detach().clone() for k, v in module.network.state_dict().items()}

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._lr = float(trainer.optimizers[0].param_groups[0]["lr"])  # the rate this epoch trains with

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        metrics = dict(module.epoch_summary())  # train_loss, grad_norm, grad_norm_max
        if "val_loss" in trainer.callback_metrics:
            metrics["val_loss"] = float(trainer.callback_metrics["val_loss"])
        metrics["lr"] = self._lr
        self.history.append({"epoch": trainer.current_epoch, **metrics})
        val = metrics.get("val_loss")
        if val is not None and val < self.best_loss:
            self.best_loss = val
            self.best_state = self._validated  # a val_loss means validation ran and left its weights here
        self._validated = None

    def state_dict(self) -> dict:
        return {"best_loss": self.best_loss, "best_state": self.best_state, "history": self.history}

    def load_state_dict(self, state_dict: dict) -> None:
        self.best_loss = state_dict["best_loss"]
        self.best_state = state_dict["best_state"]
        self.history = list(state_dict["history"])
