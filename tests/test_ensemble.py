"""Ensembles (issue 18): mean / median / stacked of named members; stacked weights are non-negative and
fitted on held-back forecasts before the test part only; the name syntax works in Python and the CLI
and a malformed name is one line. Conformance (no look-ahead, clone, panels, transforms) is
tests/test_conformance.py's, for the registered ensemble_mean / ensemble_median / ensemble_stacked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _cli_data import long_frame
from scipy.optimize import nnls

from forecast.config import WindowSpec
from forecast.errors import InputError
from forecast.models import registry
from forecast.models.naive import Drift, Naive, SeasonalNaive

SPEC = WindowSpec("y", lookback=7, horizon=2)


def _seasonal(n: int = 150) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    t = np.arange(n)
    return pd.DataFrame({"y": 10 + 3 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 0.2, n)},
                        index=pd.date_range("2021-01-01", periods=n, freq="D", name="date"))


def test_mean_and_median_combine_the_members_row_by_row():
    frame = _seasonal()
    members = [registry.build(n).fit(frame, SPEC).predict(frame, origin="all")["forecast"].to_numpy()
               for n in ("naive", "seasonal_naive", "drift")]
    mean = registry.build("ensemble_mean:naive+seasonal_naive+drift").fit(frame, SPEC).predict(frame, origin="all")
    median = registry.build("ensemble_median:naive+seasonal_naive+drift").fit(frame, SPEC).predict(frame, origin="all")
    np.testing.assert_allclose(mean["forecast"], np.mean(members, axis=0))
    np.testing.assert_allclose(median["forecast"], np.median(members, axis=0))


def test_stacked_weights_are_nnls_on_held_back_forecasts_only():
    """The weights are non-negative least squares of the actuals of the last 20% of the training rows on
    the forecasts of members fitted before them; rows after the training frame never matter."""
    frame = _seasonal()
    train = frame.iloc[:120]
    model = registry.build("ensemble_stacked:naive+seasonal_naive+drift").fit(train, SPEC)
    weights = model.weights_
    assert (weights >= 0).all() and weights.argmax() == 1  # the seasonal member explains a weekly cycle

    times = train.index
    cut = times[-int(len(times) * 0.2)]
    early = train[train.index < cut]
    columns = []
    for member in (Naive(), SeasonalNaive(), Drift()):
        out = member.fit(early, SPEC).predict(train, origin="all")
        columns.append(out[out["origin"] >= early.index.max()].set_index(["origin", "step"])["forecast"])
    held = pd.concat(columns, axis=1).dropna()
    actual = train["y"].reindex(held.index.get_level_values("origin")
                                + pd.to_timedelta(held.index.get_level_values("step"), unit="D")).to_numpy()
    keep = np.isfinite(actual)
    expected, _ = nnls(held.to_numpy()[keep], actual[keep])
    np.testing.assert_allclose(weights, expected, rtol=1e-9)

    poisoned = frame.copy()
    poisoned.iloc[120:, 0] = 1e9  # the test part, however wild, is not what the weights were fitted on
    refit = registry.build("ensemble_stacked:naive+seasonal_naive+drift").fit(poisoned.iloc[:120], SPEC)
    np.testing.assert_array_equal(refit.weights_, weights)
    before = model.predict(train, origin="all")
    after = model.predict(poisoned, origin="all")
    pd.testing.assert_frame_equal(after[after["origin"] < frame.index[120]].reset_index(drop=True), before)


def test_shared_settings_reach_the_members():
    model = registry.build("ensemble_mean:ridge+gru", shared={"max_epochs": 1, "seed": 3, "alpha": 2.0})
    params = model.get_params()
    assert params["gru__max_epochs"] == 1 and params["gru__seed"] == 3
    assert params["ridge__estimator__alpha"] == 2.0
    assert [name for name, _ in model.members] == ["ridge", "gru"]


def test_member_names_with_a_plus_are_found():
    model = registry.build("ensemble_median:naive+lstm_state+ridge")
    assert [name for name, _ in model.members] == ["naive", "lstm_state+ridge"]


@pytest.mark.parametrize("name, message", [
    ("ensemble_mean:naive", "two or more different registered models"),
    ("ensemble_mode:naive+drift", r"ensemble_<mean\|median\|stacked>"),
    ("ensemble_mean:naive+naive", "two or more different"),
    ("ensemble_mean:naive+arima", "unknown member"),
])
def test_a_malformed_ensemble_name_is_one_clear_error(name, message):
    with pytest.raises(InputError, match=message):
        registry.build(name)


def test_cli_backtests_an_ensemble_and_rejects_a_bad_one(tmp_path, capsys):
    from forecast.cli import main

    path = tmp_path / "data.csv"
    long_frame(n_series=2, n_rows=80).to_csv(path, index=False)
    common = [str(path), "--id-col", "site", "--target", "y", "--lookback", "7", "--no-plots", "--threads", "1"]
    code = main(["backtest", *common, "--models", "ensemble_stacked:seasonal_naive+drift,drift",
                 "--out", str(tmp_path / "run")])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "ensemble_stacked:seasonal_naive+drift" in out.out
    board = pd.read_csv(tmp_path / "run" / "leaderboard.csv")
    assert "ensemble_stacked:seasonal_naive+drift" in set(board["model"])

    code = main(["backtest", *common, "--models", "ensemble_mean:drift", "--out", str(tmp_path / "bad")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("forecast: error: ensemble 'ensemble_mean:drift'")
