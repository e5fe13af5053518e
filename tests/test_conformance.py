"""Every registered model passes the same checks on a tiny series (cf. sklearn's test_common).

fit returns self; the forecasts frame has the documented schema, one row per origin and step, from the
same origins the RNN uses; clone gives an unfitted estimator with equal parameters; the same seed
gives the same forecasts; predict before fit raises NotFittedError; forecasts from an origin do not
change when later rows are added (no look-ahead); long frames with an id column work.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from threadpoolctl import threadpool_limits

from forecast.config import WindowSpec
from forecast.models import registry

LOOKBACK, HORIZON, N_ROWS, CUT = 7, 2, 90, 70  # lookback >= the weekly season

# Small settings, applied where the model has them (registry.build's `shared`, as backtest and sweep do).
SMALL = {"hidden_size": 4, "max_epochs": 2, "batch_size": 32, "progress_bar": False, "n_estimators": 5,
         "max_iter": 10, "seed": 0}


@pytest.fixture(autouse=True)
def _one_thread():
    """OpenMP/BLAS on one thread: tiny fits, and oversubscribed pools crawl on a shared machine."""
    with threadpool_limits(1):
        yield


def _build(name: str):
    entry = registry.get(name)
    if entry.requires:  # an optional extra (e.g. statsforecast): its models are tested where it is installed
        pytest.importorskip(entry.requires)
    return registry.build(name, shared=SMALL)


def _names() -> list:
    """Every registered name; the statistical models' (seconds each: AutoARIMA's search) marked slow."""
    return [pytest.param(n, marks=pytest.mark.slow) if registry.get(n).family == "statistical" else n
            for n in registry.names()]


def _finite(name: str, out: pd.DataFrame, id_col: str | None = None) -> bool:
    """Every forecast is finite; statistical models may give NaN from origins whose history is too short for
    the fitted model (ARIMA's seasonal differences need more than d + D * season rows), never later."""
    if registry.get(name).family != "statistical":
        return bool(np.isfinite(out["forecast"]).all())
    groups = out.groupby(id_col, sort=False) if id_col else [(None, out)]
    warm = pd.concat([g[g["origin"] >= g["origin"].min() + pd.Timedelta(days=2 * 7)] for _, g in groups])
    return bool(np.isfinite(warm["forecast"]).all())


def _series(n: int, phase: float = 0.0, start: str = "2021-01-01") -> pd.DataFrame:
    rng = np.random.default_rng(int(phase * 10))
    t = np.arange(n)
    return pd.DataFrame(
        {"y": 10 + 3 * np.sin(2 * np.pi * t / 7 + phase) + 0.05 * t + rng.normal(0, 0.3, n),
         "x": rng.normal(0, 1, n)},
        index=pd.date_range(start, periods=n, freq="D", name="date"),
    )


SPEC = WindowSpec("y", lookback=LOOKBACK, horizon=HORIZON, features=("x",), calendar=("dayofweek",))


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return _series(N_ROWS)


@pytest.fixture(scope="module")
def panel_frame() -> pd.DataFrame:
    a, b = _series(50, 0.0), _series(40, 1.0, start="2021-01-05")
    return pd.concat([a.assign(site="b"), b.assign(site="a")])  # unsorted ids on purpose


def _same(x, y) -> bool:
    """Equal values; estimators by class and parameters; lists and tuples (an ensemble's (name, model)
    members) element by element."""
    if isinstance(x, list | tuple):
        return type(x) is type(y) and len(x) == len(y) and all(_same(u, v) for u, v in zip(x, y, strict=True))
    return _params_equal({"v": x}, {"v": y})


def _params_equal(a: dict, b: dict) -> bool:
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, list | tuple):
            if not _same(x, y):
                return False
        elif hasattr(x, "get_params"):
            if type(x) is not type(y) or not _params_equal(x.get_params(), y.get_params()):
                return False
        elif x != y and not (x is None and y is None):
            return False
    return a.keys() == b.keys()


def _check_schema(out: pd.DataFrame, n_origins: int, id_col: str | None = None) -> None:
    expected = ([id_col] if id_col else []) + ["origin", "timestamp", "step", "forecast"]
    assert list(out.columns) == expected
    assert len(out) == n_origins * HORIZON
    assert out["origin"].dtype == "datetime64[ns]" and out["timestamp"].dtype == "datetime64[ns]"
    assert out["step"].dtype == np.int64 and out["forecast"].dtype == np.float64
    assert (out["timestamp"] > out["origin"]).all()
    assert (out["timestamp"] - out["origin"] == pd.to_timedelta(out["step"], unit="D")).all()
    assert out["step"].tolist() == list(range(1, HORIZON + 1)) * n_origins


@pytest.mark.parametrize("name", _names())
def test_registered_model_conforms(name, frame):
    model = _build(name)
    with pytest.raises(NotFittedError):
        model.predict(frame)

    train = frame.iloc[:CUT]
    assert model.fit(train, SPEC) is model

    # Forecasts from the last row, and from every origin with a full lookback (the RNN's origins).
    last = model.predict(train)
    _check_schema(last, 1)
    assert (last["origin"] == train.index[-1]).all()
    every = model.predict(train, origin="all")
    _check_schema(every, CUT - LOOKBACK + 1)
    assert every["origin"].unique().tolist() == list(train.index[LOOKBACK - 1:])
    assert _finite(name, every)
    at_date = model.predict(train, origin=train.index[30])
    pd.testing.assert_frame_equal(at_date, every[every["origin"] == train.index[30]].reset_index(drop=True))

    # No look-ahead: adding the rows after the cut changes no forecast from an origin before it.
    full = model.predict(frame, origin="all")
    pd.testing.assert_frame_equal(full[full["origin"] < frame.index[CUT]].reset_index(drop=True), every,
                                  check_exact=False, rtol=1e-6)
    # ... nor when those later rows are poisoned with huge values.
    poisoned = frame.copy()
    poisoned.iloc[CUT:, :] = 1e9
    after = model.predict(poisoned, origin="all")
    pd.testing.assert_frame_equal(after[after["origin"] < frame.index[CUT]].reset_index(drop=True), every,
                                  check_exact=False, rtol=1e-6)

    # clone: same parameters, not fitted; the same seed gives the same forecasts.
    copy = clone(model)
    assert type(copy) is type(model) and _params_equal(copy.get_params(), model.get_params())
    with pytest.raises(NotFittedError):
        copy.predict(train)
    pd.testing.assert_frame_equal(copy.fit(train, SPEC).predict(train, origin="all"), every)
    again = _build(name).fit(train, SPEC).predict(train, origin="all")
    pd.testing.assert_frame_equal(again, every)


@pytest.mark.parametrize("name", _names())
def test_registered_model_handles_panels(name, panel_frame):
    spec = WindowSpec("y", lookback=LOOKBACK, horizon=HORIZON, features=("x",), id_col="site")
    model = _build(name).fit(panel_frame, spec)
    last = model.predict(panel_frame)
    _check_schema(last, 2, id_col="site")
    assert last["site"].tolist() == ["a"] * HORIZON + ["b"] * HORIZON
    ends = panel_frame.index.to_series().groupby(panel_frame["site"]).max()
    assert (last.groupby("site")["origin"].first() == ends).all()
    every = model.predict(panel_frame, origin="all")
    _check_schema(every, 50 + 40 - 2 * (LOOKBACK - 1), id_col="site")
    assert _finite(name, every, "site")


def test_registry_names_every_family():
    expected = {"rnn", "gru", "lstm", "naive", "seasonal_naive", "drift", "moving_average", "mean", "ridge",
                "hgb", "rf", "lstm_state+ridge", "gru_state+ridge", "rnn_state+ridge"}
    assert expected <= set(registry.names())
    with pytest.raises(KeyError, match="choose from"):
        registry.get("arima")


# -- target transforms (issue 14, item 12) ---------------------------------------------------------------
TREND_ROWS, TREND_CUT = 160, 100


@pytest.fixture(scope="module")
def trending() -> pd.DataFrame:
    """A random walk with drift in logs (+1%/day): the test part lies far above the training range."""
    rng = np.random.default_rng(0)
    y = 100 * np.exp(np.cumsum(0.01 + 0.005 * rng.normal(size=TREND_ROWS)))
    return pd.DataFrame({"y": y, "x": rng.normal(size=TREND_ROWS)},
                        index=pd.date_range("2021-01-01", periods=TREND_ROWS, freq="D", name="date"))


@pytest.mark.parametrize("name", _names())
def test_every_model_honours_a_target_transform_on_a_trending_series(name, trending):
    """Built the way backtest and the CLI build models, with target_transform="log_return", every registered
    model either refuses in one line or forecasts the transformed target: its forecasts leave the training
    range with the prices and its MAE stays near persistence's, where a model fit on raw levels is stuck."""
    from forecast.errors import InputError

    settings = {**SMALL, "target_transform": "log_return"}
    if registry.get(name).target_transform == "refused":
        with pytest.raises(InputError, match=rf"model '{name}' .*--target-transform none"):
            registry.build(name, shared=settings)
        return
    if registry.get(name).requires:
        pytest.importorskip(registry.get(name).requires)
    model = registry.build(name, shared=settings)
    train = trending.iloc[:TREND_CUT]
    model.fit(train, SPEC)
    out = model.predict(trending, origin="all")
    out = out[out["origin"] >= trending.index[TREND_CUT]]
    actual = trending["y"].reindex(out["timestamp"]).to_numpy()
    persistence = trending["y"].reindex(out["origin"]).to_numpy()
    mae = np.nanmean(np.abs(out["forecast"].to_numpy() - actual))
    assert out["forecast"].max() > 1.5 * train["y"].max()  # left the training range
    assert mae < 1.5 * np.nanmean(np.abs(persistence - actual))  # measured: 0.34-0.48x persistence's MAE
    # still no look-ahead through the transform: poisoned later rows change no earlier forecast
    poisoned = trending.copy()
    poisoned.iloc[TREND_CUT:, 0] = 1e9
    before = model.predict(trending.iloc[:TREND_CUT], origin="all")
    after = model.predict(poisoned, origin="all")
    pd.testing.assert_frame_equal(after[after["origin"] < trending.index[TREND_CUT]].reset_index(drop=True),
                                  before, check_exact=False, rtol=1e-6)
