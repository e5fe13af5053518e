"""Conformal intervals (forecast.models.conformal, forecast.conformal): coverage on exchangeable data, no
calibration error from the future of the origin it serves, nesting, widening with the horizon, and every
registered value model wrapped through registry.build(name, intervals=...)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from forecast.config import WindowSpec
from forecast.conformal import conformal_radius, expanding_radii
from forecast.errors import InputError
from forecast.models import registry
from forecast.models.conformal import ConformalForecaster

LEVELS = (0.5, 0.8, 0.95)


@pytest.fixture(autouse=True)
def _one_thread():
    with threadpool_limits(1):
        yield


def _frame(y: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"y": y}, index=pd.date_range("2000-01-01", periods=len(y), freq="D", name="date"))


def _covered(out: pd.DataFrame, frame: pd.DataFrame, level: float) -> np.ndarray:
    y = frame["y"].reindex(out["timestamp"]).to_numpy()
    label = f"{level * 100:g}"
    return (y >= out[f"lower_{label}"].to_numpy()) & (y <= out[f"upper_{label}"].to_numpy())


def test_conformal_radius_uses_the_finite_sample_rank():
    scores = np.arange(1.0, 10.0)  # n = 9: level 0.8 -> ceil(10 * 0.8) = 8th smallest
    assert conformal_radius(scores, 0.8) == 8.0
    assert conformal_radius(scores, 0.9) == 9.0
    assert conformal_radius(scores, 0.95) == np.inf  # ceil(10 * 0.95) = 10 > n: no finite interval is honest


@pytest.mark.parametrize("method", ["split", "aci"])
def test_coverage_on_exchangeable_data_is_within_binomial_tolerance(method):
    rng = np.random.default_rng(0)
    frame = _frame(rng.normal(0.0, 1.0, 3000))
    spec = WindowSpec("y", lookback=5, horizon=1)
    model = ConformalForecaster(forecaster=registry.build("ridge"), levels=LEVELS, method=method,
                                calibration_size=0.5).fit(frame.iloc[:1500], spec)
    out = model.predict(frame, origin="all")
    out = out[out["origin"] >= frame.index[1500]]
    n_test, n_cal = len(out), 750
    for level in LEVELS:
        observed = _covered(out, frame, level).mean()
        # test-set noise plus the calibration set's own: 3 binomial standard deviations of both
        tolerance = 3 * np.sqrt(level * (1 - level) * (1 / n_test + 1 / n_cal))
        assert abs(observed - level) < tolerance, (level, observed)


def test_no_calibration_error_comes_from_after_the_origin_it_serves():
    rng = np.random.default_rng(1)
    frame = _frame(np.cumsum(rng.normal(0.0, 1.0, 400)))
    spec = WindowSpec("y", lookback=5, horizon=3)
    for method in ("split", "aci"):
        model = ConformalForecaster(forecaster=registry.build("ridge"), method=method).fit(frame.iloc[:200], spec)
        cut = 300
        clean = model.predict(frame.iloc[:cut], origin="all")
        poisoned = frame.copy()
        poisoned.iloc[cut:, 0] = 1e9  # every error whose target lies after the cut becomes huge
        after = model.predict(poisoned, origin="all")
        after = after[after["origin"] < frame.index[cut]].reset_index(drop=True)
        pd.testing.assert_frame_equal(after, clean)
        calibrated = clean[clean["origin"] >= frame.index[199]]  # origins before calibration have no errors yet
        assert np.isfinite(calibrated.filter(like="upper_")).all(axis=None)


def test_expanding_radii_reads_only_errors_observed_by_the_origin():
    target_times = np.array([1, 2, 3, 4, 10])
    scores = np.array([1.0, 1.0, 1.0, 1.0, 1e9])  # the last one is observed only at time 10
    radii = expanding_radii(target_times, scores, np.array([4, 9, 10]), np.array([0.8]))
    assert radii[:2, 0].tolist() == [1.0, 1.0] and radii[2, 0] == 1e9
    # with a window, only the latest scores count: an early huge error is forgotten
    radii = expanding_radii(np.arange(1, 7), np.array([1e9, 1, 1, 1, 1, 1.0]), np.array([6]), np.array([0.5]), 4)
    assert radii[0, 0] == 1.0


@pytest.mark.parametrize("method", ["split", "aci"])
def test_intervals_never_cross_and_contain_the_forecast(method):
    rng = np.random.default_rng(2)
    frame = _frame(np.cumsum(rng.standard_t(3, 600)))
    model = ConformalForecaster(forecaster=registry.build("naive"), levels=LEVELS, method=method, aci_rate=0.05)
    model.fit(frame.iloc[:300], WindowSpec("y", lookback=3, horizon=4))
    out = model.predict(frame, origin="all")
    bounds = out[["lower_95", "lower_80", "lower_50", "forecast", "upper_50", "upper_80", "upper_95"]].to_numpy()
    assert (bounds[:, :-1] <= bounds[:, 1:]).all()  # infinite bounds (no errors known yet) included


def test_intervals_widen_with_the_horizon_on_a_random_walk():
    rng = np.random.default_rng(3)
    frame = _frame(np.cumsum(rng.normal(0.0, 1.0, 800)))
    model = ConformalForecaster(forecaster=registry.build("naive"), levels=(0.8,)).fit(frame, WindowSpec(
        "y", lookback=3, horizon=5))
    out = model.predict(frame)
    width = (out["upper_80"] - out["lower_80"]).to_numpy()  # steps 1..5 of the last origin
    assert (np.diff(width) > 0).all()
    assert 1.7 < width[-1] / width[0] < 2.8  # a random walk's spread grows like sqrt(h): sqrt(5) = 2.24


def test_a_flat_error_scale_does_not_widen():
    rng = np.random.default_rng(4)
    frame = _frame(rng.normal(0.0, 1.0, 1500))  # white noise: every step is as hard as the first
    model = ConformalForecaster(forecaster=registry.build("mean"), levels=(0.8,)).fit(frame, WindowSpec(
        "y", lookback=3, horizon=5))
    width = (lambda o: (o["upper_80"] - o["lower_80"]).to_numpy())(model.predict(frame))
    assert width.max() / width.min() < 1.2


def test_predict_may_ask_for_other_levels_and_bad_levels_are_refused():
    frame = _frame(np.random.default_rng(5).normal(0.0, 1.0, 300))
    spec = WindowSpec("y", lookback=3, horizon=1)
    model = ConformalForecaster(forecaster=registry.build("ridge")).fit(frame, spec)
    assert {"lower_90", "upper_90"} <= set(model.predict(frame, intervals=0.9).columns)
    with pytest.raises(InputError, match="strictly between 0 and 1"):
        model.predict(frame, intervals=(0.8, 80))
    with pytest.raises(InputError, match="direction"):
        ConformalForecaster(forecaster=registry.build("always_up")).fit(frame, spec)
    with pytest.raises(InputError, match="direction"):
        registry.build("persist_direction", intervals=(0.8,))
    with pytest.raises(InputError, match="tune conformal intervals"):
        registry.build("ridge", interval_method="aci")


SMALL = {"hidden_size": 4, "max_epochs": 1, "batch_size": 32, "progress_bar": False, "n_estimators": 5,
         "max_iter": 10, "seed": 0}


@pytest.mark.parametrize("name", [n for n in registry.names() if registry.get(n).task != "direction"])
def test_every_value_model_gets_intervals_through_the_registry(name):
    if registry.get(name).requires:
        pytest.importorskip(registry.get(name).requires)
    rng = np.random.default_rng(6)
    t = np.arange(120)
    frame = pd.DataFrame({"y": 10 + 3 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 0.3, 120)},
                         index=pd.date_range("2021-01-01", periods=120, freq="D", name="date"))
    model = registry.build(name, shared=SMALL, intervals=(0.8, 0.95))
    assert isinstance(model, ConformalForecaster)
    out = model.fit(frame.iloc[:100], WindowSpec("y", lookback=7, horizon=2)).predict(frame, origin="all")
    if registry.get(name).family == "statistical":  # NaN from origins too early for the model (ARIMA's differences)
        early = out["forecast"].isna().to_numpy()
        assert (out.loc[early, "origin"] < frame.index[30]).all()
        out = out[~early]
    bounds = out[["lower_95", "lower_80", "forecast", "upper_80", "upper_95"]].to_numpy()
    assert (bounds[:, :-1] <= bounds[:, 1:]).all()  # infinite bounds (no errors known yet) included
    assert np.isfinite(bounds[out["origin"].to_numpy() >= frame.index[99]]).all()


def test_interval_scores_by_hand():
    from forecast.intervals import crps_from_intervals, interval_scores

    y = np.array([0.0, 2.0, -3.0])
    lower, upper = np.array([-1.0, -1.0, -1.0]), np.array([1.0, 1.0, 1.0])
    scores = interval_scores(y, lower, upper, 0.8)
    assert scores["coverage_80"] == pytest.approx(1 / 3) and scores["width_80"] == 2.0
    # width 2 plus 2 / 0.2 = 10 times the miss: (2 + (2 + 10) + (2 + 20)) / 3
    assert scores["winkler_80"] == pytest.approx(12.0)
    # an infinite interval (no calibration error known yet) covers, and is counted apart from the widths
    scores = interval_scores(y, np.r_[lower[:2], -np.inf], np.r_[upper[:2], np.inf], 0.8)
    assert scores["coverage_80"] == pytest.approx(2 / 3) and scores["unbounded_80"] == pytest.approx(1 / 3)
    assert scores["width_80"] == 2.0 and scores["winkler_80"] == pytest.approx(7.0)
    # a point forecast (zero-width intervals) has CRPS = MAE, as the CRPS of a point mass is
    point = np.zeros(3)
    assert crps_from_intervals(y, point, {0.8: (point, point)}) == pytest.approx(np.mean(np.abs(y)))


def test_a_backtest_with_intervals_scores_them_and_draws_calibration(tmp_path):
    from forecast.evaluate import backtest

    rng = np.random.default_rng(7)
    frame = _frame(np.cumsum(rng.normal(0.0, 1.0, 500)))
    result = backtest(["ridge"], frame, WindowSpec("y", lookback=5, horizon=2), refit_every=25,
                      params={"intervals": (0.8, 0.95)}, progress=False)
    board = result.leaderboard
    for column in ("coverage_80", "width_80", "winkler_80", "coverage_95", "width_95", "winkler_95", "crps"):
        assert board[column].notna().all(), column
    assert {"lower_80", "upper_95"} <= set(result.forecasts.columns)
    assert (board["coverage_95"] >= board["coverage_80"]).all()
    assert "calibration.png" in result.write(tmp_path)


def test_the_wrapper_keeps_the_estimator_contract_and_saves_with_its_errors(tmp_path):
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError

    from forecast.models.loading import load_model

    rng = np.random.default_rng(8)
    frame = pd.concat([_frame(np.cumsum(rng.normal(0.0, 1.0, 200))).assign(site=site) for site in (3, 1)])
    spec = WindowSpec("y", lookback=5, horizon=2, id_col="site")
    model = registry.build("ridge", intervals=(0.8, 0.95), interval_method="aci")
    with pytest.raises(NotFittedError):
        model.predict(frame)
    assert model.fit(frame.iloc[:300], spec) is model  # all of site 3, half of site 1
    copy = clone(model)
    assert copy.get_params()["method"] == "aci" and not hasattr(copy, "forecaster_")
    again = clone(model).fit(frame.iloc[:300], spec)
    pd.testing.assert_frame_equal(model.predict(frame, origin="all"), again.predict(frame, origin="all"))

    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, ConformalForecaster) and loaded.get_params()["method"] == "aci"
    pd.testing.assert_frame_equal(loaded.predict(frame, origin="all"), model.predict(frame, origin="all"),
                                  check_exact=False, atol=1e-5)  # ridge coefficients are stored as float32
    # the errors travel with the model: the last rows of the training frame give the same intervals
    seen = frame.iloc[:300]
    pd.testing.assert_frame_equal(loaded.predict(seen.groupby("site").tail(10)), model.predict(seen),
                                  check_exact=False, atol=1e-5)


def test_aci_follows_an_error_scale_that_jumps_where_split_conformal_does_not():
    rng = np.random.default_rng(9)
    frame = _frame(np.r_[rng.normal(0.0, 1.0, 1000), rng.normal(0.0, 3.0, 1000)])  # the noise triples
    spec = WindowSpec("y", lookback=3, horizon=1)
    observed = {}
    for method in ("split", "aci"):
        model = ConformalForecaster(forecaster=registry.build("mean"), levels=(0.8,), method=method)
        out = model.fit(frame.iloc[:600], spec).predict(frame, origin="all")
        observed[method] = _covered(out[out["origin"] >= frame.index[1000]], frame, 0.8).mean()
    assert observed["split"] < 0.65  # its calibration set is dominated by the calm first half
    assert abs(observed["aci"] - 0.8) < 0.04, observed  # 3 binomial standard errors of 1,000 forecasts
