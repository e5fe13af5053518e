"""One significance convention everywhere (issue 14, item 13).

Every leaderboard (backtest and sweep, CSV and printed) shows one-sided Diebold-Mariano p-values named
for their claim (dm_p_better, dm_p_worse), the loss they compare (dm_loss, matching the ranking metric)
and a verdict derived from those very p-values, so a printed p can never contradict the verdict.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from forecast.cli import main
from forecast.leaderboard import ALPHA, DM_COLUMNS, build_leaderboard, dm_legend, summarize
from forecast.metrics import join_actuals
from forecast.significance import diebold_mariano


@pytest.fixture(scope="module")
def walk() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    idx = pd.date_range("2020-01-01", periods=300, freq="D", name="date")
    return pd.DataFrame({"y": 100 + np.cumsum(rng.normal(size=300))}, index=idx)


def _forecasts(walk: pd.DataFrame, noise: float, seed: int, oracle: float = 0.0) -> pd.DataFrame:
    """One-step forecasts from origins 200..298: persistence plus noise, pulled `oracle` toward the truth."""
    rng = np.random.default_rng(seed)
    y = walk["y"].to_numpy()
    o = np.arange(200, 299)
    guess = y[o] + noise * rng.normal(size=o.size)
    return pd.DataFrame({"origin": walk.index[o], "timestamp": walk.index[o + 1], "step": 1,
                         "forecast": (1 - oracle) * guess + oracle * y[o + 1]})


@pytest.fixture(scope="module")
def forecasts(walk) -> dict[str, pd.DataFrame]:
    return {
        "naive": _forecasts(walk, 0.0, 0),
        "seer": _forecasts(walk, 0.0, 0, oracle=0.7),   # much better than persistence
        "junk": _forecasts(walk, 3.0, 2),               # much worse
        "close": _forecasts(walk, 0.05, 3),             # no evidence either way
    }


def test_verdict_is_derived_from_the_p_values_shown_beside_it(walk, forecasts):
    board = build_leaderboard(forecasts, walk, target="y").set_index("model")
    assert set(DM_COLUMNS) <= set(board.columns) and "dm_p_value" not in board  # no two-sided column
    assert board["verdict"].to_dict() == {"seer": "better", "naive": "benchmark", "close": "not significant",
                                          "junk": "worse"}
    for _, row in board.drop(index="naive").iterrows():
        assert (row["verdict"] == "better") == (row["dm_p_better"] < ALPHA)
        assert (row["verdict"] == "worse") == (row["dm_p_worse"] < ALPHA)
        assert row["beats_benchmark"] == (row["verdict"] == "better")
        assert row["dm_p_better"] + row["dm_p_worse"] == pytest.approx(1.0)
    # the p printed beside "worse" is the p of "worse" (small), never the p of "better" (about 1)
    text = summarize(board.reset_index())
    p_worse = board.loc["junk", "dm_p_worse"]
    assert f"Significantly worse than naive: junk (p_worse={p_worse:.3g})" in text and p_worse < ALPHA
    assert f"seer (p_better={board.loc['seer', 'dm_p_better']:.3g})" in text


@pytest.mark.parametrize("sort_by, loss", [("mase", "absolute"), ("mae", "absolute"), ("rmse", "squared")])
def test_dm_loss_matches_the_ranking_metric(walk, forecasts, sort_by, loss):
    board = build_leaderboard(forecasts, walk, target="y", sort_by=sort_by).set_index("model")
    assert set(board["dm_loss"]) == {loss}
    joined = join_actuals(forecasts, walk, target="y")
    errors = (joined["actual"] - joined["forecast"]).groupby(joined["model"]).apply(np.asarray)
    expected = diebold_mariano(errors["close"], errors["naive"], loss=loss)
    assert board.loc["close", "dm_p_better"] == pytest.approx(expected.p_value_better)
    assert board.loc["close", "dm_p_worse"] == pytest.approx(expected.p_value_worse)
    assert f"{loss}-error loss" in summarize(board.reset_index())


def test_an_explicit_loss_is_kept_and_named(walk, forecasts):
    board = build_leaderboard(forecasts, walk, target="y", sort_by="mae", loss="squared")
    assert set(board["dm_loss"]) == {"squared"}
    assert "on squared-error loss, although the ranking is by mae" in dm_legend(board)
    assert "matching the ranking by mae" in dm_legend(build_leaderboard(forecasts, walk, target="y", sort_by="mae"))


def _header_and_legend(out: str) -> tuple[list[str], str]:
    lines = out.splitlines()
    header = next(line for line in lines if line.split()[:2] == ["rank", "model"])
    legend = next(line for line in lines if line.startswith("dm_p_better / dm_p_worse"))
    return header.split(), legend


def test_backtest_and_sweep_print_the_same_convention(walk, forecasts, tmp_path, capsys, monkeypatch):
    data = tmp_path / "walk.csv"
    walk.to_csv(data)
    code = main(["backtest", str(data), "--target", "y", "--models", "drift,naive", "--lookback", "5",
                 "--out", str(tmp_path / "bt"), "--no-plots", "--no-progress"])
    assert code == 0
    backtest_header, backtest_legend = _header_and_legend(capsys.readouterr().out)

    # the sweep's printing, on a leaderboard the real evaluation would return (the search is faked)
    from forecast.sweeps import runner

    board = build_leaderboard(forecasts, walk, target="y")
    result = SimpleNamespace(n_complete=1, n_pruned=0, leaderboard=board, summary=summarize(board), files={})
    monkeypatch.setattr(runner, "optimize", lambda config, **kw: None)
    monkeypatch.setattr(runner, "evaluate_best", lambda config, study, *a, **kw: result)
    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump({"data": str(data), "spec": {"target": "y", "lookback": 5},
                                      "families": ["ridge"], "out_dir": str(tmp_path / "sw")}))
    assert main(["sweep", str(config), "--no-progress"]) == 0
    sweep_header, sweep_legend = _header_and_legend(capsys.readouterr().out)

    for header in (backtest_header, sweep_header):
        assert {"dm_p_better", "dm_p_worse", "verdict"} <= set(header)
        assert not {"dm_p", "dm_p_value", "beats_benchmark"} & set(header)
    assert backtest_legend == sweep_legend
    assert "one-sided Diebold-Mariano" in sweep_legend and "absolute-error loss" in sweep_legend
