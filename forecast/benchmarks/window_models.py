"""Models that map protocol windows to forecasts on the (already normalized) scale the windows hold.

Benchmarks fix the data, split and scaling themselves, so these runners take `Windows` directly instead
of going through the estimators (whose own scaling and validation split would differ from the protocol).
All forecasts are [N, H, T] float64 arrays: N windows, H steps, T target columns.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from sklearn.linear_model import Ridge

from forecast.data.windows import Windows
from forecast.models.networks import NetworkConfig, RecurrentNetwork
from forecast.models.training import DEFAULT_TRAIN, TrainConfig, train


def _target_inputs(windows: Windows) -> np.ndarray:
    """[N, L, T] the target columns of every window's inputs (targets are the first input columns)."""
    n_targets = len(windows.spec.targets)
    return windows.inputs(slice(None))[:, :, :n_targets]


def repeat_last(windows: Windows) -> np.ndarray:
    """Repeat each target's value at the origin for every step: [N, H, T]."""
    last = _target_inputs(windows)[:, -1:, :].astype(np.float64)  # [N, 1, T]
    return np.repeat(last, windows.spec.horizon, axis=1)  # [N, 1, T] -> [N, H, T]


@dataclass
class RidgeLookback:
    """Ridge regression from the flattened lookback to the H next values, a close cousin of DLinear.

    channel_independent=True fits one model on every target column's own lookback (columns stacked as
    extra samples, weights shared, like DLinear/PatchTST); False reads all columns' lookbacks jointly
    ([L*T] -> [H*T]). The penalty is chosen from `alphas` on the validation windows.
    """

    alphas: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)
    channel_independent: bool = True

    def _flatten(self, values: np.ndarray) -> np.ndarray:
        """Rows of the regression: [N, S, T] (S = L inputs or H targets) -> [N*T, S] or [N, S*T]."""
        if self.channel_independent:
            return values.transpose(0, 2, 1).reshape(-1, values.shape[1])  # [N, S, T] -> [N, T, S] -> [N*T, S]
        return values.reshape(len(values), -1)  # [N, S, T] -> [N, S*T]

    def fit(self, train: Windows, val: Windows) -> RidgeLookback:
        """Fit one Ridge per alpha on the training windows; keep the one with the lowest validation MSE."""
        x, y = self._flatten(_target_inputs(train)), self._flatten(train.targets(slice(None)))
        xv, yv = self._flatten(_target_inputs(val)), self._flatten(val.targets(slice(None)))
        self.val_mse_ = {}
        best = None
        for alpha in self.alphas:
            model = Ridge(alpha=alpha).fit(x, y)
            mse = float(np.mean((model.predict(xv) - yv) ** 2))
            self.val_mse_[alpha] = mse
            if best is None or mse < best[0]:
                best = (mse, alpha, model)
        self.best_val_loss_, self.alpha_, self.model_ = best
        return self

    def predict(self, windows: Windows) -> np.ndarray:
        """[N, H, T] forecasts."""
        x = self._flatten(_target_inputs(windows))
        n, horizon, n_targets = len(windows), windows.spec.horizon, len(windows.spec.targets)
        flat = self.model_.predict(x).astype(np.float64)
        if self.channel_independent:
            return flat.reshape(n, n_targets, horizon).transpose(0, 2, 1)  # [N*T, H] -> [N, H, T]
        return flat.reshape(n, horizon, n_targets)  # [N, H*T] -> [N, H, T]


@dataclass(frozen=True)
class RecurrentSettings:
    """Hyperparameters of a recurrent network trained on protocol windows.

    Adam on the MSE, early stopping after `patience` epochs without a lower validation MSE, and the
    weights of the best validation epoch kept. head / normalize / skip / segment / channel options: see
    NetworkConfig; lr_schedule: see ForecastModule (None keeps the rate constant).
    """

    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0
    normalize: str = "last"
    skip: str = "linear"
    head: str = "direct"
    segment: int = 1
    channel_independent: bool = False
    channel_embedding_dim: int = 0
    normalize_affine: bool = False
    lr_schedule: str | None = None
    lr: float = 3e-3
    weight_decay: float = 0.0
    batch_size: int = 256
    max_epochs: int = 12
    patience: int = 3
    gradient_clip_val: float = DEFAULT_TRAIN.gradient_clip_val
    limit_train_batches: int | float = 1.0
    ema_half_life: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class RecurrentFit:
    """A trained network and how its training went."""

    network: RecurrentNetwork
    best_val_loss: float
    best_epoch: int
    epochs: int
    seconds: float
    history: list[dict[str, float]]
    highway_penalty: float | None = None  # skip="ridge" only: the relative ridge penalty chosen on validation


def network_config(cell: str, settings: RecurrentSettings, windows: Windows) -> NetworkConfig:
    """The network `settings` describe for `windows` (their inputs, targets, lookback and horizon)."""
    spec = windows.spec
    return NetworkConfig(
        n_inputs=windows.n_inputs, n_targets=len(spec.targets), horizon=spec.horizon, cell=cell,
        hidden_size=settings.hidden_size, num_layers=settings.num_layers, dropout=settings.dropout,
        head=settings.head, normalize=settings.normalize, skip=settings.skip, lookback=spec.lookback,
        segment=settings.segment, channel_independent=settings.channel_independent,
        channel_embedding_dim=settings.channel_embedding_dim, normalize_affine=settings.normalize_affine,
    )


def fit_recurrent(cell: str, settings: RecurrentSettings, train_windows: Windows, val: Windows, *,
                  seed: int = 0) -> RecurrentFit:
    """Train an Elman RNN / GRU / LSTM on `train_windows`, early-stopping on the MSE of `val`; best weights kept."""
    config = network_config(cell, settings, train_windows)
    recipe = TrainConfig(optimizer="adam", lr=settings.lr, weight_decay=settings.weight_decay,
                         lr_schedule=settings.lr_schedule,
                         batch_size=settings.batch_size, max_epochs=settings.max_epochs, patience=settings.patience,
                         gradient_clip_val=settings.gradient_clip_val,
                         limit_train_batches=settings.limit_train_batches, ema_half_life=settings.ema_half_life)
    fit = train(lambda: RecurrentNetwork(config), train_windows, val, recipe, seed=seed)
    best_loss = fit.best_val_loss if fit.best_val_loss is not None else float("inf")
    best_epoch = fit.best_epoch if fit.best_epoch is not None else -1
    return RecurrentFit(fit.network, best_loss, best_epoch, fit.epochs, fit.seconds, fit.history,
                        fit.highway_penalty)


@torch.no_grad()
def predict_network(network: RecurrentNetwork, windows: Windows, *, batch_size: int = 1024) -> np.ndarray:
    """[N, H, T] point forecasts of a direct- or segments-head network."""
    network.eval()
    out = []
    for start in range(0, len(windows), batch_size):
        x = torch.from_numpy(windows.inputs(slice(start, start + batch_size)))  # [B, L, F]
        out.append(network.forecast(x)[..., 0].numpy())  # [B, H, T, 1] -> [B, H, T]
    return np.concatenate(out).astype(np.float64)
