"""The leaderboard: scores, DM p-values against persistence, timings, the verdict and the files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast.errors import InputError
from forecast.leaderboard import build_leaderboard, dm_against, summarize, write_leaderboard
from forecast.metrics import join_actuals

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def walk():
    """A random walk: persistence is the best forecast there is (seeded, 300 days)."""
    rng = np.random.default_rng(7)
    idx = pd.date_range("2020-01-01", periods=300, freq="D", name="date")
    return pd.DataFrame({"y": 100 + np.cumsum(rng.normal(size=300))}, index=idx)


def _forecasts(
    walk: pd.DataFrame, noise: float, seed: int, oracle: float = 0.0, horizon: int = 1
) -> pd.DataFrame:
    """Step-h forecasts from origins 200..298: persistence plus noise, pulled `oracle` of the way to the truth."""
    rng = np.random.default_rng(seed)
    y = walk["y"].to_numpy()
    origins = np.arange(200, 300 - horizon)
    steps = np.arange(1, horizon + 1)
    o, s = np.repeat(origins, horizon), np.tile(steps, len(origins))
    guess = y[o] + noise * rng.normal(size=o.size)
    return pd.DataFrame(
        {
            "origin": walk.index[o],
            "timestamp": walk.index[o + s],
            "step": s,
            "forecast": (1 - oracle) * guess + oracle * y[o + s],
        }
    )


def test_no_model_beats_persistence_on_a_random_walk(walk):
    forecasts = {
        "naive": _forecasts(walk, 0.0, 0),
        "noisy": _forecasts(walk, 0.5, 1),
        "junk": _forecasts(walk, 3.0, 2),
    }
    board = build_leaderboard(
        forecasts, walk, target="y", timings={"naive": {"fit_seconds": 0.0, "predict_seconds": 0.1}}
    )
    assert board["model"].tolist() == ["naive", "noisy", "junk"]
    assert board["rank"].tolist() == [1, 2, 3]
    assert not board["beats_benchmark"].any()
    assert np.isnan(board.loc[0, "dm_p_better"])  # the benchmark against itself: no test
    assert board.loc[0, "verdict"] == "benchmark"
    assert board.loc[2, "dm_p_worse"] < 0.05 and board.loc[2, "dm_statistic"] > 0
    assert board.loc[0, "fit_seconds"] == 0.0 and np.isnan(board.loc[1, "fit_seconds"])
    assert board.loc[0, "mase"] == pytest.approx(1.0, abs=0.2)
    text = summarize(board)
    assert "No model beats naive (persistence) significantly" in text
    assert "Significantly worse than naive: noisy (p_worse=" in text and ", junk (p_worse=" in text


def test_a_model_that_knows_the_future_beats_persistence(walk):
    forecasts = {
        "naive": _forecasts(walk, 0.0, 0),
        "seer": _forecasts(walk, 0.0, 0, oracle=0.7),
        "noisy": _forecasts(walk, 0.5, 1),
    }
    board = build_leaderboard(forecasts, walk, target="y", sort_by="rmse")
    assert board.loc[0, "model"] == "seer"
    assert board.set_index("model")["beats_benchmark"].to_dict() == {
        "seer": True,
        "naive": False,
        "noisy": False,
    }
    text = summarize(board)
    assert "y: best by rmse is seer" in text
    assert "Beat naive significantly" in text and "seer (p_better=" in text
    assert "The other 1 model(s) do not." in text


def test_dm_uses_mean_loss_per_origin_and_the_horizon(walk):
    forecasts = {"naive": _forecasts(walk, 0.0, 0, horizon=3), "noisy": _forecasts(walk, 0.5, 1, horizon=3)}
    joined = join_actuals(forecasts, walk, target="y")
    dm = dm_against(joined, "naive").set_index("model")
    assert dm.loc["noisy", "dm_n"] == 97  # 97 origins, each averaging its 3 steps


def test_sort_by_directional_accuracy_is_descending(walk):
    forecasts = {"naive": _forecasts(walk, 0.0, 0), "seer": _forecasts(walk, 0.0, 0, oracle=0.7)}
    board = build_leaderboard(forecasts, walk, target="y", sort_by="directional_accuracy")
    assert board["model"].tolist() == ["seer", "naive"]


def test_bad_arguments_are_named(walk):
    forecasts = {"naive": _forecasts(walk, 0.0, 0), "noisy": _forecasts(walk, 0.5, 1)}
    with pytest.raises(InputError, match="'persistence'"):
        build_leaderboard(forecasts, walk, target="y", benchmark="persistence")
    with pytest.raises(InputError, match="'accuracy'"):
        build_leaderboard(forecasts, walk, target="y", sort_by="accuracy")
    with pytest.raises(InputError, match="missing"):
        build_leaderboard(forecasts, walk, target="y", timings=pd.DataFrame({"model": ["naive"]}))


def test_write_leaderboard_writes_csv_and_png(walk, tmp_path):
    forecasts = {"naive": _forecasts(walk, 0.0, 0), "seer": _forecasts(walk, 0.0, 0, oracle=0.7)}
    board = build_leaderboard(forecasts, walk, target="y")
    paths = write_leaderboard(board, tmp_path / "report")
    assert pd.read_csv(paths["csv"])["model"].tolist() == ["seer", "naive"]
    assert paths["png"].read_bytes()[:8] == PNG_MAGIC
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == ["leaderboard.csv", "leaderboard.png"]


def test_classification_leaderboard_ranks_by_brier(walk):
    labels = walk.assign(up=(walk["y"].diff() > 0).astype(float))
    base = _forecasts(walk, 0.0, 0)
    truth = labels["up"].reindex(base["timestamp"]).to_numpy()
    forecasts = {
        "naive": base.assign(forecast=0.5),  # a coin flip: the benchmark for direction
        "sharp": base.assign(forecast=0.2 + 0.6 * truth),
    }
    board = build_leaderboard(forecasts, labels, target="up", task="classification")
    assert board["model"].tolist() == ["sharp", "naive"]
    assert board.loc[0, "brier"] == pytest.approx(0.04) and board.loc[1, "brier"] == pytest.approx(0.25)
    assert board.loc[0, "accuracy"] == 1.0 and bool(board.loc[0, "beats_benchmark"])
