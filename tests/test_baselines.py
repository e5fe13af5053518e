"""What is special about each baseline: hand-computed naive forecasts, season inference, lag models
equal to sklearn on a hand-built lag matrix, and artifacts without pickle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.multioutput import MultiOutputRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from forecast.config import WindowSpec
from forecast.errors import InputError
from forecast.models import registry
from forecast.models.baselines import (
    Drift,
    HistoricalMean,
    LagRegressor,
    MovingAverage,
    Naive,
    SeasonalNaive,
    infer_season,
)
from forecast.models.loading import load_model

Y = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0])


@pytest.fixture(autouse=True)
def _one_thread():
    """OpenMP/BLAS on one thread: tiny fits, and oversubscribed pools crawl on a shared machine."""
    with threadpool_limits(1):
        yield


def _frame(values=Y, freq="D", start="2024-01-01") -> pd.DataFrame:
    return pd.DataFrame({"y": values}, index=pd.date_range(start, periods=len(values), freq=freq, name="t"))


def _forecasts(model, spec, frame=None) -> np.ndarray:
    """[N, H] forecasts from every origin."""
    frame = _frame() if frame is None else frame
    out = model.fit(frame, spec).predict(frame, origin="all")
    return out["forecast"].to_numpy().reshape(-1, spec.horizon)


def test_naive_repeats_the_origin_value():
    spec = WindowSpec("y", lookback=2, horizon=3)
    np.testing.assert_array_equal(_forecasts(Naive(), spec), np.repeat(Y[1:, None], 3, axis=1))


def test_seasonal_naive_by_hand():
    spec = WindowSpec("y", lookback=3, horizon=4)
    got = _forecasts(SeasonalNaive(season=3), spec)
    # origin t, step h -> y[t + h - 3*ceil(h/3)]: steps 1..3 read t-2..t, step 4 reads t-2 again.
    expected = np.array([[Y[t - 2], Y[t - 1], Y[t], Y[t - 2]] for t in range(2, len(Y))])
    np.testing.assert_array_equal(got, expected)


def test_seasonal_naive_is_nan_before_one_season_of_history():
    got = _forecasts(SeasonalNaive(season=4), WindowSpec("y", lookback=2, horizon=1))
    assert np.isnan(got[:2, 0]).all()  # origins 1, 2 would read rows -2, -1
    np.testing.assert_array_equal(got[2:, 0], Y[0:len(Y) - 3])


@pytest.mark.parametrize(("freq", "season"), [("h", 24), ("30min", 48), ("D", 7), ("W", 52), ("MS", 12),
                                              ("QS", 4), ("B", 5)])
def test_infer_season_from_the_time_step(freq, season):
    frame = _frame(np.arange(40.0), freq=freq)
    model = SeasonalNaive().fit(frame, WindowSpec("y", lookback=2))
    assert model.season_ == season
    index = frame.index.to_numpy()
    assert infer_season(index, np.array([0, len(index)])) == season


def test_infer_season_refuses_an_odd_step():
    with pytest.raises(InputError, match="pass season="):
        SeasonalNaive().fit(_frame(freq="13D"), WindowSpec("y", lookback=2))


def test_drift_by_hand():
    spec = WindowSpec("y", lookback=3, horizon=2)
    got = _forecasts(Drift(), spec)
    expected = [[Y[t] + h * (Y[t] - Y[0]) / t for h in (1, 2)] for t in range(2, len(Y))]
    np.testing.assert_allclose(got, expected)
    local = _forecasts(Drift(window=3), spec)
    expected = [[Y[t] + h * (Y[t] - Y[t - 2]) / 2 for h in (1, 2)] for t in range(2, len(Y))]
    np.testing.assert_allclose(local, expected)


def test_drift_starts_at_the_first_finite_value():
    values = Y.copy()
    values[0] = np.nan
    got = _forecasts(Drift(), WindowSpec("y", lookback=2), _frame(values))
    np.testing.assert_allclose(got[:, 0], [values[t] + (values[t] - values[1]) / (t - 1) for t in range(2, 10)])


def test_moving_average_and_mean_by_hand_skip_missing_values():
    values = Y.copy()
    values[3] = np.nan
    spec = WindowSpec("y", lookback=2)
    frame = _frame(values)
    ma = MovingAverage(window=3).fit(frame, spec).predict(frame, origin="all")
    expected = {t: np.nanmean(values[max(0, t - 2):t + 1]) for t in range(1, 10)}
    for origin, value in zip(ma["origin"], ma["forecast"], strict=True):
        assert value == pytest.approx(expected[frame.index.get_loc(origin)])
    assert frame.index[3] not in set(ma["origin"]) and frame.index[4] not in set(ma["origin"])  # NaN in lookback
    mean = HistoricalMean().fit(frame, spec).predict(frame, origin="all")
    for origin, value in zip(mean["origin"], mean["forecast"], strict=True):
        assert value == pytest.approx(np.nanmean(values[:frame.index.get_loc(origin) + 1]))


def test_moving_average_defaults_to_the_lookback():
    got = _forecasts(MovingAverage(), WindowSpec("y", lookback=4))
    np.testing.assert_allclose(got[:, 0], [Y[t - 3:t + 1].mean() for t in range(3, 10)])


def test_naive_models_keep_series_apart():
    frame = pd.concat([_frame(Y).assign(s="a"), _frame(Y[::-1] * 10).assign(s="b")])
    spec = WindowSpec("y", lookback=2, id_col="s")
    out = HistoricalMean().fit(frame, spec).predict(frame)
    assert out["forecast"].tolist() == pytest.approx([Y.mean(), Y.mean() * 10])


# -- lag models --------------------------------------------------------------------------------------
def _lag_frame(n=120, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return pd.DataFrame(
        {"y": np.sin(t / 5) * 4 + rng.normal(0, 0.5, n), "x": rng.normal(size=n), "k": rng.normal(size=n)},
        index=pd.date_range("2022-01-01", periods=n, freq="D", name="t"),
    )


def test_ridge_on_lags_equals_sklearn_on_a_hand_built_lag_matrix():
    frame = _lag_frame()
    L, H = 4, 2
    spec = WindowSpec("y", lookback=L, horizon=H, features=("x",), known_future=("k",))
    model = LagRegressor(estimator=Ridge(alpha=0.5)).fit(frame, spec)
    got = model.predict(frame, origin="all")

    # Row of origin t: y, x, k at t-L+1..t (time-major), then k at t+1..t+H; target y at t+1..t+H.
    cols = ["y", "x", "k"]
    past = [frame[c].shift(L - 1 - i).rename(f"{c}{i}") for i in range(L) for c in cols]
    ahead = [frame["k"].shift(-h).rename(f"k+{h}") for h in range(1, H + 1)]
    X = pd.concat(past + ahead, axis=1)
    Y = pd.concat([frame["y"].shift(-h) for h in range(1, H + 1)], axis=1)
    ok = X.notna().all(axis=1) & Y.notna().all(axis=1)
    reference = make_pipeline(StandardScaler(), Ridge(alpha=0.5)).fit(
        X[ok].to_numpy(np.float32), Y[ok].to_numpy(np.float32))
    usable = X.notna().all(axis=1)  # origins whose known-future values exist
    expected = reference.predict(X[usable].to_numpy(np.float32)).ravel()
    forecast = got.set_index(["origin", "step"])["forecast"]
    mine = forecast.loc[[(t, h) for t in X.index[usable] for h in range(1, H + 1)]].to_numpy()
    np.testing.assert_allclose(mine, expected, rtol=1e-5, atol=1e-5)
    # The last H origins have no known-future values after the data: NaN, not a guess.
    assert forecast.loc[frame.index[-1]].isna().all()


def test_lag_model_wraps_only_single_output_estimators():
    frame = _lag_frame()
    hgb = HistGradientBoostingRegressor(max_iter=5)
    two = LagRegressor(estimator=hgb).fit(frame, WindowSpec("y", lookback=3, horizon=2))
    assert isinstance(two.pipeline_.named_steps["model"], MultiOutputRegressor)
    one = LagRegressor(estimator=hgb).fit(frame, WindowSpec("y", lookback=3, horizon=1))
    assert isinstance(one.pipeline_.named_steps["model"], HistGradientBoostingRegressor)
    ridge = LagRegressor().fit(frame, WindowSpec("y", lookback=3, horizon=2))
    assert isinstance(ridge.pipeline_.named_steps["model"], Ridge)  # None -> Ridge(), native multi-output


def test_lag_model_scales_with_training_windows_only():
    frame = _lag_frame()
    model = LagRegressor().fit(frame.iloc[:60], WindowSpec("y", lookback=3))
    scaler = model.pipeline_.named_steps["scale"]
    assert scaler.n_samples_seen_ == 60 - 3  # origins 2..58: every window whose target is in the first 60 rows
    y = frame["y"].to_numpy()
    assert scaler.mean_[0] == pytest.approx(y[0:57].mean(), rel=1e-5)  # first lag: rows t-2 = 0..56
    assert scaler.mean_[2] == pytest.approx(y[2:59].mean(), rel=1e-5)  # origin value: rows 2..58


def test_lag_model_one_hot_encodes_categories():
    frame = _lag_frame().assign(c=lambda f: np.where(f["x"] > 0, "up", "down"))
    spec = WindowSpec("y", lookback=3, categorical=("c",))
    model = LagRegressor().fit(frame, spec)
    assert model.pipeline_.named_steps["scale"].n_features_in_ == 3 + 3  # 3 lags + one-hot (unseen, down, up)


# -- artifacts ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["naive", "seasonal_naive", "drift", "moving_average", "mean", "ridge",
                                  "lstm_state+ridge", "gru_state+ridge"])
@pytest.mark.parametrize("horizon", [1, 2])
def test_saved_models_predict_the_same(name, horizon, tmp_path):
    frame = _lag_frame()
    spec = WindowSpec("y", lookback=5, horizon=horizon, features=("x",), calendar=("month",))
    small = {"max_epochs": 1, "hidden_size": 4, "include_cell": True} if "state" in name else {}
    model = registry.build(name, **small).fit(frame, spec)
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert type(loaded) is type(model) and loaded.get_params().keys() == model.get_params().keys()
    pd.testing.assert_frame_equal(loaded.predict(frame, origin="all"), model.predict(frame, origin="all"))


@pytest.mark.parametrize("name", ["hgb", "rf"])
def test_models_that_need_pickle_refuse_to_save(name, tmp_path):
    frame = _lag_frame()
    small = {"hgb": {"max_iter": 5}, "rf": {"n_estimators": 5}}[name]
    model = registry.build(name, **small)
    model.fit(frame, WindowSpec("y", lookback=3))
    with pytest.raises(InputError, match="cannot be saved"):
        model.save(tmp_path / "m")
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_search_spaces_build_valid_models_without_touching_the_seed():
    optuna = pytest.importorskip("optuna")
    frame = _lag_frame(60)
    spec = WindowSpec("y", lookback=3)
    for name in registry.names():
        entry = registry.get(name)
        if entry.search_space is None:
            continue
        trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1)).ask()
        params = entry.search_space(trial)
        assert "seed" not in params
        model = registry.build(name, **params)
        if entry.family == "naive":
            model.fit(frame, spec)
        elif entry.family == "lagged":
            model.estimator._validate_params()  # the sklearn estimator accepts every sampled value
        else:
            model._validate_params()


@pytest.mark.parametrize("name", ["naive", "drift", "ridge", "gru_state+ridge"])
def test_several_targets_get_a_target_column(name):
    frame = _lag_frame(60)
    spec = WindowSpec(("y", "x"), lookback=3, horizon=2)
    model = registry.build(name, **({"max_epochs": 1, "hidden_size": 4} if "state" in name else {}))
    out = model.fit(frame, spec).predict(frame)
    assert out.columns.tolist() == ["origin", "timestamp", "step", "target", "forecast"]
    assert out["target"].tolist() == ["y", "x", "y", "x"] and out["step"].tolist() == [1, 1, 2, 2]
    if name == "naive":
        assert out["forecast"].tolist() == pytest.approx([frame["y"].iloc[-1], frame["x"].iloc[-1]] * 2)


def test_parameters_are_checked_at_fit_with_the_bad_value_named():
    from sklearn.utils._param_validation import InvalidParameterError

    model = SeasonalNaive(season=0)  # the constructor only stores it
    with pytest.raises(InvalidParameterError, match="'season' parameter of SeasonalNaive must be"):
        model.fit(_frame(), WindowSpec("y", lookback=2))
    with pytest.raises(InvalidParameterError, match="'window' parameter of MovingAverage"):
        MovingAverage(window=-1).fit(_frame(), WindowSpec("y", lookback=2))


def test_prediction_frame_missing_a_training_column_is_named():
    frame = _lag_frame()
    model = LagRegressor().fit(frame, WindowSpec("y", lookback=3, features=("x",)))
    with pytest.raises(InputError, match=r"prediction frame: the columns differ from training: missing column\(s\) \['x'\]"):
        model.predict(frame.drop(columns="x"))
