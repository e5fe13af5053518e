"""The registry's one build rule, its capabilities, and the state pipeline composed of an encoder."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import Ridge
from threadpoolctl import threadpool_limits

from forecast.config import WindowSpec
from forecast.errors import InputError
from forecast.models import registry
from forecast.models.loading import load_model
from forecast.models.state_features import RNNStateFeatures, StatePipelineForecaster


@pytest.fixture(autouse=True)
def _one_thread():
    with threadpool_limits(1):
        yield


def _frame(n: int = 80) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    t = np.arange(n)
    return pd.DataFrame({"y": np.sin(t / 3) + 0.1 * rng.normal(size=n), "x": rng.normal(size=n)},
                        index=pd.date_range("2021-01-01", periods=n, freq="D", name="date"))


SPEC = WindowSpec("y", lookback=5, horizon=2, features=("x",))


# -- build -----------------------------------------------------------------------------------------------
def test_an_override_the_model_lacks_is_named():
    with pytest.raises(InputError, match=r"model 'naive' has no setting\(s\) max_epochs, lr"):
        registry.build("naive", max_epochs=3, lr=0.1)
    with pytest.raises(InputError, match="unknown model 'arima'; choose from: .*lstm"):
        registry.build("arima")


def test_shared_settings_reach_the_models_that_have_them():
    assert registry.build("naive", shared={"max_epochs": 3, "seed": 1}).get_params() == {}
    rnn = registry.build("gru", shared={"max_epochs": 3, "seed": 1, "n_estimators": 5})
    assert (rnn.cell, rnn.max_epochs, rnn.seed) == ("gru", 3, 1)
    assert registry.build("gru", shared={"max_epochs": 3}, max_epochs=4).max_epochs == 4  # overrides win


def test_a_setting_reaches_the_nested_parameter_of_that_name():
    state = registry.build("lstm_state+ridge", hidden_size=4, alpha=0.5, shared={"seed": 2, "progress_bar": False})
    params = state.get_params()
    assert (params["encoder__cell"], params["encoder__hidden_size"], params["encoder__seed"]) == ("lstm", 4, 2)
    assert params["regressor__alpha"] == 0.5
    assert registry.build("gru_state+ridge", encoder__lr=0.01).encoder.lr == 0.01
    ridge = registry.build("ridge", alpha=3.0)
    assert isinstance(ridge.estimator, Ridge) and ridge.estimator.alpha == 3.0
    assert registry.build("hgb", max_iter=7).estimator.max_iter == 7


def test_builds_never_share_a_component():
    a, b = registry.build("gru_state+ridge"), registry.build("gru_state+ridge")
    a.set_params(encoder__hidden_size=3)
    assert b.encoder.hidden_size == registry.get("gru_state+ridge").defaults["encoder"].hidden_size == 32


def test_target_transform_goes_through_the_entry():
    assert registry.build("lstm", target_transform="log").target_transform == "log"
    wrapped = registry.build("ridge", shared={"target_transform": "log_return"})
    assert type(wrapped).__name__ == "TransformedTargetForecaster"
    with pytest.raises(InputError, match="always_up"):
        registry.build("always_up", target_transform="log")


# -- capabilities ----------------------------------------------------------------------------------------
def test_capabilities_are_declared_on_the_entries():
    saveable = {n for n in registry.names() if registry.get(n).saveable}
    assert saveable == {"rnn", "gru", "lstm", "naive", "seasonal_naive", "drift", "moving_average", "mean",
                        "ridge", "lstm_state+ridge", "gru_state+ridge", "rnn_state+ridge"}
    assert {n for n in registry.names() if registry.get(n).recurrent} == {"rnn", "gru", "lstm"}
    assert {n for n in registry.names() if registry.get(n).known_future} == {"rnn", "gru", "lstm"}
    assert set(registry.loadable_classes()) == {
        "RNNForecaster", "Naive", "SeasonalNaive", "Drift", "MovingAverage", "HistoricalMean", "LagRegressor",
        "StatePipelineForecaster", "ConformalForecaster"}  # the conformal wrapper saves when what it wraps does


def test_task_comes_from_the_entry_or_the_task_parameter_it_names():
    assert registry.task_of(registry.build("always_up")) == "direction"
    assert registry.task_of(registry.build("gru", task="direction")) == "direction"
    assert registry.task_of(registry.build("gru", task="quantile")) == "regression"
    assert registry.task_of(registry.build("ridge")) == "regression"
    assert registry.task_of(object()) == "regression"  # a class the registry does not know


def test_every_search_space_builds_with_strict_overrides():
    optuna = pytest.importorskip("optuna")
    for name in registry.names():
        entry = registry.get(name)
        if entry.search_space is not None:
            trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
            registry.build(name, **entry.search_space(trial))  # an unknown key would raise


# -- the state pipeline composes an encoder ---------------------------------------------------------------
def test_state_pipeline_clones_its_components():
    encoder = RNNStateFeatures(cell="lstm", hidden_size=4, max_epochs=1)
    model = StatePipelineForecaster(encoder=encoder, regressor=Ridge(alpha=2.0)).fit(_frame(), SPEC)
    assert not hasattr(encoder, "network_")  # the one passed in stays unfitted
    assert model.pipeline_.named_steps["rnn"].network_.config.cell == "lstm"
    assert model.pipeline_.named_steps["ridge"].alpha == 2.0
    assert clone(model).get_params()["encoder__hidden_size"] == 4


def test_state_pipeline_saved_in_the_old_flat_layout_still_loads(tmp_path):
    """Folders saved before the forecaster composed an encoder hold the encoder's parameters flat, beside
    Ridge's alpha; they load into the composed form with the same forecasts."""
    frame = _frame()
    model = registry.build("gru_state+ridge", hidden_size=4, max_epochs=1, alpha=0.7).fit(frame, SPEC)
    model.save(tmp_path / "m")
    meta_file = tmp_path / "m" / "model.json"
    metadata = json.loads(meta_file.read_text())
    flat = {"cell": "gru", "hidden_size": 4, "num_layers": 1, "dropout": 0.0, "include_cell": False, "lr": 3e-3,
            "weight_decay": 0.0, "batch_size": 64, "max_epochs": 1, "gradient_clip_val": 1.0, "alpha": 0.7,
            "seed": 0, "accelerator": "cpu", "progress_bar": False}  # StatePipelineForecaster's old parameters
    assert {k: v for k, v in metadata["params"]["encoder"].items() if k in flat} == \
        {k: v for k, v in flat.items() if k != "alpha"}
    metadata["params"] = flat
    meta_file.write_text(json.dumps(metadata))
    loaded = load_model(tmp_path / "m")
    assert loaded.get_params()["encoder__hidden_size"] == 4 and loaded.get_params()["regressor__alpha"] == 0.7
    pd.testing.assert_frame_equal(loaded.predict(frame, origin="all"), model.predict(frame, origin="all"))


@pytest.mark.parametrize("lookback, known_future", [(3, False), (30, False), (96, False), (30, True)])
def test_rnn_search_space_draws_only_combinations_the_network_accepts(lookback, known_future):
    """Many seeded draws of the sweep's RNN space, for the window a sweep records on the trial: every draw
    builds, and its network config passes the network's own checks (segments fit the lookback, no segments
    head with known-future covariates, normalization only with a forecast head)."""
    import optuna

    from forecast.config import WindowSpec
    from forecast.models.networks import NetworkConfig, check_config
    from forecast.models.tasks import check_task
    from forecast.sweeps.objective import family_params

    spec = WindowSpec(target="y", lookback=lookback, horizon=4, known_future=("k",) if known_future else ())
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=7))
    seen = {"head": set(), "segment": set(), "normalize": set()}
    for _ in range(150):
        trial = study.ask()
        trial.set_user_attr(registry.WINDOW_ATTR, {"lookback": lookback, "known_future": known_future})
        params = family_params(trial, "gru")
        model = registry.build("gru", **params)
        model.spec_ = spec
        settings = model._network_settings()
        check_task(spec, normalize=model._normalization(), skip=model.skip, task=model.task, head=model.head,
                   quantiles=model.quantiles,
                   target_transform=model.target_transform, event_threshold=model.event_threshold)
        check_config(NetworkConfig(n_inputs=2, n_future=1 if known_future and model.head == "direct" else 0,
                                   **settings))
        for key in seen:
            seen[key].add(settings[key])
        study.tell(trial, 0.0)
    assert max(seen["segment"]) <= max(1, lookback // 2)
    assert ("segments" in seen["head"]) is not known_future
    if lookback >= 8:
        assert len(seen["segment"]) > 2 and seen["normalize"] == {"none", "last", "revin"}
