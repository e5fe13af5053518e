"""Issue 14: gaps mean one thing. fit, predict and backtest (and the API) lay every series on its own
regular calendar (forecast.data.gaps), so no window stretches over missing hours: seasonal naive with a
season of 24 looks back 24 hours, never 24 rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast import WindowSpec
from forecast.data.panel import build_panel
from forecast.data.windows import make_windows
from forecast.evaluate import backtest
from tests._cli_data import run_cli

GAP = slice(24 * 18 + 3, 24 * 18 + 8)  # 5 missing hours on day 19, inside the last 72 hours


def hourly_with_gap() -> pd.DataFrame:
    """20 days of an hourly series that repeats every 24 hours exactly (y = hour of day + 0.5), hours GAP removed."""
    stamps = pd.date_range("2024-01-01", periods=24 * 20, freq="h", name="timestamp")
    frame = pd.DataFrame({"y": stamps.hour + 0.5}, index=stamps)
    return frame.drop(index=stamps[GAP])


def day_before(stamps: pd.Series) -> np.ndarray:
    """The value of the periodic series 24 hours before each timestamp (the right seasonal-naive forecast)."""
    return (pd.DatetimeIndex(stamps) - pd.Timedelta(hours=24)).hour.to_numpy() + 0.5


def test_windows_never_span_a_gap():
    frame = hourly_with_gap()
    spec = WindowSpec(target="y", lookback=24, horizon=1)
    panel = build_panel(frame, spec)
    assert len(panel.times) == 24 * 20 and np.isnan(panel.values[GAP, 0]).all()  # the calendar, holes as NaN
    windows = make_windows(panel, spec)
    first = panel.times[windows.origins - spec.lookback + 1]
    target = panel.times[windows.origins + spec.horizon]
    assert ((target - first) == np.timedelta64(24, "h")).all()  # 25 consecutive hours in every window
    touching = (windows.origins + 1 > GAP.start - 1) & (windows.origins - 23 < GAP.stop)
    assert not touching.any() and len(windows) == 24 * 20 - 24 - (5 + 24)


def test_lag_model_is_not_trained_on_windows_across_the_gap():
    from forecast.models import registry

    model = registry.build("ridge").fit(hourly_with_gap(), WindowSpec(target="y", lookback=24, horizon=1))
    assert model.n_training_windows_ == 24 * 20 - 24 - (5 + 24)  # stretched windows would add 29 more


def test_backtest_seasonal_naive_looks_back_24_hours_not_24_rows():
    result = backtest(["seasonal_naive"], hourly_with_gap(), WindowSpec(target="y", lookback=24, horizon=1),
                      test_size=72, progress=False)
    ours = result.forecasts[result.forecasts["model"] == "seasonal_naive"]
    assert len(ours) == 72 - (5 + 24)  # origins whose window or target touches the gap are not scored
    np.testing.assert_array_equal(ours["forecast"].to_numpy(), day_before(ours["timestamp"]))
    assert result.leaderboard.set_index("model").loc["seasonal_naive", "mae"] == 0.0


def _run(argv, capsys):
    code, _, err = run_cli(argv, capsys)
    return code, err


def test_fit_predict_and_backtest_follow_one_calendar(tmp_path, capsys):
    data = tmp_path / "hourly.csv"
    hourly_with_gap().reset_index().to_csv(data, index=False)
    note = (f"forecast: note: {data}: 1 gaps in a regular 0 days 01:00:00 calendar; first after 2024-01-19 02:00:00 "
            "(next is 2024-01-19 08:00:00); 5 missing steps count as empty rows: no window that spans one is "
            "trained on, scored or forecast from")
    common = ["--lookback", "24", "--no-progress"]
    code, err = _run(["fit", str(data), "--target", "y", "--model", "seasonal_naive", *common,
                      "--out", str(tmp_path / "m")], capsys)
    assert code == 0 and err == [note], err
    code, err = _run(["predict", "--model", str(tmp_path / "m"), str(data), "--origin", "all", "--no-progress",
                      "--out", str(tmp_path / "f.csv")], capsys)
    assert code == 0 and err[0] == note and len(err) == 2, err  # plus the count of skipped windows
    code, err = _run(["backtest", str(data), "--target", "y", "--models", "seasonal_naive", "--test-size", "72",
                      "--no-plots", *common, "--out", str(tmp_path / "bt")], capsys)
    assert code == 0 and err[0] == note, err

    predicted = pd.read_csv(tmp_path / "f.csv", parse_dates=["origin", "timestamp"])
    np.testing.assert_array_equal(predicted["forecast"].to_numpy(), day_before(predicted["timestamp"]))
    tested = pd.read_csv(tmp_path / "bt" / "forecasts.csv", parse_dates=["origin", "timestamp"])
    tested = tested[tested["model"] == "seasonal_naive"]
    same = tested.merge(predicted, on=["origin", "timestamp", "step"], suffixes=("_backtest", "_predict"))
    assert len(same) == len(tested) == 72 - (5 + 24)
    np.testing.assert_array_equal(same["forecast_backtest"], same["forecast_predict"])


@pytest.mark.parametrize("policy", ["ffill", "interpolate"])
def test_missing_fill_policies_fill_skipped_hours_too(tmp_path, capsys, policy):
    data = tmp_path / "hourly.csv"
    hourly_with_gap().reset_index().to_csv(data, index=False)
    code, err = _run(["backtest", str(data), "--target", "y", "--models", "seasonal_naive", "--test-size", "72",
                      "--lookback", "24", "--no-plots", "--no-progress", "--missing", policy,
                      "--out", str(tmp_path / "bt")], capsys)
    assert code == 0, err
    assert err[0] == (f"forecast: note: {data}: filled 5 missing values ({policy}), 5 skipped timestamps of a "
                      "regular calendar added as rows first"), err
    tested = pd.read_csv(tmp_path / "bt" / "forecasts.csv")
    assert (tested["model"] == "seasonal_naive").sum() == 72  # every origin has a full window now


def test_sessions_and_mixed_steps_are_not_filled_with_invented_rows():
    from forecast.data.gaps import regularize

    # Hourly bars 09:00-15:00 on weekdays: a session calendar, not an hourly calendar with holes.
    days = pd.bdate_range("2024-01-01", periods=20)
    bars = pd.DatetimeIndex([d + pd.Timedelta(hours=h) for d in days for h in range(9, 16)])
    assert regularize(pd.DataFrame({"y": 1.0}, index=bars), None)[1] == 0
    # A daily series beside hourly ones keeps its own rows (no 23 invented hours a day); the hourly gap is filled.
    hourly = hourly_with_gap().assign(site="h")
    daily = pd.DataFrame({"y": 1.0, "site": "d"}, index=pd.date_range("2024-01-01", periods=20, freq="D"))
    both = pd.concat([daily, hourly]).rename_axis("timestamp")
    regular, added = regularize(both, "site")
    assert added == 5 and (regular["site"] == "d").sum() == 20


def test_bundled_data_gets_the_same_one_gap_note(tmp_path, capsys):
    code, err = _run(["backtest", "nyc-weather-hourly", "--target", "temperature", "--models", "seasonal_naive",
                      "--lookback", "24", "--test-size", "48", "--no-plots", "--no-progress",
                      "--out", str(tmp_path / "bt")], capsys)
    assert code == 0, err
    gap_notes = [line for line in err if "gaps in a regular" in line]
    assert gap_notes == ["forecast: note: nyc-weather-hourly: 29 gaps in a regular 0 days 01:00:00 calendar; first "
                         "after 2013-01-01 16:00:00+00:00 in series 'EWR' (next is 2013-01-01 18:00:00+00:00); 32 "
                         "missing steps count as empty rows: no window that spans one is trained on, scored or "
                         "forecast from"], err
