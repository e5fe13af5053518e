"""RNNStateFeatures behaves as a scikit-learn transformer: pipelines, clone, time-ordered CV."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_score
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from forecast.errors import InputError
from forecast.models.baselines import RNNStateFeatures


@pytest.fixture(autouse=True)
def _one_thread():
    """OpenMP/BLAS on one thread: tiny fits, and oversubscribed pools crawl on a shared machine."""
    with threadpool_limits(1):
        yield


SMALL = {"hidden_size": 6, "max_epochs": 2, "batch_size": 32, "seed": 0}


@pytest.fixture(scope="module")
def windows() -> tuple[np.ndarray, np.ndarray]:
    """X [n, L=8, F=2] windows of a noisy sine and a covariate; y the next value of the sine."""
    rng = np.random.default_rng(0)
    t = np.arange(260)
    series = np.sin(t / 4) + rng.normal(0, 0.1, len(t))
    cov = rng.normal(size=len(t))
    data = np.stack([series, cov], axis=1)  # [T, 2]
    x = np.lib.stride_tricks.sliding_window_view(data, 8, axis=0).transpose(0, 2, 1)[:-1]  # [n, 8, 2]
    y = series[8:]
    return np.ascontiguousarray(x, dtype=np.float32), y


def test_pipeline_runs_in_time_series_cross_validation(windows):
    x, y = windows
    pipe = Pipeline([("rnn", RNNStateFeatures(cell="gru", **SMALL)), ("ridge", Ridge())])
    scores = cross_val_score(pipe, x, y, cv=TimeSeriesSplit(n_splits=3), scoring="neg_mean_absolute_error")
    assert scores.shape == (3,) and np.isfinite(scores).all()
    # Each fold refits a clone: the original stays unfitted.
    with pytest.raises(NotFittedError):
        pipe.named_steps["rnn"].transform(x)


def test_grid_search_over_encoder_and_ridge_parameters(windows):
    x, y = windows
    pipe = Pipeline([("rnn", RNNStateFeatures(cell="rnn", **SMALL)), ("ridge", Ridge())])
    grid = GridSearchCV(pipe, {"rnn__hidden_size": [3, 5], "ridge__alpha": [0.1]}, cv=TimeSeriesSplit(2))
    grid.fit(x, y)
    assert grid.best_estimator_.named_steps["rnn"].transform(x[:5]).shape[1] == grid.best_params_["rnn__hidden_size"]


def test_transform_returns_final_states_flattened_or_not(windows):
    x, y = windows
    features = RNNStateFeatures(cell="lstm", **SMALL).fit(x, y)
    states = features.transform(x)
    assert states.shape == (len(x), 6)
    flat = RNNStateFeatures(cell="lstm", lookback=8, **SMALL).fit(x.reshape(len(x), -1), y)
    np.testing.assert_allclose(flat.transform(x.reshape(len(x), -1)), states, rtol=1e-6)
    # The state is the network's own final state (encoder run by hand on the scaled windows).
    scaled = (x - features.x_mean_) / features.x_scale_
    import torch

    with torch.no_grad():
        _, (h, _) = features.network_.rnn(torch.from_numpy(scaled))
    np.testing.assert_allclose(states, h[-1].numpy(), rtol=1e-5, atol=1e-6)


def test_lstm_cell_state_doubles_the_width(windows):
    x, y = windows
    features = RNNStateFeatures(cell="lstm", include_cell=True, **SMALL).fit(x, y)
    assert features.transform(x[:4]).shape == (4, 12)
    assert features.get_feature_names_out()[[0, 6]].tolist() == ["state0", "cell0"]


def test_same_seed_same_features_and_clone_is_unfitted(windows):
    x, y = windows
    a = RNNStateFeatures(cell="gru", **SMALL)
    b = clone(a)
    assert b.get_params() == a.get_params() and not hasattr(b, "network_")
    np.testing.assert_array_equal(a.fit(x, y).transform(x), b.fit(x, y).transform(x))
    c = RNNStateFeatures(cell="gru", **{**SMALL, "seed": 1}).fit(x, y)
    assert not np.allclose(c.transform(x), a.transform(x))


def test_encoder_learns_the_target(windows):
    """Ridge on states of a trained encoder beats Ridge on states of an untrained one (same seed)."""
    x, y = windows
    cut = 200
    maes = []
    for epochs in (1, 30):
        pipe = Pipeline([("rnn", RNNStateFeatures(cell="gru", hidden_size=8, max_epochs=epochs, seed=0, lr=1e-2)),
                         ("ridge", Ridge(alpha=1e-3))])
        pipe.fit(x[:cut], y[:cut])
        maes.append(np.abs(pipe.predict(x[cut:]) - y[cut:]).mean())
    assert maes[1] < maes[0]


def test_bad_inputs_are_named(windows):
    x, y = windows
    with pytest.raises(InputError, match="needs y"):
        RNNStateFeatures(**SMALL).fit(x, None)
    with pytest.raises(InputError, match="multiple of lookback=3"):
        RNNStateFeatures(lookback=3, **SMALL).fit(x.reshape(len(x), -1), y)
    fitted = RNNStateFeatures(**SMALL).fit(x, y)
    with pytest.raises(InputError, match="fit on 2"):
        fitted.transform(x[:, :, :1])
    bad = x.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        fitted.transform(bad)


def test_takes_the_encoder_of_a_fitted_forecaster(seattle):
    from dataclasses import replace

    import torch
    from sklearn.frozen import FrozenEstimator

    from forecast.config import WindowSpec
    from forecast.data.panel import build_panel
    from forecast.data.windows import make_windows
    from forecast.models.estimators import RNNForecaster

    frame = seattle.iloc[:200]
    spec = WindowSpec("temp_max", lookback=7, features=("wind",), calendar=("dayofyear",))
    rnn = RNNForecaster(cell="lstm", hidden_size=5, max_epochs=1, progress_bar=False).fit(frame, spec)
    panel = build_panel(frame, spec)
    windows = make_windows(panel, spec)
    idx = np.arange(len(windows))
    x, y = windows.inputs(idx), windows.targets(idx)[:, 0, 0]  # [n, 7, 1 + 1 + 2] original units

    features = RNNStateFeatures(encoder=FrozenEstimator(rnn), include_cell=True)
    states = features.fit(x, y).transform(x)
    assert features.network_ is rnn.network_  # taken, not retrained
    scaled = rnn.scaler_.transform(panel.values, np.zeros(len(panel.values), np.int64))
    by_hand = make_windows(replace(panel, values=scaled), spec)
    with torch.no_grad():
        expected = rnn.network_.final_state(torch.from_numpy(by_hand.inputs(idx)), include_cell=True)
    np.testing.assert_allclose(states, expected.numpy(), rtol=1e-5, atol=1e-6)
    assert states.shape == (len(x), 10)

    pipe = Pipeline([("rnn", features), ("ridge", Ridge())])
    assert clone(pipe).named_steps["rnn"].encoder is features.encoder  # frozen: clone keeps the fit
    scores = cross_val_score(pipe, x, y, cv=TimeSeriesSplit(n_splits=2), scoring="neg_mean_absolute_error")
    assert np.isfinite(scores).all()
    with pytest.raises(InputError, match="fitted forecast.RNNForecaster"):
        RNNStateFeatures(encoder=RNNForecaster()).fit(x, y)
    with pytest.raises(InputError, match="features per step"):
        features.fit(x[:, :, :2], y)
