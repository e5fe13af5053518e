"""skip="ridge": the linear highway fitted in closed form on the training windows before training, frozen."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import Ridge

from forecast.config import WindowSpec
from forecast.data.windows import ArrayWindows
from forecast.errors import InputError
from forecast.models.estimators import RNNForecaster
from forecast.models.highway import DEFAULT_RELATIVE_PENALTY, RELATIVE_PENALTIES, fit_ridge_highway
from forecast.models.loading import load_model
from forecast.models.networks import NetworkConfig, RecurrentNetwork
from forecast.models.training import TrainConfig, train

L, H, T = 16, 4, 2


def _series(n: int, seed: int) -> np.ndarray:
    """[n, T] noisy sine waves: a linear map of the lookback forecasts them well."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    return (np.sin(2 * np.pi * t / 12 + np.arange(T)) + 0.3 * rng.normal(size=(n, T))).astype(np.float32)


def _windows(values: np.ndarray) -> ArrayWindows:
    n = len(values) - L - H + 1
    x = np.stack([values[i:i + L] for i in range(n)])  # [N, L, T]
    y = np.stack([values[i + L:i + L + H] for i in range(n)])  # [N, H, T]
    return ArrayWindows(x, y)


def _net(**kwargs) -> RecurrentNetwork:
    torch.manual_seed(0)
    config = {"n_inputs": T, "n_targets": T, "horizon": H, "lookback": L, "hidden_size": 8, "cell": "gru",
              "skip": "ridge", **kwargs}
    return RecurrentNetwork(NetworkConfig(**config))


def _ridge_rows(windows: ArrayWindows) -> tuple[np.ndarray, np.ndarray]:
    """One regression row per (window, target column), as the highway's weights are shared across columns."""
    x = windows.x.transpose(0, 2, 1).reshape(-1, L).astype(np.float64)  # [N*T, L]
    y = windows.y.transpose(0, 2, 1).reshape(-1, H).astype(np.float64)  # [N*T, H]
    return x, y


def test_the_highway_is_scikit_learns_ridge_with_the_penalty_chosen_on_validation():
    data = _series(400, 0)
    train_w, val_w = _windows(data[:300]), _windows(data[300 - L:])
    net = _net()
    chosen = fit_ridge_highway(net, train_w, val_w)
    x, y = _ridge_rows(train_w)
    xv, yv = _ridge_rows(val_w)
    unit = np.mean(np.var(x, axis=0)) * len(x)  # the mean diagonal of the centred X'X
    fits = {r: Ridge(alpha=r * unit).fit(x, y) for r in RELATIVE_PENALTIES}
    val_mse = {r: np.mean((f.predict(xv) - yv) ** 2) for r, f in fits.items()}
    assert chosen == min(val_mse, key=val_mse.get)
    np.testing.assert_allclose(net.skip.weight.detach().numpy(), fits[chosen].coef_, atol=1e-4)
    np.testing.assert_allclose(net.skip.bias.detach().numpy(), fits[chosen].intercept_, atol=1e-4)


def test_the_highway_reads_only_the_training_windows():
    # Without validation windows the penalty is fixed, so the fit depends on the training windows alone:
    # whatever comes after them (validation, test) cannot move it.
    data = _series(400, 1)
    changed = data.copy()
    changed[300:] += 100.0
    fitted = [_net(), _net()]
    for net, values in zip(fitted, (data, changed), strict=True):
        assert fit_ridge_highway(net, _windows(values[:300]), None) == DEFAULT_RELATIVE_PENALTY
    torch.testing.assert_close(fitted[0].skip.weight, fitted[1].skip.weight)


@pytest.mark.parametrize("head, normalize", [("segments", "revin"), ("direct", "last"), ("direct", "none")])
def test_training_starts_from_the_highway_keeps_it_frozen_and_learns_the_residual(head, normalize):
    data = _series(400, 2)
    train_w, val_w = _windows(data[:300]), _windows(data[300 - L:])
    net = _net(head=head, normalize=normalize, segment=4 if head == "segments" else 1)
    highway = _net(head=head, normalize=normalize, segment=4 if head == "segments" else 1)
    fit_ridge_highway(highway, train_w, val_w)
    x = torch.from_numpy(train_w.x[:8])
    with torch.no_grad():  # the output layer starts at zero: the untrained network forecasts the highway alone
        linear = highway.norm.denormalize(
            highway.skip(highway.norm.normalize(x)[0].transpose(1, 2)).transpose(1, 2).unsqueeze(-1),
            highway.norm.normalize(x)[1])
        torch.testing.assert_close(highway.forecast(x), linear)
    result = train(net, train_w, val_w, TrainConfig(max_epochs=2, batch_size=32, patience=None), seed=0)
    assert result.highway_penalty in RELATIVE_PENALTIES
    torch.testing.assert_close(result.network.skip.weight, highway.skip.weight)  # frozen: the optimizer left it
    layer = getattr(result.network.head, "project", result.network.head)
    assert layer.weight.abs().sum() > 0  # the recurrent part trained on what the highway leaves


def test_rnn_forecaster_with_the_ridge_highway_fits_saves_and_loads(tmp_path):
    index = pd.date_range("2024-01-01", periods=300, freq="h")
    frame = pd.DataFrame(_series(300, 3), index=index, columns=["a", "b"])
    spec = WindowSpec(target=("a", "b"), lookback=L, horizon=H)
    model = RNNForecaster(cell="gru", hidden_size=8, head="segments", segment=4, channel_independent=True,
                          normalize="revin", skip="ridge", max_epochs=2, progress_bar=False).fit(frame, spec)
    assert model.network_.skip.weight.requires_grad is False
    model.save(tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    pd.testing.assert_frame_equal(model.predict(frame), loaded.predict(frame))


def test_no_training_window_with_known_targets_is_one_clear_input_error():
    windows = _windows(_series(100, 4))
    windows.y[:] = np.nan
    with pytest.raises(InputError, match="--skip none"):
        fit_ridge_highway(_net(), windows, None)
