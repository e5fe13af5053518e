"""RNNForecaster: the scikit-learn contract, training behaviour (clipping, NaN loss, early stopping,
checkpoints, schedules, logging) and input checks. Tiny series and networks keep each fit to a second."""

from __future__ import annotations

import re

import lightning as L
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from forecast.config import WindowSpec
from forecast.errors import InputError, TrainingError
from forecast.models.estimators import RNNForecaster
from forecast.models.training import LAST_CHECKPOINT

FAST = {"hidden_size": 8, "max_epochs": 2, "batch_size": 32, "progress_bar": False, "seed": 0}


def sine_frame(n: int = 120, noise: float = 0.05, seed: int = 0) -> pd.DataFrame:
    """One daily series: a sine of period 12 plus a little noise, and a covariate."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return pd.DataFrame(
        {"y": np.sin(2 * np.pi * t / 12) + noise * rng.normal(size=n), "x": np.cos(2 * np.pi * t / 12)},
        index=pd.date_range("2021-01-01", periods=n, freq="D"),
    )


SPEC = WindowSpec(target="y", lookback=8, horizon=2, features=("x",))


# -- scikit-learn contract -------------------------------------------------------------------------
def test_constructor_is_keyword_only_and_only_stores_arguments():
    with pytest.raises(TypeError):
        RNNForecaster("lstm")  # type: ignore[misc]
    model = RNNForecaster(cell="gru", hidden_size=3, quantiles=(0.2, 0.8))
    assert vars(model) == model.get_params()  # nothing derived, nothing validated yet
    RNNForecaster(hidden_size=-1)  # invalid values are only rejected by fit


def test_get_set_params_and_clone():
    model = RNNForecaster(cell="rnn", nonlinearity="relu", hidden_size=5)
    assert model.set_params(hidden_size=7, lr=0.01) is model
    assert model.get_params()["hidden_size"] == 7
    copy = clone(model)
    assert copy is not model and copy.get_params() == model.get_params()


def test_clone_of_a_fitted_model_is_unfitted():
    model = RNNForecaster(**FAST).fit(sine_frame(), SPEC)
    copy = clone(model)
    assert not hasattr(copy, "network_")
    with pytest.raises(NotFittedError):
        copy.predict(sine_frame())


def test_predict_before_fit_raises_not_fitted():
    with pytest.raises(NotFittedError, match="RNNForecaster"):
        RNNForecaster().predict(sine_frame())


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"hidden_size": 0},
         "The 'hidden_size' parameter of RNNForecaster must be an int in the range [1, inf). Got 0 instead."),
        ({"dropout": 1.0},
         "The 'dropout' parameter of RNNForecaster must be a float in the range [0.0, 1.0). Got 1.0 instead."),
    ],
)
def test_invalid_parameters_are_rejected_at_fit_with_exact_messages(params, message):
    model = RNNForecaster(**{**FAST, **params})
    with pytest.raises(InvalidParameterError) as info:
        model.fit(sine_frame(), SPEC)
    assert str(info.value) == message


def test_invalid_choice_lists_the_allowed_values():
    with pytest.raises(InvalidParameterError) as info:
        RNNForecaster(**FAST, cell="transformer").fit(sine_frame(), SPEC)
    text = str(info.value)  # sklearn prints the choices as a set, in no fixed order
    assert text.startswith("The 'cell' parameter of RNNForecaster must be a str among {")
    assert text.endswith("}. Got 'transformer' instead.")
    assert all(f"'{cell}'" in text for cell in ("rnn", "gru", "lstm"))


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"lr": 0.0}, "'lr' parameter of RNNForecaster must be a float in the range (0.0, inf). Got 0.0"),
        ({"gradient_clip_algorithm": "l1"}, "'gradient_clip_algorithm' parameter"),
        ({"task": "quantile", "quantiles": (0.9, 0.1)}, "quantiles must be increasing values strictly between"),
        ({"task": "quantile", "quantiles": (0.0, 0.5)}, "quantiles must be increasing values strictly between"),
        ({"task": "event"}, "task='event' needs event_threshold"),
        ({"task": "direction", "target_transform": "diff"}, "target_transform must be 'none' or 'log'"),
    ],
)
def test_invalid_settings_name_the_value(params, fragment):
    one_step = WindowSpec(target="y", lookback=8, horizon=1)
    with pytest.raises(ValueError, match=re.escape(fragment)):
        RNNForecaster(**{**FAST, **params}).fit(sine_frame(), one_step)


def test_classification_tasks_need_one_step():
    with pytest.raises(InputError, match="use horizon=1 and one target"):
        RNNForecaster(**FAST, task="direction").fit(sine_frame(), SPEC)  # SPEC has horizon 2


# -- determinism -------------------------------------------------------------------------------------
def test_same_seed_same_predictions_and_global_rng_untouched():
    frame = sine_frame()
    # Legacy global numpy state on purpose: it is what a careless library would reseed.
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()[1].copy()  # noqa: NPY002
    first = RNNForecaster(**FAST, dropout=0.2, num_layers=2).fit(frame, SPEC).predict(frame, origin="all")
    assert torch.equal(torch.get_rng_state(), torch_state)  # fit seeds locally, never globally
    assert np.array_equal(np.random.get_state()[1], np_state)  # noqa: NPY002
    second = RNNForecaster(**FAST, dropout=0.2, num_layers=2).fit(frame, SPEC).predict(frame, origin="all")
    pd.testing.assert_frame_equal(first, second)
    other = RNNForecaster(**{**FAST, "seed": 1}, dropout=0.2, num_layers=2).fit(frame, SPEC)
    assert not np.allclose(other.predict(frame, origin="all")["forecast"], first["forecast"])


# -- training behaviour ---------------------------------------------------------------------------------
class GradientSpy(L.Callback):
    """Records the gradients the optimizer actually applies.

    Lightning runs the closure (backward, then clipping) *inside* `optimizer.step`, so a step pre-hook would
    see the previous step's gradients; a post-hook sees exactly the (clipped) gradients of the step that
    just ran, because they are only zeroed at the start of the next closure.
    """

    def __init__(self) -> None:
        self.norms: list[float] = []
        self.max_abs: list[float] = []

    def on_train_start(self, trainer, module) -> None:
        trainer.optimizers[0].register_step_post_hook(self._record)

    def _record(self, optimizer, args, kwargs) -> None:
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        self.norms.append(float(torch.nn.utils.get_total_norm(grads)))
        self.max_abs.append(max(float(g.abs().max()) for g in grads))


@pytest.mark.parametrize("algorithm", ["norm", "value"])
def test_clipping_bounds_the_gradients_the_optimizer_sees(algorithm):
    spy = GradientSpy()
    clip = 0.05
    model = RNNForecaster(**{**FAST, "max_epochs": 3}, lr=0.05, gradient_clip_val=clip,
                          gradient_clip_algorithm=algorithm)
    model.fit(sine_frame(), SPEC, callbacks=[spy])
    assert len(spy.norms) == len(model.grad_norms_) > 0
    assert max(model.grad_norms_) > 2 * clip  # the raw gradients were larger: clipping had work to do
    if algorithm == "norm":
        assert max(spy.norms) <= clip * (1 + 1e-4)
    else:
        assert max(spy.max_abs) <= clip * (1 + 1e-6)


def test_without_clipping_the_optimizer_sees_the_raw_gradients():
    spy = GradientSpy()
    model = RNNForecaster(**FAST, lr=0.05, gradient_clip_val=None).fit(sine_frame(), SPEC, callbacks=[spy])
    np.testing.assert_allclose(spy.norms, model.grad_norms_, rtol=1e-5)


class PoisonWeights(L.Callback):
    """Turns the head's weights into `value` before the second batch, so the loss stops being finite."""

    def __init__(self, value: float) -> None:
        self.value = value

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        if batch_idx == 1:
            with torch.no_grad():
                module.network.head.weight.fill_(self.value)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_loss_stops_training_with_advice(value):
    model = RNNForecaster(**{**FAST, "batch_size": 16, "max_epochs": 1}).fit(sine_frame(), SPEC)
    with pytest.raises(TrainingError, match=r"loss became (nan|inf).*batch 1.*lower the learning rate.*gradient_clip_val"):
        model.fit(sine_frame(), SPEC, callbacks=[PoisonWeights(value)])
    assert not hasattr(model, "network_")  # the earlier fit is gone too: no half-updated model
    with pytest.raises(NotFittedError):
        model.predict(sine_frame())


def test_divergence_is_also_caught_from_the_epoch_loss_sum():
    # The per-epoch check (used on accelerators, where a per-step check would stall the device).
    from forecast.models.lightning import ForecastModule
    from forecast.models.networks import NetworkConfig, RecurrentNetwork

    module = ForecastModule(RecurrentNetwork(NetworkConfig(n_inputs=1, hidden_size=4)), lr=0.5)
    module._loss_sum, module._loss_count = torch.tensor(float("nan")), 8
    with pytest.raises(TrainingError, match=r"loss became nan at epoch 0, in one of its batches.*lr=0.5"):
        module.epoch_summary()


def test_history_and_gradient_norms_are_recorded():
    model = RNNForecaster(**{**FAST, "max_epochs": 3}).fit(sine_frame(), SPEC)
    assert [h["epoch"] for h in model.history_] == [0, 1, 2]
    for entry in model.history_:
        assert {"train_loss", "val_loss", "grad_norm", "grad_norm_max", "lr"} <= set(entry)
        assert entry["grad_norm"] <= entry["grad_norm_max"]
    steps_per_epoch = -(-model.n_train_windows_ // FAST["batch_size"])
    assert len(model.grad_norms_) == 3 * steps_per_epoch
    assert model.best_val_loss_ == min(h["val_loss"] for h in model.history_)


def test_early_stopping_on_validation_loss():
    # With a negligible learning rate the validation loss never improves, so training stops after
    # `patience` epochs without improvement instead of running to max_epochs.
    model = RNNForecaster(**{**FAST, "max_epochs": 20}, lr=1e-12, patience=2).fit(sine_frame(), SPEC)
    assert model.n_epochs_ == 3
    assert len(model.history_) == 3


def test_plateau_schedule_needs_validation_windows():
    with pytest.raises(InputError, match=r"watches the validation loss, but there are no validation windows"):
        RNNForecaster(**FAST, val_size=0.0, lr_schedule="plateau").fit(sine_frame(), SPEC)


def test_patience_is_ignored_without_validation_windows():
    model = RNNForecaster(**{**FAST, "max_epochs": 3}, val_size=0.0, patience=1).fit(sine_frame(), SPEC)
    assert model.n_epochs_ == 3 and model.best_epoch_ is None and model.best_val_loss_ is None


def test_cosine_schedule_lowers_the_learning_rate():
    model = RNNForecaster(**{**FAST, "max_epochs": 4}, lr=0.01, lr_schedule="cosine").fit(sine_frame(), SPEC)
    lrs = [h["lr"] for h in model.history_]
    assert lrs[0] == pytest.approx(0.01) and (np.diff(lrs) < 0).all()


def test_checkpoints_resume_from_the_last_epoch(tmp_path):
    frame = sine_frame()
    first = RNNForecaster(**FAST, checkpoint_dir=tmp_path).fit(frame, SPEC)
    assert (tmp_path / LAST_CHECKPOINT).is_file()
    # Same folder, same max_epochs: nothing left to train, the last state is restored as is.
    again = RNNForecaster(**FAST, checkpoint_dir=tmp_path).fit(frame, SPEC)
    pd.testing.assert_frame_equal(again.predict(frame), first.predict(frame))
    assert again.history_ == first.history_ and again.grad_norms_ == []
    # More epochs: training continues at epoch 2 with the history and best epoch of the first run.
    longer = RNNForecaster(**{**FAST, "max_epochs": 4}, checkpoint_dir=tmp_path).fit(frame, SPEC)
    assert [h["epoch"] for h in longer.history_] == [0, 1, 2, 3]
    assert longer.history_[:2] == first.history_
    steps_per_epoch = -(-longer.n_train_windows_ // FAST["batch_size"])
    assert len(longer.grad_norms_) == 2 * steps_per_epoch  # only epochs 2 and 3 ran
    # ...and ends exactly where an uninterrupted 4-epoch fit does (same weights, optimizer and shuffling).
    straight = RNNForecaster(**{**FAST, "max_epochs": 4}).fit(frame, SPEC)
    pd.testing.assert_frame_equal(longer.predict(frame, origin="all"), straight.predict(frame, origin="all"))
    assert longer.history_ == straight.history_


def test_checkpoint_of_another_network_gives_a_clear_error(tmp_path):
    RNNForecaster(**FAST, checkpoint_dir=tmp_path).fit(sine_frame(), SPEC)
    with pytest.raises(TrainingError, match="written by a different model.*new checkpoint_dir"):
        RNNForecaster(**{**FAST, "hidden_size": 4}, checkpoint_dir=tmp_path).fit(sine_frame(), SPEC)


def test_progress_bar_is_on_by_default_and_can_be_turned_off():
    assert RNNForecaster().progress_bar is True
    seen = {}

    class Probe(L.Callback):
        def on_train_start(self, trainer, module) -> None:
            seen["bar"] = trainer.progress_bar_callback

    RNNForecaster(**FAST).fit(sine_frame(), SPEC, callbacks=[Probe()])
    assert seen["bar"] is None
    RNNForecaster(**{**FAST, "progress_bar": True, "max_epochs": 1}).fit(sine_frame(), SPEC, callbacks=[Probe()])
    assert isinstance(seen["bar"], L.pytorch.callbacks.TQDMProgressBar)


# -- inputs at predict time ---------------------------------------------------------------------------
def test_predict_lists_column_differences():
    frame = sine_frame()
    model = RNNForecaster(**FAST).fit(frame, SPEC)
    with pytest.raises(InputError, match=r"columns differ from training: missing column\(s\) \['x'\]"):
        model.predict(frame.drop(columns="x"))
    text = frame.assign(x=frame["x"].astype(str))
    with pytest.raises(InputError, match=r"changed type: x \(float64 -> (str|object)\)"):
        model.predict(text)
    extra = frame.assign(unused=1.0)  # extra columns are ignored
    pd.testing.assert_frame_equal(model.predict(extra), model.predict(frame))


def test_forecasts_frame_shape_and_original_units():
    frame = sine_frame()
    model = RNNForecaster(**FAST).fit(frame, SPEC)
    out = model.predict(frame)
    assert list(out.columns) == ["origin", "timestamp", "step", "forecast"]
    assert out["step"].tolist() == [1, 2]
    assert (out["origin"] == frame.index[-1]).all()
    assert out["timestamp"].tolist() == [frame.index[-1] + pd.Timedelta(days=k) for k in (1, 2)]
    assert out["forecast"].abs().max() < 5  # original units of a unit sine, not scaled garbage


def test_category_vocabulary_comes_from_training_rows_only():
    frame = sine_frame().assign(kind="calm")
    frame.iloc[-5:, frame.columns.get_loc("kind")] = "storm"  # appears only in the validation rows
    spec = WindowSpec(target="y", lookback=8, categorical=("kind",))
    model = RNNForecaster(**FAST).fit(frame, spec)
    assert model.vocabularies_ == {"kind": ["calm"]}
    assert model.network_.category_embeddings[0].num_embeddings == 2  # "calm" + unseen
    assert np.isfinite(model.predict(frame)["forecast"]).all()  # "storm" is read as unseen


def test_quantile_point_forecast_is_the_quantile_nearest_the_median():
    model = RNNForecaster(**FAST, task="quantile", quantiles=(0.05, 0.4, 0.95)).fit(sine_frame(), SPEC)
    out = model.predict(sine_frame())
    assert list(out.columns) == ["origin", "timestamp", "step", "forecast", "q0.05", "q0.4", "q0.95"]
    pd.testing.assert_series_equal(out["forecast"], out["q0.4"], check_names=False)


def test_normalize_and_skip_options_train_save_and_load(tmp_path, seattle):
    """The ETTh1 recipe (last-value normalization + linear skip) is available through the estimator."""
    from forecast import load_model

    spec = WindowSpec(target="temp_max", lookback=10, horizon=3, features=("wind",))
    model = RNNForecaster(cell="gru", hidden_size=8, head="direct", normalize="last", skip="linear",
                          max_epochs=1, progress_bar=False, seed=0).fit(seattle.iloc[:300], spec)
    assert model.network_.config.normalize == "last" and model.network_.config.skip == "linear"
    assert model.network_.config.lookback == 10
    model.save(tmp_path / "m")
    pd.testing.assert_frame_equal(load_model(tmp_path / "m").predict(seattle.iloc[:300]),
                                  model.predict(seattle.iloc[:300]))


def test_skip_needs_the_direct_head(seattle):
    spec = WindowSpec(target="temp_max", lookback=10, horizon=1)
    with pytest.raises(InputError, match="head='direct'"):
        RNNForecaster(head="transducer", skip="linear", max_epochs=1, progress_bar=False).fit(seattle.iloc[:200], spec)
