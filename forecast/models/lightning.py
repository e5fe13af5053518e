"""The training recipe: loss, optimizer, schedule and logging around a RecurrentNetwork.

Clipping is not here: it is a Trainer argument (gradient_clip_val / gradient_clip_algorithm).
"""

from __future__ import annotations

from collections.abc import Sequence

import lightning as L
import torch
import torch.nn.functional as F

from forecast.data.padding import padding_mask
from forecast.errors import TrainingError
from forecast.models.networks import RecurrentNetwork

TASKS = ("regression", "quantile", "direction")
LOSSES = ("mse", "mae", "huber")


def pinball_loss(pred: torch.Tensor, target: torch.Tensor, quantiles: torch.Tensor) -> torch.Tensor:
    """Mean pinball loss; pred [..., Q], target [...], quantiles [Q]."""
    diff = target.unsqueeze(-1) - pred  # [..., Q]
    return torch.maximum(quantiles * diff, (quantiles - 1) * diff).mean()


def transducer_targets(x: torch.Tensor, y: torch.Tensor, n_targets: int, horizon: int) -> torch.Tensor:
    """Targets of every input step: [B, L, H, T] from inputs x [B, L, F] (targets first) and y [B, H, T]."""
    seq = torch.cat([x[:, :, :n_targets], y], dim=1)  # [B, L, T] + [B, H, T] -> [B, L+H, T]
    return seq[:, 1:, :].unfold(1, horizon, 1).transpose(-1, -2)  # [B, L, T, H] -> [B, L, H, T]


class ForecastModule(L.LightningModule):
    """Trains a RecurrentNetwork for regression, quantile regression, or up/down direction."""

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
    ) -> None:
        super().__init__()
        self.network = network
        self.task, self.loss_name = task, loss
        self.register_buffer("quantiles", torch.tensor(list(quantiles), dtype=torch.float32), persistent=False)
        self.lr, self.weight_decay, self.optimizer_name = lr, weight_decay, optimizer
        self.lr_schedule, self.max_epochs = lr_schedule, max_epochs
        self.grad_norms: list[float] = []  # total gradient norm before clipping, one per optimizer step

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
        if self.task == "direction":
            label = (y[:, 0, 0] > x[:, -1, 0]).long()  # next value above the origin's value -> class 1
            return F.cross_entropy(pred, label)
        if net.config.head == "transducer":
            target = transducer_targets(x, y, net.config.n_targets, net.config.horizon)  # [B, L, H, T]
            if lengths is not None:  # only real positions carry a loss: [B, L, ...] -> [N_real, ...]
                real = padding_mask(lengths, x.shape[1])
                pred, target = pred[real], target[real]
        else:
            target = y  # [B, H, T]
        if self.task == "quantile":
            return pinball_loss(pred, target, self.quantiles)
        return self._point_loss(pred.squeeze(-1), target)  # [..., T, 1] -> [..., T]

    # -- steps --------------------------------------------------------------------------------------
    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self.compute_loss(batch)
        if not torch.isfinite(loss):
            raise TrainingError(
                f"training loss became {loss.item()} at epoch {self.current_epoch}, batch {batch_idx}; "
                f"lower the learning rate (lr={self.lr:g}) or enable gradient clipping (gradient_clip_val)"
            )
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(batch["x"]))
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

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        # Called before the Trainer clips, so this is the raw norm that clipping acts on.
        grads = [p.grad for p in self.parameters() if p.grad is not None]
        if grads:
            norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
            self.grad_norms.append(float(norm))
            self.log("grad_norm", norm, on_step=False, on_epoch=True)

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
        return opt


def quiet_lightning() -> None:
    """Silence Lightning's start-up banners (GPU/TPU availability, tips); warnings still show."""
    import logging

    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.pytorch.accelerators.cuda",
                 "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.WARNING)
