"""Instance normalization of each window's target columns, undone on the forecasts.

"last" subtracts each target's value at the origin (NLinear, SegRNN's default); "revin" subtracts each
target's lookback mean and divides by its standard deviation (RevIN, Kim et al. 2022), optionally with a
learned per-target affine map. Statistics come from the window's own real rows only, so a forecast never
reads values after its origin, and `denormalize(normalize(x))` gives back x.
"""

from __future__ import annotations

import torch
from torch import nn

from forecast.data.padding import padding_mask

NORMALIZATIONS = ("none", "last", "revin")
EPS = 1e-5  # added to the variance, as RevIN does, so a flat window does not divide by zero


class InstanceNorm(nn.Module):
    """Normalize the first `n_targets` input columns per window; put the level (and scale) back on forecasts."""

    def __init__(self, mode: str, n_targets: int, affine: bool = False) -> None:
        super().__init__()
        if mode not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {mode!r}")
        if affine and mode != "revin":
            raise ValueError(f"normalize_affine=True needs normalize='revin', got {mode!r}")
        self.mode, self.n_targets = mode, n_targets
        # Registered only when used, so networks saved before these options load with the same state keys.
        self.weight = nn.Parameter(torch.ones(n_targets)) if affine else None  # [T]
        self.bias = nn.Parameter(torch.zeros(n_targets)) if affine else None  # [T]

    def statistics(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(level, scale), each [B, 1, T], of the targets in windows x [B, L, F] (left-padded: `lengths` [B])."""
        targets = x[:, :, : self.n_targets]  # [B, L, T]; targets are the first input columns
        if self.mode == "last":
            return targets[:, -1:], torch.ones_like(targets[:, -1:])  # the origin is the last row
        if lengths is None:
            mean = targets.mean(dim=1, keepdim=True)  # [B, 1, T]
            var = targets.var(dim=1, keepdim=True, unbiased=False)
        else:  # only the real rows count: [B, L, 1] mask
            real = padding_mask(lengths.to(x.device), x.shape[1]).unsqueeze(-1)
            targets = torch.where(real, targets, torch.zeros_like(targets))  # padding (even NaN) reads as 0
            count = real.sum(dim=1, keepdim=True).to(x.dtype)  # [B, 1, 1]
            mean = targets.sum(dim=1, keepdim=True) / count
            var = torch.where(real, targets - mean, torch.zeros_like(targets)).pow(2).sum(dim=1, keepdim=True) / count
        return mean, torch.sqrt(var + EPS)

    def normalize(self, x: torch.Tensor, lengths: torch.Tensor | None = None):
        """x [B, L, F] with its targets normalized, and the statistics (None for mode "none")."""
        if self.mode == "none":
            return x, None
        level, scale = self.statistics(x, lengths)  # [B, 1, T] each
        targets = (x[:, :, : self.n_targets] - level) / scale  # [B, L, T]
        if self.weight is not None:
            targets = targets * self.weight + self.bias  # [B, L, T] * [T] + [T]
        return torch.cat([targets, x[:, :, self.n_targets:]], dim=-1), (level, scale)  # [B, L, T] + [B, L, F-T]

    def normalize_targets(self, y: torch.Tensor, stats) -> torch.Tensor:
        """Targets y [B, H, T] on the scale the head forecasts in (the inverse of `denormalize`)."""
        if stats is None:
            return y
        level, scale = stats  # [B, 1, T] each
        y = (y - level) / scale
        return y * self.weight + self.bias if self.weight is not None else y

    def denormalize(self, y: torch.Tensor, stats) -> torch.Tensor:
        """Forecasts y [B, H, T, Q] on the normalized scale -> the inputs' scale (the inverse of `normalize`)."""
        if stats is None:
            return y
        level, scale = stats  # [B, 1, T] each
        if self.weight is not None:
            y = (y - self.bias[:, None]) / (self.weight[:, None] + EPS * EPS)  # [T, 1] broadcast over Q
        return y * scale.unsqueeze(-1) + level.unsqueeze(-1)  # [B, H, T, Q] * [B, 1, T, 1] + [B, 1, T, 1]
