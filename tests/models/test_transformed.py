"""TransformedTargetForecaster: any forecaster on a transformed target, forecasts in the data's units.

The transform and its inverse are forecast.data.transforms' (RNNForecaster's own), so the checks here
are that the wrapper applies them per series in time order, inverts every step from the right origin
level, and refuses what makes no sense.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from forecast.config import WindowSpec
from forecast.errors import InputError
from forecast.models.direction import AlwaysUp
from forecast.models.naive import HistoricalMean, Naive
from forecast.models.transformed import TransformedTargetForecaster

H = 3


def _panel() -> pd.DataFrame:
    """Two positive series, rows deliberately shuffled (ids and dates out of order)."""
    rng = np.random.default_rng(1)
    parts = []
    for sid, start in (("b", 50.0), ("a", 5.0)):
        idx = pd.date_range("2022-01-01", periods=30, freq="D", name="date")
        parts.append(pd.DataFrame({"site": sid, "y": start * np.exp(np.cumsum(rng.normal(0.01, 0.02, 30))),
                                   "z": start + np.cumsum(rng.normal(0, 1, 30))}, index=idx))
    frame = pd.concat(parts)
    return frame.iloc[rng.permutation(len(frame))]


SPEC = WindowSpec("y", lookback=4, horizon=H, id_col="site")


@pytest.mark.parametrize("kind", ["diff", "log_return", "pct_change"])
def test_naive_on_differences_repeats_the_last_change_from_each_origin(kind):
    """Naive on a differenced target forecasts the last change again, accumulated from the origin level."""
    frame = _panel()
    out = TransformedTargetForecaster(forecaster=Naive(), transform=kind).fit(frame, SPEC).predict(frame)
    for sid, series in frame.sort_index().groupby("site"):
        y = series["y"].to_numpy()
        got = out.loc[out["site"] == sid, "forecast"].to_numpy()
        steps = np.arange(1, H + 1)
        expected = {"diff": y[-1] + steps * (y[-1] - y[-2]),
                    "log_return": y[-1] * np.exp(steps * np.log(y[-1] / y[-2])),
                    "pct_change": y[-1] * (y[-1] / y[-2]) ** steps}[kind]
        np.testing.assert_allclose(got, expected, rtol=1e-5)
        assert (out.loc[out["site"] == sid, "origin"] == series.index[-1]).all()


def test_every_origin_is_inverted_from_its_own_level():
    frame = _panel()
    out = TransformedTargetForecaster(forecaster=HistoricalMean(), transform="log").fit(frame, SPEC)
    every = out.predict(frame, origin="all")
    ordered = frame.sort_index()
    for (sid, origin), block in every.groupby(["site", "origin"]):
        history = ordered.loc[(ordered["site"] == sid) & (ordered.index <= origin), "y"]
        np.testing.assert_allclose(block["forecast"], np.exp(np.log(history).mean()), rtol=1e-5)


def test_several_targets_are_each_inverted_from_their_own_level():
    frame = _panel()
    spec = WindowSpec(("y", "z"), lookback=4, horizon=H, id_col="site")
    out = TransformedTargetForecaster(forecaster=Naive(), transform="diff").fit(frame, spec).predict(frame)
    last = frame.sort_index().groupby("site").tail(2).sort_index()
    for target in ("y", "z"):
        for sid, series in last.groupby("site"):
            v = series[target].to_numpy()
            got = out[(out["site"] == sid) & (out["target"] == target)]["forecast"].to_numpy()
            np.testing.assert_allclose(got, v[-1] + np.arange(1, H + 1) * (v[-1] - v[-2]), rtol=1e-5)


def test_estimator_contract_and_refusals():
    model = TransformedTargetForecaster(forecaster=Naive(), transform="log_return")
    copy = clone(model)
    assert copy.get_params()["transform"] == "log_return" and copy.forecaster is not model.forecaster
    frame = _panel()
    with pytest.raises(InputError, match="direction of the target"):
        TransformedTargetForecaster(forecaster=AlwaysUp(), transform="log").fit(frame, SPEC)
    negative = frame.assign(y=-frame["y"])
    with pytest.raises(InputError, match="needs positive values"):
        model.fit(negative, SPEC)
    with pytest.raises(ValueError, match="transform"):
        TransformedTargetForecaster(forecaster=Naive(), transform="sqrt").fit(frame, SPEC)


@pytest.mark.slow
def test_cli_and_api_backtests_honour_the_transform_alike(tmp_path, capsys):
    """`forecast backtest --target-transform` and backtest(params={"target_transform": ...}) build the same
    models: ridge on log returns leaves the training range in both; the benchmark stays persistence."""
    from forecast import backtest
    from forecast.cli import main

    rng = np.random.default_rng(0)
    idx = pd.date_range("2021-01-01", periods=150, freq="D", name="date")
    frame = pd.DataFrame({"y": 100 * np.exp(np.cumsum(0.01 + 0.005 * rng.normal(size=150)))}, index=idx)
    data = tmp_path / "trend.csv"
    frame.to_csv(data)
    code = main(["backtest", str(data), "--target", "y", "--models", "ridge,lstm_state+ridge", "--lookback", "5",
                 "--epochs", "2", "--target-transform", "log_return", "--out", str(tmp_path / "cli"),
                 "--no-plots", "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "except the benchmark naive, which forecasts the target itself" in printed
    cli = pd.read_csv(tmp_path / "cli" / "forecasts.csv")
    api = backtest(["ridge", "lstm_state+ridge"], frame, WindowSpec("y", lookback=5, horizon=1),
                   params={"target_transform": "log_return", "max_epochs": 2, "seed": 0}, progress=False)
    for name in ("ridge", "lstm_state+ridge", "naive"):
        np.testing.assert_allclose(cli.loc[cli["model"] == name, "forecast"].to_numpy(),
                                   api.forecasts.loc[api.forecasts["model"] == name, "forecast"].to_numpy(),
                                   rtol=1e-6)
    board = api.leaderboard.set_index("model")
    assert board.loc["lstm_state+ridge", "mae"] < 1.5 * board.loc["naive", "mae"]  # was 8.5x (MAE 34.9 vs 4.09) before
    naive = api.forecasts[api.forecasts["model"] == "naive"]
    np.testing.assert_allclose(naive["forecast"].to_numpy(), frame["y"].reindex(naive["origin"]).to_numpy())


def test_bad_frames_get_the_unwrapped_models_one_line_errors():
    frame = _panel()
    model = TransformedTargetForecaster(forecaster=Naive(), transform="diff")
    with pytest.raises(InputError, match="training frame: column 'y' must be numeric"):
        model.fit(frame.assign(y=frame["y"].astype(str)), SPEC)
    with pytest.raises(InputError, match="index must be a DatetimeIndex"):
        model.fit(frame.reset_index(), SPEC)
    with pytest.raises(InputError, match=r"prediction frame: missing column\(s\) \['y'\]"):
        model.fit(frame, SPEC).predict(frame.drop(columns="y"))
