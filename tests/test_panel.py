"""Panels stack series end to end; calendar features and appended future rows match real timestamps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _frames import coded_frame, decode

from forecast.config import WindowSpec
from forecast.data.panel import build_panel, calendar_values, fit_vocabularies, infer_step
from forecast.errors import InputError

ALL_CALENDAR = ("dayofweek", "dayofyear", "hour", "month")


def test_series_are_sorted_and_stacked_whatever_the_row_order():
    spec = WindowSpec(target="y", lookback=2, features=("f",), id_col="id")
    panel = build_panel(coded_frame([5, 3, 4], shuffle_rows=True), spec)
    assert panel.series == ["s0", "s1", "s2"]
    assert panel.offsets.tolist() == [0, 5, 8, 12] and panel.n_observed.tolist() == [5, 3, 4]
    series, rows = decode(panel.values[:, 0])
    np.testing.assert_array_equal(series, panel.series_of_row())
    np.testing.assert_array_equal(rows, np.concatenate([np.arange(5), np.arange(3), np.arange(4)]))
    assert panel.columns == ("y", "f")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns="f"), "missing column"),
        (lambda f: f.assign(f="x"), "must be numeric"),
        (lambda f: f.reset_index(drop=True), "DatetimeIndex"),
        (lambda f: f.iloc[[0, 1, 1, 2]], "duplicate timestamp"),
        (lambda f: f.assign(id=f["id"].where(np.arange(len(f)) != 2)), "series id column 'id' is empty at row 3"),
        (lambda f: f.iloc[:0], "no rows"),
    ],
)
def test_bad_frames_fail_with_one_clear_line(change, message):
    spec = WindowSpec(target="y", lookback=2, features=("f",), id_col="id")
    with pytest.raises(InputError, match=message):
        build_panel(change(coded_frame([6])), spec, source="data.csv")


def test_calendar_sine_cosine_encodings():
    times = pd.DatetimeIndex(["2023-01-01 00:00", "2023-01-02 06:00", "2023-12-31 18:00", "2024-12-31 12:00"])
    enc = calendar_values(times, ALL_CALENDAR)  # [4, 8]
    angles = 2 * np.pi * np.column_stack([
        times.day_of_week / 7, (times.day_of_year - 1) / np.where(times.is_leap_year, 366, 365),
        times.hour / 24, (times.month - 1) / 12,
    ])
    np.testing.assert_allclose(enc[:, 0::2], np.sin(angles), atol=1e-6)
    np.testing.assert_allclose(enc[:, 1::2], np.cos(angles), atol=1e-6)
    np.testing.assert_allclose(enc[:, 0::2] ** 2 + enc[:, 1::2] ** 2, 1.0, atol=1e-6)
    # Sunday 2023-01-01 is day 6 of the week; 06:00 is a quarter of the day.
    np.testing.assert_allclose(enc[1, 4:6], [1.0, 0.0], atol=1e-6)


def test_day_of_year_wraps_smoothly_into_the_next_year():
    days = pd.date_range("2023-12-25", "2025-01-05", freq="D")  # a normal year, then a leap year
    enc = calendar_values(days, ("dayofyear",)).astype(np.float64)
    steps = np.linalg.norm(np.diff(enc, axis=0), axis=1)  # distance between consecutive days
    assert steps.max() - steps.min() < 1e-4  # no jump at December 31 -> January 1


def test_calendar_is_read_in_the_frames_own_time_zone():
    spec = WindowSpec(target="y", lookback=1, calendar=("hour", "dayofweek"), id_col="id")
    frame = coded_frame([48], freq="h", tz="America/New_York")
    panel = build_panel(frame, spec)
    local = frame.index
    np.testing.assert_allclose(panel.values[:, 1:], calendar_values(local, spec.calendar), atol=1e-6)
    assert panel.values[0, 1] == pytest.approx(0.0) and panel.values[0, 2] == pytest.approx(1.0)  # local midnight


@pytest.mark.parametrize(
    ("freq", "tz", "start"),
    [
        ("D", None, "2023-12-20"),  # across a year end
        ("h", None, "2024-02-28"),
        ("h", "Europe/Berlin", "2024-03-30"),  # across the spring daylight-saving change
        ("D", "America/New_York", "2024-10-30"),  # daily series across the autumn change
        ("B", None, "2024-01-01"),  # trading days: weekends skipped
        ("B", "America/New_York", "2024-03-01"),  # yfinance-like: local midnight, across DST
        ("min", None, "2024-01-01 23:00"),
        ("MS", None, "2020-01-01"),  # months of different lengths
        ("ME", "Europe/London", "2020-01-31"),
        ("QS", None, "2010-01-01"),
        ("YE", None, "1990-12-31"),
    ],
)
def test_appended_future_rows_match_the_real_timestamps_and_calendar(freq, tz, start):
    horizon = 7
    spec = WindowSpec(target="y", lookback=3, horizon=horizon, calendar=ALL_CALENDAR, id_col="id")
    frame = pd.concat([coded_frame([40], freq=freq, tz=tz, start=start),
                       coded_frame([25], freq=freq, tz=tz, start=start).assign(id="s1")])
    truth = build_panel(frame, spec)
    short = build_panel(_drop_last(frame, horizon), spec,
                        future_steps=horizon)
    assert short.lengths.tolist() == truth.lengths.tolist() and short.n_observed.tolist() == [33, 18]
    np.testing.assert_array_equal(short.times, truth.times)
    future = np.concatenate([np.arange(o - horizon, o) for o in short.offsets[1:]])
    assert np.isnan(short.values[future, 0]).all()
    np.testing.assert_allclose(short.values[future, 1:], truth.values[future, 1:], atol=1e-6)
    np.testing.assert_array_equal(short.timestamps(future), truth.timestamps(future))


def _drop_last(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    """Each series without its last n rows."""
    keep = frame.groupby("id").cumcount(ascending=False) >= n
    return frame[keep.to_numpy()]


def test_trading_days_are_recognised_and_extrapolated_over_weekends():
    days = pd.bdate_range("2024-01-01", periods=30)
    offsets = np.array([0, 30])
    assert infer_step(days.to_numpy(), offsets)[0] == "business"
    assert infer_step(pd.date_range("2024-01-01", periods=30).to_numpy(), offsets)[0] == "fixed"
    spec = WindowSpec(target="y", lookback=2, horizon=3)
    frame = pd.DataFrame({"y": np.arange(10.0)}, index=pd.bdate_range("2024-01-01", periods=10))  # ends on a Friday
    panel = build_panel(frame, spec, future_steps=3)
    assert [str(t.date()) for t in panel.timestamps(np.arange(10, 13))] == ["2024-01-15", "2024-01-16", "2024-01-17"]


def test_categories_unseen_in_training_get_code_zero():
    spec = WindowSpec(target="y", lookback=1, categorical=("cat",), id_col="id")
    frame = coded_frame([6])
    vocab = fit_vocabularies(frame.iloc[:3], ["cat"])
    assert vocab == {"cat": ["a", "b"]}
    frame.iloc[5, frame.columns.get_loc("cat")] = "c"
    panel = build_panel(frame, spec, vocabularies=vocab)
    assert panel.codes[:, 0].tolist() == [1, 2, 2, 1, 2, 0]
    with pytest.raises(InputError, match="vocabulary"):
        build_panel(frame, spec)
