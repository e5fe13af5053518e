"""Metrics against hand-computed values, and scoring of forecasts frames against actuals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast.errors import InputError
from forecast.metrics import (
    accuracy,
    binary_log_loss,
    brier,
    coverage,
    directional_accuracy,
    join_actuals,
    mae,
    mape,
    mase,
    naive_scale,
    pinball_loss,
    quantile_columns,
    rmse,
    score_forecasts,
    smape,
)

Y = [2.0, 4.0, 5.0, 10.0]
F = [3.0, 3.0, 5.0, 6.0]  # errors y - f: -1, 1, 0, 4


def test_mae_rmse_by_hand():
    assert mae(Y, F) == pytest.approx((1 + 1 + 0 + 4) / 4)  # 1.5
    assert rmse(Y, F) == pytest.approx(np.sqrt((1 + 1 + 0 + 16) / 4))  # sqrt(4.5)


def test_mape_is_percent_and_nan_on_zero_actual():
    # |e|/|y| = 1/2, 1/4, 0, 4/10 -> mean 0.2875
    assert mape(Y, F) == pytest.approx(28.75)
    assert np.isnan(mape([0.0, 1.0], [1.0, 1.0]))


def test_smape_by_hand_and_zero_over_zero():
    # 2|e|/(|y|+|f|) = 2/5, 2/7, 0, 8/16
    assert smape(Y, F) == pytest.approx(100 * (2 / 5 + 2 / 7 + 0 + 0.5) / 4)
    assert smape([0.0, 0.0], [0.0, 0.0]) == 0.0
    assert smape([1.0], [-1.0]) == pytest.approx(200.0)  # the upper bound


def test_mase_plain_and_seasonal():
    train = [1.0, 3.0, 2.0, 6.0]  # naive |diffs| 2, 1, 4 -> scale 7/3; season 2: |1|, |3| -> 2
    assert naive_scale(train) == pytest.approx(7 / 3)
    assert mase(Y, F, train) == pytest.approx(1.5 / (7 / 3))
    assert mase(Y, F, train, season=2) == pytest.approx(1.5 / 2)
    assert np.isnan(mase(Y, F, [5.0, 5.0, 5.0]))  # constant training series: undefined
    with pytest.raises(InputError, match="season=4"):
        mase(Y, F, train, season=4)


def test_directional_accuracy_by_hand():
    origin = [3.0, 3.0, 5.0, 8.0]
    # actual change: -1, +1, 0, +2 ; forecast change: 0, 0, 0, -2 -> right only on the third
    assert directional_accuracy(Y, F, origin) == pytest.approx(0.25)
    assert directional_accuracy(Y, Y, origin) == 1.0


def test_pinball_by_hand():
    y, q_hat = [10.0, 10.0], [8.0, 13.0]
    # q = 0.9: under-forecast by 2 costs 0.9*2, over-forecast by 3 costs 0.1*3 -> mean 1.05
    assert pinball_loss(y, q_hat, 0.9) == pytest.approx((1.8 + 0.3) / 2)
    assert pinball_loss(y, q_hat, 0.5) == pytest.approx(mae(y, q_hat) / 2)
    with pytest.raises(InputError, match="quantile"):
        pinball_loss(y, q_hat, 1.0)


def test_coverage_counts_the_bounds_as_inside():
    assert coverage([1.0, 2.0, 3.0, 4.0], [1.0, 0.0, 3.5, 0.0], [1.0, 1.0, 4.0, 4.0]) == pytest.approx(0.5)
    with pytest.raises(InputError, match="lower bounds exceed"):
        coverage([1.0], [2.0], [0.0])


def test_length_mismatch_is_an_input_error():
    with pytest.raises(InputError, match="has 3"):
        mae([1.0, 2.0], [1.0, 2.0, 3.0])


# ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def actuals():
    idx = pd.date_range("2021-01-01", periods=8, freq="D", name="date")
    return pd.DataFrame({"y": [1.0, 3.0, 2.0, 6.0, 5.0, 7.0, 4.0, 8.0]}, index=idx)


def _persistence(actuals: pd.DataFrame, origins: pd.DatetimeIndex, horizon: int) -> pd.DataFrame:
    """Forecast every step as the value at the origin (built vectorized, as a model's predict would)."""
    steps = np.arange(1, horizon + 1)
    origin = np.repeat(origins.to_numpy(), horizon)
    pos = np.repeat(actuals.index.get_indexer(origins), horizon) + np.tile(steps, len(origins))
    return pd.DataFrame(
        {
            "origin": origin,
            "timestamp": actuals.index.to_numpy()[pos],
            "step": np.tile(steps, len(origins)),
            "forecast": actuals["y"].to_numpy()[pos - np.tile(steps, len(origins))],
        }
    )


def test_score_forecasts_by_hand(actuals):
    origins = actuals.index[3:6]  # values 6, 5, 7 at origins; train up to the first origin: 1, 3, 2, 6
    naive = _persistence(actuals, origins, 2)
    scores = score_forecasts({"naive": naive}, actuals, target="y")
    assert scores["step"].isna().tolist() == [True, False, False]  # the overall row has no step
    assert scores["step"].iloc[1:].tolist() == [1, 2]
    overall, step1, step2 = (scores.iloc[i] for i in range(3))
    # step 1: actual 5, 7, 4 vs 6, 5, 7 -> |e| 1, 2, 3 ; step 2: actual 7, 4, 8 vs 6, 5, 7 -> |e| 1, 1, 1
    assert step1["mae"] == pytest.approx(2.0)
    assert step2["mae"] == pytest.approx(1.0)
    assert overall["mae"] == pytest.approx(9 / 6)
    assert overall["n"] == 6
    assert overall["rmse"] == pytest.approx(np.sqrt((1 + 4 + 9 + 3) / 6))
    assert overall["mase"] == pytest.approx(1.5 / (7 / 3))  # scale: naive MAE of 1, 3, 2, 6
    assert overall["directional_accuracy"] == 0.0  # persistence never calls a move


def test_score_forecasts_per_model_with_quantiles(actuals):
    origins = actuals.index[3:6]
    naive = _persistence(actuals, origins, 1)
    oracle = naive.assign(forecast=[5.0, 7.0, 4.0])
    oracle["q0.1"], oracle["q0.9"] = oracle["forecast"] - 1.0, oracle["forecast"] + [1.0, -0.5, 1.0]
    frame = pd.concat([naive.assign(model="naive"), oracle.assign(model="oracle")], ignore_index=True)
    scores = score_forecasts(frame, actuals, target="y").set_index(["model", "step"])
    best = scores.xs("oracle").iloc[0]  # the pooled row sorts first
    assert best["mae"] == 0.0
    assert best["directional_accuracy"] == 1.0
    # q0.9 lies 1, -0.5, 1 from the actual: 0.1*1, 0.9*0.5, 0.1*1 ; q0.1 lies 1 below: 0.1 each
    assert best["pinball_q0.9"] == pytest.approx((0.1 + 0.45 + 0.1) / 3)
    assert best["pinball_q0.1"] == pytest.approx(0.1)
    assert best["coverage_0.8"] == pytest.approx(2 / 3)
    assert np.isnan(scores.xs("naive").iloc[0]["pinball"])  # naive has no quantiles; the columns are shared


def test_score_forecasts_panel_and_multi_target():
    idx = pd.DatetimeIndex(np.tile(pd.date_range("2021-01-01", periods=4, freq="D"), 2), name="date")
    data = pd.DataFrame(
        {"site": ["a"] * 4 + ["b"] * 4, "t": [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 20.0, 30.0], "w": 1.0},
        index=idx,
    )
    when = pd.Timestamp("2021-01-03")
    fc = pd.DataFrame(
        {
            "site": ["a", "b", "a"],
            "origin": [when] * 3,
            "timestamp": [when + pd.Timedelta(days=1)] * 3,
            "step": 1,
            "target": ["t", "t", "w"],
            "forecast": [7.0, 20.0, 1.0],
            "model": "m",
        }
    )
    joined = join_actuals(fc, data, id_col="site")
    assert joined["actual"].tolist() == [8.0, 30.0, 1.0]
    assert joined["origin_actual"].tolist() == [4.0, 20.0, 1.0]
    # scale per series from rows up to the origin: a: |1|,|2| -> 1.5 ; b: |0|,|10| -> 5
    assert joined["scale"].tolist()[:2] == [1.5, 5.0]
    scores = score_forecasts(fc, data, id_col="site").set_index(["target", "step"])
    assert scores.loc[("t", 1), "mase"] == pytest.approx((1 / 1.5 + 10 / 5) / 2)
    assert np.isnan(scores.loc[("w", 1), "mase"])  # constant series: undefined, not infinite


def test_missing_actual_names_the_row(actuals):
    fc = _persistence(actuals, actuals.index[6:7], 1)
    fc["timestamp"] = fc["timestamp"] + pd.Timedelta(days=5)
    with pytest.raises(InputError, match="no actual value"):
        score_forecasts({"m": fc}, actuals, target="y")


def test_bad_columns_are_named(actuals):
    fc = _persistence(actuals, actuals.index[3:4], 1)
    with pytest.raises(InputError, match="'step'"):
        score_forecasts({"m": fc.drop(columns="step")}, actuals, target="y")
    with pytest.raises(InputError, match="'forecast'"):
        score_forecasts({"m": fc.assign(forecast="x")}, actuals, target="y")
    with pytest.raises(InputError, match=r"\['nope'\]"):
        score_forecasts({"m": fc}, actuals, target="nope")
    with pytest.raises(InputError, match="'model' column"):
        score_forecasts(fc, actuals, target="y")
    with pytest.raises(InputError, match="pass target="):
        score_forecasts({"m": fc}, actuals)


def test_quantile_columns_sorted_by_level():
    frame = pd.DataFrame(columns=["forecast", "q0.9", "q0.1", "q0.5", "quality"])
    assert quantile_columns(frame) == {"q0.1": 0.1, "q0.5": 0.5, "q0.9": 0.9}


def test_classification_metrics_by_hand():
    y, p = [1, 0, 1, 1], [0.9, 0.4, 0.5, 0.2]
    assert accuracy(y, p) == pytest.approx(0.75)  # 0.5 calls "up"; 0.2 is the one miss
    assert brier(y, p) == pytest.approx((0.01 + 0.16 + 0.25 + 0.64) / 4)
    assert binary_log_loss(y, p) == pytest.approx(
        -(np.log(0.9) + np.log(0.6) + np.log(0.5) + np.log(0.2)) / 4
    )
    assert brier([1, 1], [1.0, 1.0]) == 0.0  # one class present: still defined
    with pytest.raises(InputError, match="0/1 labels"):
        brier([2, 0], [0.5, 0.5])
    with pytest.raises(InputError, match="within \\[0, 1\\]"):
        accuracy([1, 0], [1.5, 0.5])


def test_score_forecasts_classification(actuals):
    up = actuals.assign(up=(actuals["y"].diff() > 0).astype(float))
    origins = up.index[3:7]  # next-day labels: 0 (6->5), 1 (5->7), 0 (7->4), 1 (4->8)
    fc = pd.DataFrame(
        {"origin": origins, "timestamp": up.index[4:8], "step": 1, "forecast": [0.2, 0.7, 0.6, 0.9]}
    )
    scores = score_forecasts({"clf": fc}, up, target="up", task="classification")
    overall = scores.iloc[0]
    assert list(scores.columns) == ["model", "target", "step", "n", "accuracy", "brier", "log_loss"]
    assert overall["accuracy"] == pytest.approx(0.75)
    assert overall["brier"] == pytest.approx((0.04 + 0.09 + 0.36 + 0.01) / 4)
    with pytest.raises(InputError, match="0/1 labels"):
        score_forecasts({"clf": fc}, actuals, target="y", task="classification")


def test_repeated_rows_are_input_errors(actuals):
    fc = _persistence(actuals, actuals.index[3:5], 1)
    with pytest.raises(InputError, match="repeat a \\(model"):
        score_forecasts({"m": pd.concat([fc, fc])}, actuals, target="y")
    with pytest.raises(InputError, match="repeat timestamp"):
        score_forecasts({"m": fc}, pd.concat([actuals, actuals]).sort_index(), target="y")


def test_partly_missing_quantiles_are_input_errors(actuals):
    fc = _persistence(actuals, actuals.index[3:5], 1)
    fc["q0.9"] = [fc["forecast"].iloc[0] + 1.0, np.nan]
    with pytest.raises(InputError, match="'q0.9'.*\\['m'\\]"):
        score_forecasts({"m": fc}, actuals, target="y")
