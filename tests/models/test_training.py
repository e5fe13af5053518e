"""The one training path: TrainConfig (defaults declared once, checked at training time) and train()."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from forecast.data.windows import ArrayWindows
from forecast.errors import InputError
from forecast.models.estimators import RNNForecaster
from forecast.models.networks import NetworkConfig, RecurrentNetwork
from forecast.models.state_features import STATE_MAX_EPOCHS, RNNStateFeatures
from forecast.models.training import DEFAULT_TRAIN, TrainConfig, still_improving, train

FAST = TrainConfig(max_epochs=3, batch_size=16)


def _windows(n: int, seed: int) -> ArrayWindows:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5, 2)).astype(np.float32)  # [N, L, F]
    return ArrayWindows(x, x[:, -1:, :1].copy())  # y [N, 1, 1]: the last input's first column


def _network() -> RecurrentNetwork:
    return RecurrentNetwork(NetworkConfig(n_inputs=2, hidden_size=4, head="direct"))


def test_estimators_read_their_training_defaults_from_train_config():
    for model in (RNNForecaster(), RNNStateFeatures()):
        for name in ("batch_size", "gradient_clip_val", "weight_decay", "accelerator"):
            assert getattr(model, name) == getattr(DEFAULT_TRAIN, name), name
    assert RNNForecaster().max_epochs == DEFAULT_TRAIN.max_epochs
    assert RNNForecaster().patience == DEFAULT_TRAIN.patience
    # The state encoder has no validation windows to stop on, so it keeps a fixed budget of its own.
    assert RNNStateFeatures().max_epochs == STATE_MAX_EPOCHS < DEFAULT_TRAIN.max_epochs


@pytest.mark.parametrize("field, value", [("lr", 0.0), ("max_epochs", 0), ("optimizer", "lbfgs"),
                                          ("gradient_clip_algorithm", "max")])
def test_bad_settings_are_refused_when_training_starts(field, value):
    with pytest.raises(ValueError, match=field):
        train(_network(), _windows(32, 0), None, TrainConfig(**{field: value}))


def test_early_stopping_is_on_by_default_and_ignored_without_validation_windows():
    assert DEFAULT_TRAIN.patience is not None and DEFAULT_TRAIN.patience >= 1
    result = train(_network(), _windows(32, 0), None, TrainConfig(max_epochs=3, patience=1, batch_size=16))
    assert result.epochs == 3 and result.best_epoch is None  # nothing to watch: trained every epoch


def test_plateau_schedule_needs_validation_windows():
    with pytest.raises(InputError, match="no validation windows"):
        train(_network(), _windows(32, 0), None, TrainConfig(lr_schedule="plateau"))


def _scripted(val_losses: list[float], **config):
    """Train a small network whose validation loss at epoch e is `val_losses[e]` (its weights still change
    every epoch); returns the TrainResult and each epoch's weights, to see which epoch's were kept."""
    import copy

    import lightning as L

    from forecast.models.lightning import ForecastModule

    class Scripted(ForecastModule):
        def validation_step(self, batch, batch_idx):
            self.log("val_loss", torch.tensor(val_losses[self.current_epoch]), on_epoch=True,
                     batch_size=len(batch["x"]))

    class Snapshots(L.Callback):
        def __init__(self):
            self.states = []

        def on_train_epoch_end(self, trainer, module):
            self.states.append(copy.deepcopy(module.network.state_dict()))

    snapshots = Snapshots()
    module = Scripted(_network(), optimizer="adamw", lr=0.05, weight_decay=0.0, lr_schedule=None, max_epochs=99)
    result = train(module, _windows(64, 0), _windows(16, 1), TrainConfig(batch_size=16, **config),
                   callbacks=[snapshots])
    return result, snapshots.states


def test_patience_stops_on_a_plateau_and_restores_the_best_weights():
    result, states = _scripted([1.0, 0.5, 0.4, 0.6, 0.45, 0.41, 0.7, 0.3, 0.2], max_epochs=9, patience=3)
    assert result.epochs == 6 and len(result.history) == 6  # best at epoch 2, then 3 epochs without a lower loss
    assert result.best_epoch == 2 and result.best_val_loss == pytest.approx(0.4)
    kept = result.network.state_dict()
    for name, value in kept.items():
        assert torch.equal(value, states[2][name]), name  # epoch 2's weights, not the last epoch's
    assert any(not torch.equal(kept[n], states[-1][n]) for n in kept)
    assert not still_improving(result.history)


def test_still_improving_when_the_best_epoch_is_the_last():
    result, _ = _scripted([1.0, 0.8, 0.6], max_epochs=3, patience=2)
    assert result.epochs == 3 and still_improving(result.history)
    result, _ = _scripted([1.0, 0.5, 0.6], max_epochs=3, patience=2)
    assert not still_improving(result.history)
    assert not still_improving([{"epoch": 0, "train_loss": 1.0}])  # no validation: nothing to say
    assert not still_improving([{"epoch": 0, "val_loss": 1.0}])  # one epoch: nothing to compare


def test_train_keeps_the_best_validation_weights_and_leaves_the_callers_rng_alone():
    before = torch.get_rng_state()
    result = train(_network, _windows(64, 0), _windows(32, 1), FAST, seed=3)
    assert torch.equal(before, torch.get_rng_state())
    losses = [row["val_loss"] for row in result.history]
    assert len(losses) == result.epochs == FAST.max_epochs
    assert result.best_val_loss == pytest.approx(min(losses))
    assert result.history[losses.index(min(losses))]["epoch"] == result.best_epoch
    assert len(result.grad_norms) == FAST.max_epochs * 4  # 64 windows in batches of 16
    assert not result.network.training and next(result.network.parameters()).device.type == "cpu"


def test_same_seed_same_weights_when_the_network_is_built_inside_train():
    first = train(_network, _windows(64, 0), None, FAST, seed=5).network.state_dict()
    second = train(_network, _windows(64, 0), None, FAST, seed=5).network.state_dict()
    for name, value in first.items():
        assert torch.equal(value, second[name]), name


def test_decay_schedule_keeps_the_rate_then_multiplies_it_by_the_factor_each_epoch():
    import lightning as L

    from forecast.models.training import LR_DECAY_FACTOR, LR_DECAY_START

    class SeenRates(L.Callback):
        def __init__(self) -> None:
            self.rates: list[float] = []

        def on_train_epoch_start(self, trainer, module) -> None:
            self.rates.append(trainer.optimizers[0].param_groups[0]["lr"])

    seen = SeenRates()
    epochs = LR_DECAY_START + 3
    config = TrainConfig(max_epochs=epochs, batch_size=16, lr=0.01, lr_schedule="decay")
    result = train(_network, _windows(32, 0), _windows(16, 1), config, callbacks=[seen])
    expected = [0.01] * LR_DECAY_START + [0.01 * LR_DECAY_FACTOR ** k for k in (1, 2, 3)]
    assert seen.rates == pytest.approx(expected)
    assert [row["lr"] for row in result.history] == pytest.approx(expected)


def _val_mse(network: RecurrentNetwork, windows: ArrayWindows) -> float:
    batch = {k: torch.as_tensor(v) for k, v in windows.batch(np.arange(len(windows))).items()}
    with torch.no_grad():
        pred, _ = network.eval()(batch["x"])
    return float(torch.nn.functional.mse_loss(pred.squeeze(-1), batch["y"]))


def test_weight_average_is_what_validation_scores_and_what_comes_back():
    """With ema_half_life the kept weights are the moving average validation scored, not the raw weights of
    that epoch (which would score differently); the raw trajectory is the same as without averaging."""
    train_w, val_w = _windows(64, 0), _windows(16, 1)
    config = TrainConfig(max_epochs=4, batch_size=16, lr=0.05, patience=None)
    raw = train(_network, train_w, val_w, config, seed=2)
    averaged = train(_network, train_w, val_w, TrainConfig(**{**config.__dict__, "ema_half_life": 0.5}), seed=2)
    assert averaged.best_val_loss == pytest.approx(_val_mse(averaged.network, val_w), rel=1e-5)
    assert raw.best_val_loss == pytest.approx(_val_mse(raw.network, val_w), rel=1e-5)
    assert [r["train_loss"] for r in averaged.history] == pytest.approx([r["train_loss"] for r in raw.history])
    assert [r["val_loss"] for r in averaged.history] != pytest.approx([r["val_loss"] for r in raw.history])


def test_weight_average_without_validation_returns_the_average():
    config = TrainConfig(max_epochs=3, batch_size=16, lr=0.05)
    raw = train(_network, _windows(64, 0), None, config, seed=4).network.state_dict()
    averaged = train(_network, _windows(64, 0), None, TrainConfig(**{**config.__dict__, "ema_half_life": 1.0}),
                     seed=4).network.state_dict()
    assert any(not torch.allclose(raw[n], averaged[n]) for n in raw if raw[n].is_floating_point())


def test_ema_half_life_is_in_epochs_whatever_the_steps_per_epoch():
    from forecast.models.training import ema_decay, steps_per_epoch

    assert steps_per_epoch(64, 16) == 4 and steps_per_epoch(65, 16) == 5
    assert steps_per_epoch(64, 16, 0.5) == 2 and steps_per_epoch(64, 16, 3) == 3 and steps_per_epoch(3, 16, 0.1) == 1
    for steps in (4, 31, 3000):
        assert ema_decay(2.0, steps) ** (2 * steps) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="ema_half_life"):
        train(_network(), _windows(32, 0), None, TrainConfig(ema_half_life=0.0))


def test_weight_average_resumes_from_the_raw_weights(tmp_path):
    """A fit resumed from last.ckpt with ema_half_life continues as if never stopped: the checkpoint keeps the
    raw weights and the average apart (Lightning's last save comes after its end-of-training hooks)."""
    train_w, val_w = _windows(64, 0), _windows(16, 1)
    config = {"batch_size": 16, "lr": 0.05, "ema_half_life": 0.5, "patience": None}
    train(_network, train_w, val_w, TrainConfig(max_epochs=2, checkpoint_dir=tmp_path, **config), seed=1)
    resumed = train(_network, train_w, val_w, TrainConfig(max_epochs=4, checkpoint_dir=tmp_path, **config), seed=1)
    straight = train(_network, train_w, val_w, TrainConfig(max_epochs=4, **config), seed=1)
    assert [r["val_loss"] for r in resumed.history] == pytest.approx([r["val_loss"] for r in straight.history])
