"""fit -> predict through the command line, long-format batch prediction, origins, gaps and fill policies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import forecast
from forecast.cli import main
from forecast.data.gaps import fill_missing, regularize
from forecast.data.reading import read_data
from forecast.models.batch import SHORT, batch_predict
from tests._cli_data import HORIZON, LOOKBACK, long_frame, run_cli, tiny_model


@pytest.fixture(scope="module")
def panel_model():
    """A tiny LSTM trained on 4 series (S0..S3) of the long synthetic frame."""
    return tiny_model(long_frame(n_series=4))


def test_fit_then_predict_on_bundled_slice(tmp_path, capsys, seattle):
    data = tmp_path / "seattle.csv"
    seattle.iloc[-150:].reset_index().to_csv(data, index=False)  # extra columns temp_min, weather: noted
    model_dir = tmp_path / "model"
    code, out, err = run_cli(["fit", str(data), "--target", "temp_max", "--features", "precipitation,wind",
                           "--model", "gru", "--lookback", "10", "--horizon", "3", "--epochs", "1",
                           "--hidden-size", "4", "--quantiles", "0.1,0.5,0.9", "--no-progress",
                           "--out", str(model_dir)], capsys)
    assert code == 0, err
    assert f"forecast: note: {data}: ignoring 2 column(s) the model does not read: temp_min, weather" in err
    assert "best validation loss" in out and f"saved model to {model_dir}" in out
    assert {p.name for p in model_dir.iterdir()} == {"model.json", "weights.safetensors"}

    last = tmp_path / "last.csv"
    code, out, err = run_cli(["predict", "--model", str(model_dir), str(data), "--out", str(last), "--no-progress"],
                          capsys)
    assert code == 0, err
    got = pd.read_csv(last, parse_dates=["origin", "timestamp"])
    assert list(got.columns) == ["origin", "timestamp", "step", "forecast", "q0.1", "q0.5", "q0.9"]
    assert got["step"].tolist() == [1, 2, 3]
    assert (got["origin"] == pd.Timestamp("2015-12-31")).all()
    assert got["timestamp"].tolist() == list(pd.date_range("2016-01-01", periods=3, freq="D"))
    # The CLI's trimmed, chunked pass gives exactly what the Python API gives on the whole frame.
    model = forecast.load_model(model_dir)
    api = model.predict(read_data(data))
    np.testing.assert_allclose(got["forecast"], api["forecast"], rtol=1e-6)

    every = tmp_path / "all.parquet"
    assert main(["predict", "--model", str(model_dir), str(data), "--origin", "all", "--out", str(every),
                 "--no-progress"]) == 0
    all_rows = pd.read_parquet(every)
    assert len(all_rows) == (150 - 10 + 1) * 3 and all_rows["origin"].is_monotonic_increasing
    one = tmp_path / "one.csv"
    assert main(["predict", "--model", str(model_dir), str(data), "--origin", "2015-11-30", "--out", str(one),
                 "--no-progress"]) == 0
    at_date = pd.read_csv(one, parse_dates=["origin"])
    assert len(at_date) == 3 and (at_date["origin"] == pd.Timestamp("2015-11-30")).all()
    # Every origin in 'all' agrees with the single-origin runs (no look-ahead: rows after the origin unused).
    same = all_rows[all_rows["origin"] == pd.Timestamp("2015-11-30")]
    np.testing.assert_allclose(same["forecast"], at_date["forecast"], rtol=1e-6)
    capsys.readouterr()


def _defective_panel() -> pd.DataFrame:
    """S0, S1 fine; S2 too short; S3 a NaN in its last window; S4 a missing day in its last window;
    NEW a series the model never saw."""
    frame = long_frame(n_series=6, seed=1)
    frame["site"] = frame["site"].replace({"S5": "NEW"})
    frame = frame[~((frame["site"] == "S2") & (frame.index % 60 < 55))]  # 5 rows left < lookback 8
    frame.loc[(frame["site"] == "S3") & (frame["date"] == "2021-02-27"), "y"] = np.nan
    frame = frame[~((frame["site"] == "S4") & (frame["date"] == "2021-02-26"))]
    return frame.reset_index(drop=True)


def test_long_file_skips_bad_series_without_touching_the_others(panel_model, tmp_path, capsys):
    model_dir = tmp_path / "model"
    panel_model.save(model_dir)
    frame = _defective_panel()
    data = tmp_path / "sites.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "f.csv"
    code, stdout, err = run_cli(["predict", "--model", str(model_dir), str(data), "--out", str(out),
                              "--batch-size", "2", "--no-progress"], capsys)  # 2 windows a pass: 3+ chunks
    assert code == 0, err
    assert len(err) == 2, err  # one note on the gap (issue 14: the calendar policy is said once), one on skips
    assert err[0] == (f"forecast: note: {data}: 1 gaps in a regular 1 days 00:00:00 calendar; first after "
                      "2021-02-25 00:00:00 in series 'S4' (next is 2021-02-27 00:00:00); 1 missing steps count as "
                      "empty rows: no window that spans one is trained on, scored or forecast from")
    assert err[1] == ("forecast: note: skipped 3 of 6 series: 1 too short for lookback 8 (S2); "
                      "2 missing values or time gaps (S3, S4); --fill ffill|interpolate fills holes")
    got = pd.read_csv(out, parse_dates=["origin", "timestamp"])
    assert list(got.columns) == ["site", "origin", "timestamp", "step", "forecast"]
    assert sorted(got["site"].unique()) == ["NEW", "S0", "S1"]
    assert len(got) == 3 * HORIZON and "for 3 series" in stdout
    # Forecasts of the good series are the same as when they are predicted alone.
    alone = panel_model.predict(frame[frame["site"].isin(["S0", "S1", "NEW"])].set_index("date"))
    np.testing.assert_allclose(got["forecast"], alone["forecast"], rtol=1e-6)


@pytest.mark.parametrize("fill", ["ffill", "interpolate"])
def test_fill_policy_forecasts_series_with_holes(panel_model, fill):
    frame = _defective_panel().set_index("date")
    frame.attrs["source"] = "sites.csv"
    result = batch_predict(panel_model, frame, fill=fill)
    assert result.skipped == {SHORT: ["S2"]}
    assert result.rows_inserted == 1 and result.values_filled == 3  # S3's NaN y; S4's inserted y and x
    s4 = result.forecasts[result.forecasts["site"] == "S4"]
    assert (s4["origin"] == pd.Timestamp("2021-03-01")).all() and len(s4) == HORIZON


def test_origin_date_and_all_on_a_panel(panel_model):
    frame = long_frame(n_series=3, seed=2).set_index("date")
    at = batch_predict(panel_model, frame, origin="2021-02-01")
    assert len(at.forecasts) == 3 * HORIZON and (at.forecasts["origin"] == pd.Timestamp("2021-02-01")).all()
    every = batch_predict(panel_model, frame, origin="all", batch_size=64)  # 3 chunks
    assert len(every.forecasts) == 3 * (60 - LOOKBACK + 1) * HORIZON and every.windows_dropped == 0
    same = every.forecasts[every.forecasts["origin"] == pd.Timestamp("2021-02-01")]
    np.testing.assert_allclose(same["forecast"].to_numpy(), at.forecasts["forecast"].to_numpy(), rtol=1e-6)
    early = batch_predict(panel_model, frame, origin="2021-01-03")  # before a full lookback exists
    assert early.n_forecast == 0 and early.skipped == {SHORT: ["S0", "S1", "S2"]}


def test_regularize_inserts_only_missing_steps_and_fill_stays_inside_each_series():
    frame = pd.DataFrame(
        {"site": ["a", "a", "a", "b", "b", "b"], "y": [1.0, 2.0, 4.0, 10.0, np.nan, 30.0]},
        index=pd.DatetimeIndex(["2021-01-01", "2021-01-02", "2021-01-04", "2021-01-01", "2021-01-02",
                                "2021-01-03"], name="date"),
    )
    regular, added = regularize(frame, "site")
    assert added == 1
    assert regular.index[:4].strftime("%d").tolist() == ["01", "02", "03", "04"]
    assert regular["site"].tolist() == ["a"] * 4 + ["b"] * 3 and np.isnan(regular["y"].iloc[2])
    linear, n = fill_missing(regular, "site", ["y"], "interpolate")
    assert n == 2 and linear["y"].tolist() == [1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0]
    carried, _ = fill_missing(regular, "site", ["y"], "ffill")
    assert carried["y"].tolist() == [1.0, 2.0, 2.0, 4.0, 10.0, 10.0, 30.0]
    # A leading hole has nothing before it in its own series: it stays missing (never b <- a's value).
    lead = pd.DataFrame({"site": ["a", "b"], "y": [5.0, np.nan]},
                        index=pd.DatetimeIndex(["2021-01-01", "2021-01-01"]))
    assert np.isnan(fill_missing(lead, "site", ["y"], "ffill")[0]["y"].iloc[1])
    # Trading days are not gaps.
    weekdays = pd.DataFrame({"y": np.arange(10.0)}, index=pd.bdate_range("2021-01-04", periods=10))
    assert regularize(weekdays, None)[1] == 0


def test_every_command_has_help_with_an_example(capsys):
    for command in ("fit", "predict", "datasets"):
        with pytest.raises(SystemExit) as stop:
            main([command, "--help"])
        assert stop.value.code == 0
        assert f"forecast {command}" in capsys.readouterr().out.split("example")[1]


def test_predict_with_known_future_values_from_a_file(tmp_path, capsys, seattle):
    """A model fit with --known-future needs those values after the data: `predict --future FILE`."""
    frame = seattle.iloc[:200].copy()
    frame["holiday"] = (frame.index.day_of_week >= 5).astype(float)  # a "planned" covariate
    data, future_path = tmp_path / "data.csv", tmp_path / "future.csv"
    frame.iloc[:190].reset_index().to_csv(data, index=False)
    frame.iloc[190:193][["holiday"]].reset_index().to_csv(future_path, index=False)
    model_dir, out = tmp_path / "model", tmp_path / "forecasts.csv"
    code, _, err = run_cli(["fit", str(data), "--target", "temp_max", "--known-future", "holiday", "--model", "gru",
                         "--lookback", "7", "--horizon", "3", "--epochs", "1", "--no-progress",
                         "--out", str(model_dir)], capsys)
    assert code == 0, err

    code, _, err = run_cli(["predict", "--model", str(model_dir), str(data), "--out", str(out), "--no-progress"],
                        capsys)
    assert code == 2 and not out.exists()  # without the planned values the last origin cannot be forecast
    assert err[-1].startswith("forecast: error:") and "--future FILE" in err[-1], err

    code, _, err = run_cli(["predict", "--model", str(model_dir), str(data), "--future", str(future_path),
                         "--out", str(out), "--no-progress"], capsys)
    assert code == 0, err
    written = pd.read_csv(out, parse_dates=["origin", "timestamp"])
    model = forecast.load_model(model_dir)
    expected = model.predict(frame.iloc[:190], future=frame.iloc[190:193][["holiday"]])
    assert len(written) == 3
    np.testing.assert_allclose(written["forecast"].to_numpy(), expected["forecast"].to_numpy(), rtol=1e-6)
