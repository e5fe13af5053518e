"""The statsforecast models (issue 18): seasons from the time step, MSTL's continued seasonal profile, saving
refused, the missing-extra message and the CLI listing. Conformance (no look-ahead, clone, determinism,
panels, target transforms) is tests/test_conformance.py's, for every registered model."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from forecast.config import WindowSpec
from forecast.errors import InputError
from forecast.models import registry
from forecast.models.statistical import season_lengths


def _hourly(n: int) -> pd.DataFrame:
    t = np.arange(n)
    y = 10 + 3 * np.sin(2 * np.pi * t / 24) + 2 * np.sin(2 * np.pi * t / 168 + 1.0) + 0.002 * t
    return pd.DataFrame({"y": y}, index=pd.date_range("2024-01-01", periods=n, freq="h", name="time"))


def test_seasons_come_from_the_time_step():
    def seasons(freq: str, model: str, n: int = 400) -> tuple[int, ...]:
        times = pd.date_range("2024-01-01", periods=n, freq=freq).to_numpy()
        return season_lengths(times, np.array([0, n]), model)

    assert seasons("h", "mstl") == (24, 168)  # hourly weather: daily and weekly cycles
    assert seasons("h", "autoets") == (24,)
    assert seasons("D", "mstl") == (7, 365)
    assert seasons("D", "autoarima") == (7,)
    assert seasons("B", "mstl") == (5, 252)


def test_mstl_continues_both_seasonal_cycles_after_the_fit():
    """A noiseless daily + weekly cycle: MSTL, fit on the first 900 hours, forecasts the next hours (every
    origin after the fit, 24 steps ahead) far better than persistence; a wrong phase would not."""
    pytest.importorskip("statsforecast")
    frame = _hourly(1100)
    spec = WindowSpec("y", lookback=24, horizon=24)
    model = registry.build("mstl").fit(frame.iloc[:900], spec)
    assert model.seasons_ == (24, 168)
    out = model.predict(frame, origin="all")
    out = out[out["origin"] >= frame.index[900]]
    actual = frame["y"].reindex(out["timestamp"]).to_numpy()
    persistence = frame["y"].reindex(out["origin"]).to_numpy()
    assert np.isfinite(out["forecast"]).all()
    mae = np.nanmean(np.abs(out["forecast"].to_numpy() - actual))  # NaN: targets after the data
    assert mae < 0.1 * np.nanmean(np.abs(persistence - actual))


def test_max_history_caps_what_is_fitted():
    """Only the latest max_history rows are fitted: rows before them change nothing."""
    pytest.importorskip("statsforecast")
    frame = _hourly(400)
    spec = WindowSpec("y", lookback=24, horizon=3)
    changed = frame.copy()
    changed.iloc[:100, 0] = -50.0
    a = registry.build("autotheta", max_history=200).fit(frame, spec).predict(frame)
    b = registry.build("autotheta", max_history=200).fit(changed, spec).predict(changed)
    pd.testing.assert_frame_equal(a, b)


def test_statistical_models_refuse_to_save(tmp_path):
    pytest.importorskip("statsforecast")
    frame = _hourly(200)
    model = registry.build("autotheta").fit(frame, WindowSpec("y", lookback=24, horizon=2))
    with pytest.raises(InputError, match="autotheta cannot be saved .*pickle.*refit"):
        model.save(tmp_path / "model")
    assert not (tmp_path / "model").exists()
    assert not registry.get("autoets").saveable  # `forecast fit --model autoets` refuses before any work


def test_a_missing_extra_names_the_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "statsforecast", None)  # `import statsforecast` now raises ImportError
    model = registry.build("autoets")  # building needs nothing: `import forecast` works without the extra
    with pytest.raises(InputError, match=r"need statsforecast; install it with: pip install 'forecast\[stats\]'"):
        model.fit(_hourly(100), WindowSpec("y", lookback=24, horizon=1))


def test_cli_lists_the_statistical_models(capsys):
    from forecast.cli import main

    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    listed = {line.split()[0]: line for line in lines[1:]}
    for name in ("autoets", "autoarima", "autotheta", "mstl", "naive", "gru"):
        assert name in listed
    assert "forecast[stats]" in listed["mstl"] and "forecast[stats]" not in listed["naive"]


@pytest.mark.slow
def test_cli_backtests_a_statistical_model_origin_by_origin(tmp_path, capsys):
    """`--each-origin` forecasts each test origin from the data cut there (the statistical models run forward
    once per origin, so they forecast only those); the scores equal those of one predict over all origins."""
    pytest.importorskip("statsforecast")
    from _cli_data import long_frame

    from forecast.cli import main

    path = tmp_path / "data.csv"
    long_frame(n_series=2, n_rows=80).to_csv(path, index=False)
    common = [str(path), "--id-col", "site", "--target", "y", "--lookback", "7", "--horizon", "2",
              "--models", "autotheta", "--no-plots", "--threads", "1"]
    assert main(["backtest", *common, "--each-origin", "--out", str(tmp_path / "each")]) == 0
    assert main(["backtest", *common, "--out", str(tmp_path / "all")]) == 0
    capsys.readouterr()
    each = pd.read_csv(tmp_path / "each" / "leaderboard.csv").set_index("model")
    every = pd.read_csv(tmp_path / "all" / "leaderboard.csv").set_index("model")
    assert each.loc["autotheta", "n"] == every.loc["autotheta", "n"] > 0
    assert each.loc["autotheta", "mae"] == pytest.approx(every.loc["autotheta", "mae"], rel=1e-9)


def test_a_series_it_was_not_fitted_on_gets_nan_forecasts():
    """A panel series that starts after the training rows (a stock listed later) has no fitted model."""
    pytest.importorskip("statsforecast")
    a, b = _hourly(300).assign(site="a"), _hourly(300).assign(site="b")
    spec = WindowSpec("y", lookback=24, horizon=2, id_col="site")
    out = registry.build("autotheta").fit(a, spec).predict(pd.concat([a, b]))
    assert np.isfinite(out.loc[out["site"] == "a", "forecast"]).all()
    assert out.loc[out["site"] == "b", "forecast"].isna().all()
