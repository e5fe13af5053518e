"""The ridge highway (skip="ridge"): a network's linear skip fitted in closed form before training.

LSTNet (Lai et al. 2018) adds a linear "highway" of the lookback to a recurrent network's forecast; with
skip="linear" it is learned jointly by gradient descent, which over-fits a map of L x H weights within an
epoch or two at long horizons. skip="ridge" fits it first, as the hybrid linear + neural models do (Zhang
2003): ridge regression from each target's (normalized) lookback to its next H values, on the training
windows only, with the penalty chosen on the validation windows; the highway is then frozen and the
recurrent part, whose output layer starts at zero, learns what the linear map leaves. The normalization is
the network's own (`InstanceNorm`), so with normalize="revin" the highway is RLinear (Li et al. 2023)
and with normalize="last" it is ridge on NLinear's inputs (Zeng et al. 2023).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from forecast.errors import InputError

# Candidate penalties, relative to the mean diagonal of the centred X'X (scale-free: the same grid whatever
# the number of windows or the lookback). Without validation windows the middle one is used.
RELATIVE_PENALTIES = tuple(10.0**k for k in range(-6, 2))
DEFAULT_RELATIVE_PENALTY = 1e-2
BATCH_WINDOWS = 2048  # windows read at a time: X'X is accumulated, never the whole design matrix


def _rows(network: nn.Module, windows, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(lookback rows [B*T, L], target rows [B*T, H] on the normalized scale, scale [B*T, 1]) per batch of windows.

    One row per (window, target column): the highway's weights are shared across target columns. Padded
    lookback rows read as zeros, as in the network's forward pass."""
    c = network.config
    for start in range(0, len(windows), batch_size):
        batch = windows.batch(slice(start, start + batch_size))
        x = torch.from_numpy(batch["x"]).float()  # [B, L, F]
        lengths = torch.from_numpy(batch["lengths"]) if "lengths" in batch else None
        xn, stats = network.norm.normalize(x, lengths)
        past = network.skip_inputs(xn, lengths)  # [B, T, L]
        y = network.norm.normalize_targets(torch.from_numpy(batch["y"]).float(), stats)  # [B, H, T]
        scale = torch.ones_like(y[:, :1]) if stats is None else stats[1]  # [B, 1, T]
        keep = torch.isfinite(y).all(dim=1).reshape(-1)  # (window, target) rows with all H targets known
        yield (past.reshape(-1, x.shape[1])[keep].double(),  # [B, T, L] -> [B*T, L]
               y.transpose(1, 2).reshape(-1, c.horizon)[keep].double(),  # [B, H, T] -> [B*T, H]
               scale.transpose(1, 2).reshape(-1, 1)[keep].double())  # [B, 1, T] -> [B*T, 1]


def _solve(train_windows, network: nn.Module, batch_size: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Ridge solutions (weights [L, H], intercepts [H]), one per RELATIVE_PENALTIES entry."""
    lookback, horizon = network.config.lookback, network.config.horizon
    n, sx, sy = 0, torch.zeros(lookback, dtype=torch.float64), torch.zeros(horizon, dtype=torch.float64)
    xtx = torch.zeros(lookback, lookback, dtype=torch.float64)
    xty = torch.zeros(lookback, horizon, dtype=torch.float64)
    for x, y, _ in _rows(network, train_windows, batch_size):
        n, sx, sy = n + len(x), sx + x.sum(0), sy + y.sum(0)
        xtx += x.T @ x
        xty += x.T @ y
    if n == 0:
        raise InputError("skip='ridge' found no training window with all its targets known: the highway has "
                         "nothing to fit on; use more data or --skip none")
    mx, my = sx / n, sy / n
    sxx = xtx - n * torch.outer(mx, mx)  # centred: the intercept is not penalized
    sxy = xty - n * torch.outer(mx, my)
    unit = float(torch.diagonal(sxx).mean().clamp_min(1e-12))
    eye = torch.eye(lookback, dtype=torch.float64)
    weights = [torch.linalg.solve(sxx + relative * unit * eye, sxy) for relative in RELATIVE_PENALTIES]  # [L, H]
    return weights, [my - mx @ w for w in weights]


def fit_ridge_highway(network: nn.Module, train_windows, val_windows=None, *,
                      batch_size: int = BATCH_WINDOWS) -> float:
    """Fit `network.skip` (an nn.Linear(L, H)) by ridge regression; returns the relative penalty chosen.

    The penalty is the one of RELATIVE_PENALTIES with the lowest validation MSE on the windows' own scale
    (what the training loss and early stopping measure), DEFAULT_RELATIVE_PENALTY without validation
    windows. The head's last linear layer is zeroed, so training starts from the highway's forecast and
    the recurrent part learns the residual (the skip itself is frozen by RecurrentNetwork for skip="ridge")."""
    weights, intercepts = _solve(train_windows, network, batch_size)
    pick = RELATIVE_PENALTIES.index(DEFAULT_RELATIVE_PENALTY)
    if val_windows is not None and len(val_windows):
        stacked_w = torch.cat(weights, dim=1)  # [L, K*H]
        stacked_b = torch.cat(intercepts)  # [K*H]
        sse, count = torch.zeros(len(weights), dtype=torch.float64), 0
        for x, y, scale in _rows(network, val_windows, batch_size):
            error = (x @ stacked_w + stacked_b).view(len(x), len(weights), -1) - y[:, None, :]  # [R, K, H]
            sse += ((error * scale[:, None, :]) ** 2).sum(dim=(0, 2))  # on the windows' scale
            count += y.numel()
        if count:
            pick = int(torch.argmin(sse))
    skip = network.skip
    with torch.no_grad():
        skip.weight.copy_(weights[pick].T.to(skip.weight.dtype))  # nn.Linear stores [H, L]
        skip.bias.copy_(intercepts[pick].to(skip.bias.dtype))
    _zero_output_layer(network)
    return RELATIVE_PENALTIES[pick]


def _zero_output_layer(network: nn.Module) -> None:
    """Zero the head's last linear map (the segments decoder's projection or the direct head itself)."""
    layer = getattr(network.head, "project", network.head)
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.zero_()
