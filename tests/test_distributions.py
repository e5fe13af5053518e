"""Distributional heads (forecast.models.distributions, RNNForecaster(task="distribution"),
RNNStateFeatures(distribution=...)) and the CRPS forms (forecast.crps): the fitted scale and df match the
data's, quantiles are monotone, samples follow the seed, units survive the scaler and transforms, and
models save and load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import integrate, stats

from forecast.config import WindowSpec
from forecast.crps import crps_normal, crps_quantiles, crps_samples
from forecast.errors import InputError
from forecast.metrics import score_forecasts
from forecast.models import distributions, registry
from forecast.models.estimators import RNNForecaster
from forecast.models.inference import forecast_windows
from forecast.models.loading import load_model
from forecast.models.random_walk import EmpiricalRandomWalk
from forecast.models.state_features import RNNStateFeatures

SPEC = WindowSpec(target="y", lookback=5, horizon=1)


def _ar(n: int, noise, seed: int = 0, level: float = 0.0) -> pd.DataFrame:
    """y_t = 0.7 y_{t-1} + e_t (+ level): the one-step forecast's error is exactly e_t."""
    e = noise(np.random.default_rng(seed), n)
    y = np.zeros(n)
    for t in range(1, n):
        y[t] = 0.7 * y[t - 1] + e[t]
    return pd.DataFrame({"y": y + level}, index=pd.date_range("2000-01-01", periods=n, freq="D", name="date"))


def _model(distribution: str = "normal", **kwargs) -> RNNForecaster:
    settings = {"cell": "gru", "hidden_size": 8, "head": "direct", "task": "distribution",
                "distribution": distribution, "max_epochs": 6, "lr": 1e-2, "batch_size": 64,
                "progress_bar": False, "patience": None, "seed": 0}
    return RNNForecaster(**{**settings, **kwargs})


def _raw(model: RNNForecaster, frame: pd.DataFrame) -> np.ndarray:
    data = model.preparation_.prediction_windows(frame, origin="all")
    return forecast_windows(model.network_, data.windows, model.preparation_.training_series(data.panel),
                            classify=False)  # [N, 1, 1, P]


@pytest.mark.slow
def test_nll_decreases_and_the_gaussian_scale_matches_the_noise():
    frame = _ar(1000, lambda rng, n: rng.normal(0.0, 0.5, n))
    model = _model().fit(frame, SPEC)
    losses = [row["train_loss"] for row in model.history_]
    assert losses[-1] < losses[0] - 0.1
    out = model.predict(frame, origin="all")
    sd = (out["upper_95"] - out["lower_95"]) / (2 * stats.norm.ppf(0.975))  # in the data's units
    assert 0.45 < sd.median() < 0.55


@pytest.mark.slow
def test_student_t_learns_a_finite_df_near_the_data_s_and_its_scale():
    frame = _ar(1000, lambda rng, n: 0.5 * rng.standard_t(2.5, n))
    model = _model("studentt").fit(frame, SPEC)
    params = distributions.parameters(_raw(model, frame), "studentt")
    df, scale = np.median(params["df"]), np.median(params["scale"]) * model.scaler_.scale_[0, 0]
    assert np.isfinite(params["df"]).all() and 2.0 < df < 5.0  # heavy tails found: a Gaussian is df = inf
    assert 0.4 < scale < 0.6


def test_quantiles_are_monotone_and_samples_follow_the_seed(fast_trainer_kwargs):
    frame = _ar(300, lambda rng, n: rng.normal(0.0, 1.0, n), level=50.0)
    model = _model("studentt", **fast_trainer_kwargs).fit(frame, WindowSpec(target="y", lookback=5, horizon=3))
    levels = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)
    out = model.predict(frame, origin="all", quantiles=levels, intervals=(0.5, 0.8, 0.95))
    grid = out[["lower_95", "lower_80", "lower_50", "forecast", "upper_50", "upper_80", "upper_95"]].to_numpy()
    assert (np.diff(grid, axis=1) > 0).all()
    q = out[[f"q{lv:g}" for lv in levels]].to_numpy()
    assert (np.diff(q, axis=1) > 0).all()
    np.testing.assert_allclose(out["q0.5"], out["forecast"])
    np.testing.assert_allclose(out["q0.1"], out["lower_80"])
    a = model.predict(frame, origin="all", samples=50, seed=3)
    b = model.predict(frame, origin="all", samples=50, seed=3)
    c = model.predict(frame, origin="all", samples=50, seed=4)
    draws = [f"sample_{k}" for k in range(1, 51)]
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a[draws], c[draws])
    assert abs(np.median(a[draws].to_numpy() - a[["forecast"]].to_numpy())) < 0.5  # around the median, in units


def test_quantiles_come_back_in_the_data_s_units_through_the_scaler_and_log(fast_trainer_kwargs):
    frame = _ar(300, lambda rng, n: rng.normal(0.0, 0.05, n), level=3.0)
    logged = frame.assign(y=np.exp(frame["y"]))
    model = _model(**fast_trainer_kwargs, target_transform="log").fit(logged, SPEC)
    out = model.predict(logged, origin="all", quantiles=(0.1, 0.9))
    raw = _raw(model, logged)[:, 0, 0]  # [N, P] on the scaled log scale
    params = distributions.parameters(raw, "normal")
    scale, center = model.scaler_.scale_[0, 0], model.scaler_.center_[0, 0]
    # a location-scale map keeps the Gaussian on log y, and exp keeps its quantiles: log-normal bounds
    expected = np.exp(center + scale * stats.norm.ppf(0.9, params["loc"], params["scale"]))
    np.testing.assert_allclose(out["q0.9"], expected, rtol=1e-5)
    np.testing.assert_allclose(out["forecast"], np.exp(center + scale * params["loc"]), rtol=1e-5)
    assert (out["lower_95"] > 0).all()


def test_options_that_would_bend_the_distribution_are_refused(fast_trainer_kwargs):
    frame = _ar(200, lambda rng, n: rng.normal(0.0, 1.0, n), level=10.0)
    with pytest.raises(InputError, match="normalize='none'"):
        _model(**fast_trainer_kwargs, normalize="last").fit(frame, SPEC)
    with pytest.raises(InputError, match="quantiles do not add up"):
        _model(**fast_trainer_kwargs, target_transform="diff").fit(frame, WindowSpec(target="y", lookback=5, horizon=2))
    with pytest.raises(InputError, match="levels"):
        _model(**fast_trainer_kwargs, levels=(0.8, 1.5)).fit(frame, SPEC)
    point = RNNForecaster(cell="gru", hidden_size=4, **fast_trainer_kwargs).fit(frame, SPEC)
    with pytest.raises(InputError, match="task='distribution'"):
        point.predict(frame, samples=10)


def test_distributional_models_save_and_load(tmp_path, fast_trainer_kwargs):
    frame = _ar(200, lambda rng, n: rng.normal(0.0, 1.0, n))
    for kind in distributions.DISTRIBUTIONS:
        model = _model(kind, **fast_trainer_kwargs, levels=(0.9,)).fit(frame, SPEC)
        model.save(tmp_path / kind)
        loaded = load_model(tmp_path / kind)
        assert loaded.get_params()["distribution"] == kind and loaded.levels == (0.9,)
        pd.testing.assert_frame_equal(loaded.predict(frame, origin="all", samples=5),
                                      model.predict(frame, origin="all", samples=5))


def test_conformal_wrapper_calibrates_a_distributional_rnn(fast_trainer_kwargs):
    frame = _ar(300, lambda rng, n: rng.normal(0.0, 1.0, n))
    model = registry.build("gru", task="distribution", head="direct", hidden_size=4, intervals=(0.8,),
                           **fast_trainer_kwargs)
    out = model.fit(frame, SPEC).predict(frame, origin="all")
    assert {"lower_80", "upper_80"} <= set(out.columns) and "lower_95" not in out.columns


def test_state_features_train_a_distributional_head_by_likelihood():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 6, 1)).astype(np.float32)
    y = 2.0 * x[:, -1, 0] + rng.normal(0.0, 0.5, 600)
    features = RNNStateFeatures(distribution="normal", hidden_size=8, max_epochs=20, lr=1e-2,
                                progress_bar=False).fit(x, y)
    q = features.head_quantiles(x, (0.1, 0.5, 0.9))[:, 0, :]  # [n, Q] in y's units
    assert (np.diff(q, axis=1) > 0).all()
    assert 0.7 < np.mean((y > q[:, 0]) & (y < q[:, 2])) < 0.9
    np.testing.assert_allclose(q[:, 1], features.head_predict(x)[:, 0], rtol=1e-6, atol=1e-6)
    assert features.transform(x).shape == (600, 8)
    with pytest.raises(InputError, match="distributional head"):
        RNNStateFeatures(max_epochs=1, progress_bar=False).fit(x, y).head_quantiles(x, (0.5,))


def test_nll_is_the_gaussian_and_student_t_log_density():
    raw = torch.tensor([[0.3, 0.2, 1.0], [-1.0, -2.0, 0.0]])
    target = torch.tensor([0.5, -0.7])
    p = distributions.parameters(raw.numpy(), "studentt")
    expected = -np.mean(stats.t.logpdf(target.numpy(), p["df"], p["loc"], p["scale"]))
    assert float(distributions.nll_loss(raw, target, "studentt")) == pytest.approx(expected, rel=1e-5)
    expected = -np.mean(stats.norm.logpdf(target.numpy(), p["loc"], p["scale"]))
    assert float(distributions.nll_loss(raw[:, :2], target, "normal")) == pytest.approx(expected, rel=1e-5)


def test_crps_forms_agree_with_the_gaussian_closed_form():
    rng = np.random.default_rng(0)
    y = rng.normal(1.0, 2.0, 500)
    closed = crps_normal(y, 0.5, 2.0)
    # the definition: integral of (F(x) - 1{x >= y})^2 dx, for one point
    value = integrate.quad(lambda x: stats.norm.cdf(x, 0.5, 2.0) ** 2, -np.inf, 1.7)[0] + integrate.quad(
        lambda x: stats.norm.sf(x, 0.5, 2.0) ** 2, 1.7, np.inf)[0]
    assert crps_normal(np.array([1.7]), 0.5, 2.0)[0] == pytest.approx(value, rel=1e-6)
    draws = rng.normal(0.5, 2.0, (500, 4000))
    assert crps_samples(y, draws).mean() == pytest.approx(closed.mean(), rel=0.01)
    levels = np.linspace(0.005, 0.995, 199)
    grid = np.tile(stats.norm.ppf(levels, 0.5, 2.0), (500, 1))
    assert crps_quantiles(y, grid, levels).mean() == pytest.approx(closed.mean(), rel=0.01)
    assert crps_samples(np.array([3.0]), np.full((1, 7), 1.0))[0] == pytest.approx(2.0)  # a point: |error|


def test_leaderboards_score_sample_columns_as_crps():
    index = pd.date_range("2000-01-01", periods=400, freq="D", name="date")
    rng = np.random.default_rng(1)
    actual = pd.DataFrame({"y": rng.normal(0.0, 1.0, 400)}, index=index)
    draws = rng.normal(0.0, 1.0, (399, 200))
    forecasts = pd.DataFrame({"origin": index[:-1], "timestamp": index[1:], "step": 1, "forecast": 0.0,
                              **{f"sample_{k + 1}": draws[:, k] for k in range(200)}})
    scores = score_forecasts({"m": forecasts}, actual, target="y")
    overall = scores[scores["step"].isna()].iloc[0]
    assert overall["crps_sample"] == pytest.approx(crps_normal(actual["y"].to_numpy()[1:], 0.0, 1.0).mean(),
                                                   rel=0.03)


def test_random_walk_quantiles_read_only_changes_observed_by_the_origin():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"y": np.cumsum(rng.normal(0.0, 1.0, 400))},
                         index=pd.date_range("2000-01-01", periods=400, freq="D", name="date"))
    spec = WindowSpec(target="y", lookback=3, horizon=2)
    model = EmpiricalRandomWalk(quantiles=(0.1, 0.9)).fit(frame, spec)
    clean = model.predict(frame, origin="all")
    poisoned = frame.copy()
    poisoned.iloc[300:, 0] = 1e9  # everything after the cut
    dirty = model.predict(poisoned, origin="all")
    before = pd.to_datetime(clean["origin"]) < frame.index[300]
    pd.testing.assert_frame_equal(clean[before], dirty[before.to_numpy()])
    # by hand: origin row 200, step 2: y_200 + the quantiles of y_s - y_{s-2} for s = 2..200
    y = frame["y"].to_numpy(np.float32).astype(np.float64)
    row = clean[(pd.to_datetime(clean["origin"]) == frame.index[200]) & (clean["step"] == 2)].iloc[0]
    changes = y[2:201] - y[:199]
    assert row["q0.9"] == pytest.approx(y[200] + np.quantile(changes, 0.9), rel=1e-9)
    assert row["forecast"] == pytest.approx(y[200] + np.median(changes), rel=1e-9)
    known = clean.dropna()  # the first origins have fewer than two changes of a step: NaN, not a guess
    assert len(known) >= len(clean) - 3
    assert (known["lower_95"] <= known["lower_80"]).all() and (known["upper_80"] <= known["upper_95"]).all()


def test_random_walk_window_keeps_the_latest_changes_and_panels_stay_apart():
    index = pd.date_range("2000-01-01", periods=200, freq="D", name="date")
    calm = pd.DataFrame({"id": "calm", "y": np.arange(200.0)}, index=index)  # every change is +1
    wild = pd.DataFrame({"id": "wild", "y": np.r_[np.zeros(100), np.cumsum(np.full(100, 5.0))]}, index=index)
    spec = WindowSpec(target="y", lookback=3, horizon=1, id_col="id")
    out = EmpiricalRandomWalk(window=20).fit(pd.concat([calm, wild]), spec).predict(pd.concat([calm, wild]),
                                                                                    origin="last")
    out = out.set_index("id")
    assert out.loc["calm", "upper_95"] - out.loc["calm", "lower_95"] == pytest.approx(0.0)
    assert out.loc["wild", "forecast"] == pytest.approx(500.0 + 5.0)  # the latest 20 changes are all +5


def test_crps_from_median_and_bounds_is_close_to_the_gaussian_closed_form():
    """The leaderboard's CRPS reads only the median and the 80%/95% bounds: weighted by the share of levels
    each stands for, it stays within 12% of the exact value (equal weights read 39% low)."""
    from forecast.intervals import crps_from_intervals

    rng = np.random.default_rng(3)
    y = rng.normal(0.0, 2.0, 20000)
    point = np.zeros_like(y)
    bounds = {lv: tuple(np.full_like(y, stats.norm.ppf(q, 0.0, 2.0)) for q in ((1 - lv) / 2, (1 + lv) / 2))
              for lv in (0.8, 0.95)}
    ratio = crps_from_intervals(y, point, bounds) / crps_normal(y, 0.0, 2.0).mean()
    assert 0.86 < ratio < 0.92


def test_a_known_future_rnn_gets_conformal_intervals_from_the_last_origin(fast_trainer_kwargs):
    rng = np.random.default_rng(0)
    index = pd.date_range("2000-01-01", periods=302, freq="D", name="date")
    k = rng.normal(size=302)
    full = pd.DataFrame({"y": 2.0 * k + rng.normal(0.0, 0.3, 302), "k": k}, index=index)
    frame, future = full.iloc[:300], full.iloc[300:][["k"]]
    spec = WindowSpec(target="y", lookback=5, horizon=2, known_future=("k",))
    model = registry.build("gru", head="direct", hidden_size=8, intervals=(0.8,), **fast_trainer_kwargs)
    out = model.fit(frame, spec).predict(frame, future=future)
    assert len(out) == 2 and np.isfinite(out[["lower_80", "upper_80"]].to_numpy()).all()
    assert (out["lower_80"] < out["forecast"]).all() and (out["forecast"] < out["upper_80"]).all()
    with pytest.raises(InputError, match="future=..."):
        model.predict(frame)


def test_random_walk_of_a_return_target_reads_past_values_only():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"y": rng.standard_t(3, 300) * 0.01},
                         index=pd.date_range("2000-01-01", periods=300, freq="D", name="date"))
    spec = WindowSpec(target="y", lookback=3, horizon=2)
    model = EmpiricalRandomWalk(kind="values", quantiles=(0.1,)).fit(frame, spec)
    out = model.predict(frame, origin="all")
    y = frame["y"].to_numpy(np.float32).astype(np.float64)
    rows = out[pd.to_datetime(out["origin"]) == frame.index[150]]
    assert rows["q0.1"].tolist() == pytest.approx([np.quantile(y[:151], 0.1)] * 2, rel=1e-9)
    poisoned = frame.copy()
    poisoned.iloc[200:, 0] = 1e9
    before = pd.to_datetime(out["origin"]) < frame.index[200]
    pd.testing.assert_frame_equal(out[before], model.predict(poisoned, origin="all")[before.to_numpy()])


def test_a_state_pipeline_with_a_distributional_encoder_saves_and_loads(tmp_path):
    frame = _ar(200, lambda rng, n: rng.normal(0.0, 1.0, n))
    model = registry.build("gru_state+ridge", distribution="studentt", hidden_size=4, max_epochs=1,
                           progress_bar=False).fit(frame, SPEC)
    assert model.pipeline_.named_steps["rnn"].network_.config.n_outputs == 3  # loc, scale, df
    model.save(tmp_path / "m")
    pd.testing.assert_frame_equal(load_model(tmp_path / "m").predict(frame, origin="all"),
                                  model.predict(frame, origin="all"))
