"""Cells and heads of the recurrent forecasters: each cell can fit a tiny series, and each head (direct,
quantile, direction, event, transducer; known-future covariates; embeddings) learns what it is for."""

from __future__ import annotations

import lightning as L
import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from forecast.config import WindowSpec
from forecast.models.estimators import RNNForecaster
from forecast.models.lightning import ForecastModule, quiet_lightning, transducer_targets
from forecast.models.networks import NetworkConfig, RecurrentNetwork

QUIET = {"progress_bar": False, "seed": 0}


def daily(values: dict[str, np.ndarray], start: str = "2020-01-01") -> pd.DataFrame:
    n = len(next(iter(values.values())))
    return pd.DataFrame(values, index=pd.date_range(start, periods=n, freq="D"))


# -- every cell overfits a tiny series -------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:You defined a `validation_step` but have no `val_dataloader`")
@pytest.mark.parametrize(("cell", "nonlinearity"), [("rnn", "tanh"), ("rnn", "relu"), ("gru", "tanh"),
                                                     ("lstm", "tanh")])
def test_each_cell_overfits_a_tiny_series(cell, nonlinearity):
    torch.manual_seed(0)
    lookback, n = 6, 24
    t = torch.arange(n + lookback + 1, dtype=torch.float32)
    series = torch.sin(2 * torch.pi * t / 7)
    x = series.unfold(0, lookback, 1)[:n, :, None]  # [N, L] -> [N, L, 1]
    y = series[lookback: lookback + n, None, None]  # [N, 1, 1]: the value after each window
    batch = {"x": x, "y": y, "series": torch.zeros(n, dtype=torch.long)}
    net = RecurrentNetwork(NetworkConfig(n_inputs=1, cell=cell, nonlinearity=nonlinearity, hidden_size=16,
                                         head="direct"))
    module = ForecastModule(net, lr=0.02, optimizer="adam")
    quiet_lightning()
    trainer = L.Trainer(max_steps=300, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, train_dataloaders=DataLoader([batch] * 300, batch_size=None))  # one batch, 300 steps
    with torch.no_grad():
        final = float(module.compute_loss(batch))
    assert final < 1e-3 * float(y.var())  # near zero next to the target's variance


# -- quantile head -------------------------------------------------------------------------------------------
def test_quantile_intervals_cover_about_their_nominal_share():
    def noisy(n: int, seed: int) -> pd.DataFrame:  # unit Gaussian noise around a period-10 pattern
        rng = np.random.default_rng(seed)
        return daily({"y": np.sin(2 * np.pi * np.arange(n) / 10) + rng.normal(size=n)})

    spec = WindowSpec(target="y", lookback=10)
    model = RNNForecaster(**QUIET, task="quantile", quantiles=(0.1, 0.5, 0.9), hidden_size=8,
                          head="direct", lr=0.01, max_epochs=6, batch_size=32, val_size=0.0)
    model.fit(noisy(1500, seed=1), spec)
    fresh = noisy(2000, seed=2)  # a new draw of the same process: ~0.01 standard error on the coverage
    out = model.predict(fresh, origin="all")
    actual = fresh["y"].reindex(out["timestamp"]).to_numpy()
    seen = ~np.isnan(actual)
    inside = (actual >= out["q0.1"].to_numpy()) & (actual <= out["q0.9"].to_numpy())
    assert seen.sum() > 1900
    assert 0.74 <= inside[seen].mean() <= 0.86  # nominal 0.8
    assert ((out["q0.1"] <= out["q0.5"]) & (out["q0.5"] <= out["q0.9"])).all()  # never crossing
    pd.testing.assert_series_equal(out["forecast"], out["q0.5"], check_names=False)


# -- classification heads --------------------------------------------------------------------------------
def _accuracy(model: RNNForecaster, frame: pd.DataFrame, labels: pd.Series, start: int) -> float:
    out = model.predict(frame, origin="all")
    out = out[out["timestamp"] >= frame.index[start]]
    truth = labels.reindex(out["timestamp"]).to_numpy()
    return float(((out["forecast"].to_numpy() > 0.5) == truth).mean())


def test_direction_head_learns_a_zigzag():
    rng = np.random.default_rng(2)
    n = 300
    steps = np.where(np.arange(n) % 2 == 0, 1.0, -1.0) * rng.uniform(0.5, 1.5, n)  # up, down, up, ...
    frame = daily({"price": 100 + np.cumsum(steps)})
    up = frame["price"].diff() > 0  # label of each row: did it rise from the day before?
    model = RNNForecaster(**QUIET, task="direction", hidden_size=8, lr=0.02, max_epochs=12, batch_size=32)
    model.fit(frame.iloc[:220], WindowSpec(target="price", lookback=4))
    out = model.predict(frame)
    assert out["forecast"].between(0, 1).all()  # P(up)
    assert _accuracy(model, frame, up, 220) > 0.9


def test_event_head_learns_rain_every_third_day_in_original_units():
    rng = np.random.default_rng(3)
    n = 300
    rain = np.where(np.arange(n) % 3 == 0, rng.uniform(2, 10, n), 0.0)
    frame = daily({"precipitation": 10 + rain})  # threshold 10.5 is in these units, not the scaled ones
    wet = frame["precipitation"] > 10.5
    model = RNNForecaster(**QUIET, task="event", event_threshold=10.5, hidden_size=8, lr=0.02, max_epochs=8,
                          batch_size=32)
    model.fit(frame.iloc[:220], WindowSpec(target="precipitation", lookback=4))
    assert _accuracy(model, frame, wet, 220) > 0.9


# -- transducer head ---------------------------------------------------------------------------------------
def test_transducer_targets_are_the_next_h_values_of_every_step():
    lookback, horizon = 5, 3
    seq = torch.arange(lookback + horizon, dtype=torch.float32)
    x = seq[:lookback].reshape(1, lookback, 1)  # [1, L, 1]
    y = seq[lookback:].reshape(1, horizon, 1)  # [1, H, 1]
    target = transducer_targets(x, y, n_targets=1, horizon=horizon)  # [1, L, H, 1]
    expected = torch.arange(lookback)[:, None] + 1 + torch.arange(horizon)[None, :]  # step l -> l+1..l+H
    assert torch.equal(target[0, :, :, 0], expected.float())


def test_transducer_loss_covers_every_step():
    torch.manual_seed(0)
    net = RecurrentNetwork(NetworkConfig(n_inputs=2, horizon=2, hidden_size=4, cell="gru", head="transducer"))
    module = ForecastModule(net)
    batch = {"x": torch.randn(3, 6, 2), "y": torch.randn(3, 2, 1)}
    pred, _ = net(batch["x"])
    assert pred.shape == (3, 6, 2, 1, 1)  # [B, L, H, T, Q]: a forecast at every input step
    target = transducer_targets(batch["x"], batch["y"], 1, 2)
    expected = ((pred.squeeze(-1) - target) ** 2).mean()
    torch.testing.assert_close(module.compute_loss(batch), expected)
    assert torch.equal(net.forecast(batch["x"]), pred[:, -1])  # forecasts come from the last step


def test_transducer_forecaster_fits_and_predicts():
    frame = daily({"y": np.sin(np.arange(150) / 3)})
    model = RNNForecaster(**QUIET, head="transducer", hidden_size=8, max_epochs=6, lr=0.02, batch_size=32)
    out = model.fit(frame, WindowSpec(target="y", lookback=8, horizon=3)).predict(frame, origin="all")
    actual = frame["y"].reindex(out["timestamp"]).to_numpy()
    ok = ~np.isnan(actual)
    assert np.abs(out["forecast"].to_numpy()[ok] - actual[ok]).mean() < 0.35  # vs ~0.64 for a zero guess


# -- known-future covariates and calendar features (direct head) ---------------------------------------------
def test_direct_head_uses_known_future_covariates_and_calendar():
    rng = np.random.default_rng(4)
    n = 240
    plan = rng.normal(size=n)
    frame = daily({"load": plan + 0.05 * rng.normal(size=n), "plan": plan})  # today's load follows today's plan
    spec = WindowSpec(target="load", lookback=4, horizon=2, known_future=("plan",), calendar=("dayofweek",))
    model = RNNForecaster(**QUIET, head="direct", hidden_size=8, lr=0.02, max_epochs=12, batch_size=32,
                          val_size=0.0)
    model.fit(frame, spec)
    assert model.network_config_.n_future == 3  # plan + dayofweek sin/cos, read at t+1..t+H
    future = pd.DataFrame({"plan": [1.5, -2.0]}, index=pd.date_range(frame.index[-1], periods=3, freq="D")[1:])
    out = model.predict(frame, future=future)
    np.testing.assert_allclose(out["forecast"], [1.5, -2.0], atol=0.25)
    with pytest.raises(ValueError, match=r"known-future column\(s\) \['plan'\] have no values"):
        model.predict(frame)


# -- embeddings: series id and categorical covariates ------------------------------------------------------------
def test_series_and_category_embeddings_on_seattle(seattle):
    tail = seattle.iloc[-150:]
    panel = pd.concat([tail.assign(station="north"), tail.assign(station="south", temp_max=tail["temp_max"] + 5)])
    spec = WindowSpec(target="temp_max", lookback=7, features=("precipitation",), categorical=("weather",),
                      id_col="station")
    model = RNNForecaster(**QUIET, hidden_size=8, max_epochs=2, series_embedding_dim=2, per_series_scaling=True)
    model.fit(panel, spec)
    net = model.network_
    assert net.series_embedding.num_embeddings == 3  # two stations + one row for unseen ones
    assert net.category_embeddings[0].num_embeddings == len(model.vocabularies_["weather"]) + 1
    out = model.predict(panel)
    assert out["station"].tolist() == ["north", "south"]
    assert out.loc[1, "forecast"] - out.loc[0, "forecast"] > 2  # the south station runs 5 degrees warmer
    unseen = tail.assign(station="east", weather="hail")  # a new station and a new category still predict
    assert np.isfinite(model.predict(unseen)["forecast"]).all()
