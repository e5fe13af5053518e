"""load_table: time-column detection, validation errors that name file/column/row, missing-value policies."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecast.data.sources.files import load_table
from forecast.errors import DataWarning, InputError


def _write(tmp_path, text: str, name: str = "data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _clean(function, *args, **kwargs):
    """Call with every warning turned into an error: a clean file loads silently."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return function(*args, **kwargs)


def test_wide_csv_is_indexed_by_its_date_column(tmp_path):
    path = _write(tmp_path, "date,temp,label\n2020-01-01,1.5,sun\n2020-01-02,2.5,rain\n2020-01-03,,sun\n")
    with pytest.raises(InputError):
        load_table(path)  # a missing value, default policy: error
    path = _write(tmp_path, "date,temp,label\n2020-01-01,1.5,sun\n2020-01-02,2.5,rain\n")
    frame = _clean(load_table, path)
    assert frame.index.name == "date" and frame.index[0] == pd.Timestamp("2020-01-01")
    assert frame["temp"].dtype == "float64" and frame["label"].tolist() == ["sun", "rain"]


def test_time_column_found_by_content(tmp_path):
    path = _write(tmp_path, "when,x\n2020-01-01T00:00,1\n2020-01-01T01:00,2\n2020-01-01T02:00,3\n")
    assert _clean(load_table, path).index.name == "when"


def test_zoned_timestamps_become_utc(tmp_path):
    # Europe's spring-forward night: three consecutive UTC hours under two offsets.
    path = _write(tmp_path, "timestamp,x\n2020-03-29T00:00:00+01:00,1\n2020-03-29T01:00:00+01:00,2\n"
                            "2020-03-29T03:00:00+02:00,3\n")
    frame = _clean(load_table, path)
    assert str(frame.index.tz) == "UTC"
    assert list(frame.index.hour) == [23, 0, 1]


def test_mixed_zoned_and_naive_is_an_error(tmp_path):
    path = _write(tmp_path, "timestamp,x\n2020-01-01T00:00:00Z,1\n2020-01-01T01:00:00,2\n")
    with pytest.raises(InputError, match=r"column 'timestamp' row 2: '2020-01-01T01:00:00' has no UTC offset"):
        load_table(path)


def test_long_file_sorted_by_id_then_time(tmp_path):
    path = _write(tmp_path, "date,ticker,close\n2020-01-01,B,1\n2020-01-01,A,2\n2020-01-02,B,3\n2020-01-02,A,4\n")
    frame = _clean(load_table, path, id_col="ticker")
    assert frame["ticker"].tolist() == ["A", "A", "B", "B"]
    assert frame["close"].tolist() == [2.0, 4.0, 1.0, 3.0]


def test_parquet_roundtrip(tmp_path):
    frame = pd.DataFrame({"date": pd.date_range("2020-01-01", periods=4), "x": [1.0, 2, 3, 4]})
    frame.to_parquet(tmp_path / "d.parquet")
    loaded = _clean(load_table, tmp_path / "d.parquet")
    assert loaded.index.name == "date" and loaded["x"].tolist() == [1.0, 2, 3, 4]


def test_parquet_with_its_time_index_as_written_by_fetch(tmp_path):
    from forecast.io import write_table

    frame = pd.DataFrame({"ticker": ["A", "A", "B"], "close": [1.0, 2.0, 3.0]},
                         index=pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-02"], name="date"))
    write_table(frame, tmp_path / "p.parquet", index=True)
    loaded = _clean(load_table, tmp_path / "p.parquet", id_col="ticker")
    pd.testing.assert_frame_equal(loaded, frame, check_index_type=False)


def test_bundled_panel_loads_like_the_datasets_module(seattle):
    from forecast import datasets

    frame = _clean(load_table, datasets.path("seattle-weather"))
    pd.testing.assert_frame_equal(frame, seattle, check_index_type=False, check_freq=False)


@pytest.mark.parametrize(("text", "kwargs", "message"), [
    ("", {}, "file is empty"),
    ("date,x\n", {}, "has a header but no data rows"),
    ("a,b\n1,2\n3,4\n", {}, "no time column found"),
    ("date,x\n2020-01-01,1\n", {"time_col": "when"}, "no column 'when'; columns are date, x"),
    ("date,x\n2020-01-01,1\n2020-01-02,2\n", {"id_col": "station"}, "no id column 'station'"),
    ("date,x\n2020-01-01,1\nJan 2 2020 maybe,2\n", {}, r"column 'date' row 2: 'Jan 2 2020 maybe' is not a timestamp"),
    ("date,x\n2020-01-01,1\n,2\n", {}, r"column 'date' row 2: is empty"),
    ("date,x\n2020-01-01,1\n2020-01-02,2\n2020-01-01,3\n", {},
     r"row 3: duplicate timestamp 2020-01-01 00:00:00 \(also row 1; 1 duplicates\); if the file holds several"),
    ("date,x\n2020-01-02,1\n2020-01-01,2\n", {}, r"row 2: 2020-01-01 00:00:00 comes before row 1's .*sort=True"),
    ("date,x\n2020-01-01,1.5\n2020-01-02,2.x\n2020-01-03,3\n", {}, r"column 'x' row 2: '2.x' is not a number"),
    ("date,x,y\n2020-01-01,1,\n2020-01-02,2,\n", {}, r"column 'y' is empty in every row"),
    ("date,x\n2020-01-01,1\n2020-01-02,\n", {}, r"column 'x' at 2020-01-02 00:00:00: missing value .*missing='drop'"),
    ("date,x\n2020-01-01,1\n2020-01-02,2,3\n", {}, r"malformed CSV"),
])
def test_bad_files_fail_with_one_line_naming_the_place(tmp_path, text, kwargs, message):
    path = _write(tmp_path, text)
    with pytest.raises(InputError, match=message) as info:
        load_table(path, **kwargs)
    line = str(info.value)
    assert "\n" not in line and line.startswith(str(path))


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"nope.csv: file not found"):
        load_table(tmp_path / "nope.csv")


def test_non_utf8_file(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("date,city\n2020-01-01,Z\u00fcrich\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin.csv: not UTF-8 .*re-save it as UTF-8"):
        load_table(path)


def test_unsupported_extension(tmp_path):
    with pytest.raises(InputError, match=r"unsupported extension '.xlsx'"):
        load_table(_write(tmp_path, "x", "data.xlsx"))


def test_duplicate_in_long_file_names_the_series(tmp_path):
    path = _write(tmp_path, "date,id,x\n2020-01-01,a,1\n2020-01-01,b,1\n2020-01-01,b,2\n")
    with pytest.raises(InputError, match=r"row 3: duplicate timestamp .* in series 'b' \(also row 2"):
        load_table(path, id_col="id")


def test_unsorted_can_be_sorted_with_a_warning(tmp_path):
    path = _write(tmp_path, "date,x\n2020-01-02,2\n2020-01-01,1\n2020-01-03,3\n")
    with pytest.warns(DataWarning, match="sorted 1 out-of-order rows"):
        frame = load_table(path, sort=True)
    assert frame["x"].tolist() == [1.0, 2.0, 3.0] and frame.index.is_monotonic_increasing


HOLES = "date,id,x,label\n" + "\n".join([
    "2020-01-01,a,,sun", "2020-01-02,a,2,", "2020-01-03,a,,rain", "2020-01-04,a,6,sun",
    "2020-01-01,b,10,sun", "2020-01-02,b,,sun", "2020-01-04,b,40,sun", "2020-01-05,b,,fog"]) + "\n"


@pytest.mark.filterwarnings("ignore:.*gaps in a regular")
def test_missing_drop(tmp_path):
    with pytest.warns(DataWarning, match="dropped 5 rows with missing values"):
        frame = load_table(_write(tmp_path, HOLES), id_col="id", missing="drop")
    assert frame["x"].tolist() == [6.0, 10.0, 40.0]


@pytest.mark.filterwarnings("ignore:.*gaps in a regular")
def test_missing_ffill_stays_inside_each_series(tmp_path):
    # Gaps mean one thing (issue 14): b's skipped 2020-01-03 is a missing row, filled like the empty cells.
    with pytest.warns(DataWarning, match=r"filled 6 missing values \(ffill\), 1 skipped timestamps of a regular "
                                         r"calendar added as rows first; dropped 1 rows at series edges"):
        frame = load_table(_write(tmp_path, HOLES), id_col="id", missing="ffill")
    assert frame["x"].tolist() == [2.0, 2.0, 6.0, 10.0, 10.0, 10.0, 40.0, 40.0]  # a's first row had nothing before it
    assert frame.loc[frame["id"] == "a", "label"].tolist() == ["sun", "rain", "sun"]


@pytest.mark.filterwarnings("ignore:.*gaps in a regular")
def test_missing_interpolate_is_linear_in_time_within_series(tmp_path):
    with pytest.warns(DataWarning, match="interpolate"):
        frame = load_table(_write(tmp_path, HOLES), id_col="id", missing="interpolate")
    b = frame[frame["id"] == "b"]["x"]
    assert b.tolist() == [10.0, 20.0, 30.0, 40.0]  # linear from 01-01 to 01-04; skipped 01-03 filled too
    a = frame[frame["id"] == "a"]["x"]
    assert a.tolist() == [2.0, 4.0, 6.0]  # leading hole dropped, never filled from series b


def test_gap_in_regular_calendar_is_reported(tmp_path):
    text = "timestamp,x\n" + "\n".join(f"2020-01-01T{h:02d}:00,{h}" for h in (0, 1, 2, 5, 6, 7)) + "\n"
    with pytest.warns(DataWarning, match=r"1 gaps in a regular 0 days 01:00:00 calendar; first after "
                                         r"2020-01-01 02:00:00 \(next is 2020-01-01 05:00:00\)"):
        load_table(_write(tmp_path, text))


def test_gap_in_a_long_file_names_the_series(tmp_path):
    text = "date,id,x\n" + "\n".join(
        [f"2020-01-0{d},a,{d}" for d in range(1, 6)] + [f"2020-01-0{d},b,{d}" for d in (1, 2, 4, 5)]) + "\n"
    with pytest.warns(DataWarning, match=r"1 gaps .* first after 2020-01-02 00:00:00 in series 'b'"):
        load_table(_write(tmp_path, text), id_col="id")


def test_trading_days_are_not_gaps(tmp_path):
    days = pd.bdate_range("2020-01-01", periods=30)
    text = "date,close\n" + "\n".join(f"{d.date()},{i}" for i, d in enumerate(days)) + "\n"
    _clean(load_table, _write(tmp_path, text))


def test_unknown_missing_policy(tmp_path):
    with pytest.raises(InputError, match="missing='zero' is not one of error, drop, ffill, interpolate"):
        load_table(_write(tmp_path, "date,x\n2020-01-01,1\n"), missing="zero")


def test_large_file_is_fast(tmp_path):
    """200k rows x 20 series with a bad value near the end: found by vectorized checks, not a Python loop."""
    import time

    n, series = 200_000, 20
    stamps = pd.date_range("2000-01-01", periods=n // series, freq="h").strftime("%Y-%m-%dT%H:%M")
    frame = pd.DataFrame({"timestamp": np.tile(stamps, series), "id": np.repeat(np.arange(series), n // series),
                          "x": np.random.default_rng(0).normal(size=n).round(3).astype(str)})
    frame.loc[n - 7, "x"] = "n/a?"
    frame.to_csv(tmp_path / "big.csv", index=False)
    began = time.perf_counter()
    with pytest.raises(InputError, match=rf"column 'x' row {n - 6}: 'n/a\?' is not a number"):
        load_table(tmp_path / "big.csv", id_col="id")
    assert time.perf_counter() - began < 5


# Hypothesis: a good file with one injected defect must always fail with a one-line InputError that names the
# file and the defect's row.
GOOD_DAYS = pd.date_range("2021-01-01", periods=40, freq="D")


@st.composite
def broken_csv(draw):
    n = draw(st.integers(min_value=3, max_value=40))
    values = draw(st.lists(st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), min_size=n, max_size=n))
    dates = [str(d.date()) for d in GOOD_DAYS[:n]]
    cells = [repr(v) for v in values]
    row = draw(st.integers(min_value=1, max_value=n - 1))  # 0-based position of the bad row (never the first)
    defect = draw(st.sampled_from(["bad_time", "duplicate", "unsorted", "text_value", "empty_time"]))
    if defect == "bad_time":
        dates[row] = draw(st.sampled_from(["2021-13-45", "yesterday", "2021/02/30", "12:00 noon", "0x7e5"]))
    elif defect == "duplicate":
        dates[row] = dates[row - 1]
    elif defect == "unsorted":
        dates[row] = str((GOOD_DAYS[0] - pd.Timedelta(days=draw(st.integers(1, 400)))).date())
    elif defect == "text_value":
        cells[row] = draw(st.from_regex(r"[a-zA-Z?][a-zA-Z ?!]{0,8}", fullmatch=True).filter(
            lambda s: s.strip().lower() not in {"nan", "inf", "infinity", "null", "na", "n", "none", ""}))
    else:
        dates[row] = ""
    text = "date,value\n" + "\n".join(f"{d},{c}" for d, c in zip(dates, cells, strict=True)) + "\n"
    return text, defect, row + 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=broken_csv())
def test_generated_bad_csvs_are_rejected_with_the_row(tmp_path, case):
    text, defect, row = case
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_table(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: column ")
    rows = [int(r) for r in re.findall(r"row (\d+)", message)]
    assert row in rows, (defect, message)
