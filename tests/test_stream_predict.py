"""Streaming batch prediction (`forecast predict --chunk-series N`): the same rows, notes, errors and exit codes
as the in-memory path, on unsorted multi-chunk files, with nothing at the output path until the end."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from forecast.errors import InputError
from forecast.models.streaming import model_forecaster, predict_file
from tests._cli_data import long_frame, run_cli, tiny_model

pytest.importorskip("duckdb")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A tiny LSTM trained on 4 series, saved."""
    path = tmp_path_factory.mktemp("stream") / "model"
    tiny_model(long_frame(n_series=4)).save(path)
    return path


def _panel(n_series: int = 9) -> pd.DataFrame:
    """9 series with integer-looking ids: one too short (S2), one with a hole in its last window (S3),
    the others fine; rows shuffled, so no series is contiguous in the file."""
    frame = long_frame(n_series=n_series, n_rows=30, seed=3)
    frame = frame[~((frame["site"] == "S2") & (frame["date"] < "2021-01-25"))]  # 6 rows < lookback 8
    frame.loc[(frame["site"] == "S3") & (frame["date"] == "2021-01-29"), "y"] = np.nan
    return frame.sample(frac=1, random_state=0).reset_index(drop=True)


def _write(frame: pd.DataFrame, path):
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_streaming_equals_in_memory_row_for_row_on_an_unsorted_file(model_dir, tmp_path, capsys, suffix):
    data = _write(_panel(), tmp_path / f"sites{suffix}")
    base = ["predict", "--model", str(model_dir), str(data), "--sort", "--no-progress"]
    code, out_whole, err_whole = run_cli([*base, "--out", str(tmp_path / "whole.csv"), "--chunk-series", "0"], capsys)
    assert code == 0, err_whole
    code, out_stream, err_stream = run_cli([*base, "--out", str(tmp_path / "stream.csv"), "--chunk-series", "2"], capsys)
    assert code == 0, err_stream
    assert (tmp_path / "stream.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert out_stream.replace("stream.csv", "whole.csv") == out_whole  # same counts in the summary line
    skipped = [line for line in err_whole if "skipped" in line]
    assert skipped == [line for line in err_stream if "skipped" in line]
    assert "1 too short for lookback 8 (S2)" in skipped[0] and "(S3)" in skipped[0]
    sorting = [line for line in err_stream if "out-of-order" in line]  # once, not once per chunk
    assert len(sorting) == 1 and "(first chunk; 5 chunks had such rows)" in sorting[0], err_stream
    # Parquet output: the same table, one row group per chunk.
    run_cli([*base, "--out", str(tmp_path / "stream.parquet"), "--chunk-series", "4"], capsys)
    whole = pd.read_csv(tmp_path / "whole.csv", parse_dates=["origin", "timestamp"])
    streamed = pd.read_parquet(tmp_path / "stream.parquet")
    pd.testing.assert_frame_equal(streamed, whole, check_dtype=False)


def test_output_stays_a_temporary_file_until_the_end(model_dir, tmp_path):
    from forecast.models.loading import load_model

    model = load_model(model_dir)
    data = _write(_panel(), tmp_path / "sites.parquet")
    out = tmp_path / "f.csv"
    forecast = model_forecaster(model)
    seen = []

    def forecast_chunk(frame):
        seen.append(sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".f.csv.")))
        assert not out.exists()
        if len(seen) == 3:
            raise KeyboardInterrupt
        return forecast(frame)

    with pytest.raises(KeyboardInterrupt):
        predict_file(model, data, out, chunk_series=2, sort=True, forecast_chunk=forecast_chunk)
    assert [len(names) for names in seen] == [1, 1, 1]  # one temporary file, written chunk after chunk
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".f.csv.")]
    result = predict_file(model, data, out, chunk_series=2, sort=True)  # uninterrupted: renamed at the end
    assert out.exists() and result.rows_written == len(pd.read_csv(out)) == 7 * 3


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_bad_rows_fail_with_the_same_line_and_exit_code(model_dir, tmp_path, capsys, suffix):
    frame = _panel().astype({"y": "string"})
    frame.loc[17, "y"] = "n/a?"  # text in a numeric column, in the middle of the file
    data = _write(frame, tmp_path / f"bad{suffix}")
    runs = []
    for chunk in ("0", "2"):
        out = tmp_path / f"out{chunk}.csv"
        code, _, err = run_cli(["predict", "--model", str(model_dir), str(data), "--out", str(out), "--sort",
                             "--chunk-series", chunk], capsys)
        runs.append((code, [line for line in err if "error" in line]))
        assert not out.exists()
    assert runs[0] == runs[1]
    code, errors = runs[0]
    assert code == 2 and len(errors) == 1 and "row 18" in errors[0] and "'y'" in errors[0], errors


def _last_error_lines(model_dir, data, tmp_path, capsys) -> list[str]:
    """The last stderr line of predict on `data` read whole (--chunk-series 0) and streamed (3); both exit 2."""
    messages = []
    for chunk in ("0", "3"):
        code, _, err = run_cli(["predict", "--model", str(model_dir), str(data), "--out", str(tmp_path / "o.csv"),
                             "--sort", "--chunk-series", chunk], capsys)
        assert code == 2
        messages.append(err[-1])
    return messages


def test_duplicate_timestamp_and_empty_id_name_the_same_rows(model_dir, tmp_path, capsys):
    frame = _panel()
    frame = pd.concat([frame, frame.iloc[[5]]], ignore_index=True)  # last row repeats row 6
    messages = _last_error_lines(model_dir, _write(frame, tmp_path / "dup.csv"), tmp_path, capsys)
    assert messages[0] == messages[1] and "duplicate timestamp" in messages[0], messages
    frame = _panel()
    frame.loc[11, "site"] = None
    messages = _last_error_lines(model_dir, _write(frame, tmp_path / "noid.parquet"), tmp_path, capsys)
    assert messages[0] == messages[1] and "row 12: empty series id" in messages[0], messages


def test_no_series_forecast_is_an_error_with_no_output(model_dir, tmp_path, capsys):
    frame = long_frame(n_series=3, n_rows=5)  # every series shorter than the lookback
    data = _write(frame, tmp_path / "short.csv")
    results = []
    for chunk in ("0", "1"):
        out = tmp_path / f"o{chunk}.csv"
        code, _, err = run_cli(["predict", "--model", str(model_dir), str(data), "--out", str(out),
                             "--chunk-series", chunk], capsys)
        results.append((code, err[-1]))
        assert not out.exists()
    assert results[0] == results[1] and results[0][0] == 2
    assert "no series could be forecast, skipped 3 of 3 series: 3 too short for lookback 8" in results[0][1]


def test_without_duckdb_streaming_says_which_extra_to_install(model_dir, tmp_path, capsys, monkeypatch):
    data = _write(_panel(), tmp_path / "sites.csv")
    monkeypatch.setitem(sys.modules, "duckdb", None)  # import duckdb now raises ImportError
    code, _, err = run_cli(["predict", "--model", str(model_dir), str(data), "--out", str(tmp_path / "o.csv"),
                         "--sort", "--chunk-series", "2"], capsys)
    assert code == 2
    assert err == ["forecast: error: --chunk-series needs DuckDB, which is not installed: "
                   "pip install 'forecast[stream]'"]
    with pytest.raises(InputError, match=r"forecast\[stream\]"):
        from forecast.models.loading import load_model

        predict_file(load_model(model_dir), data, tmp_path / "o.csv", chunk_series=2)


def test_big_files_stream_by_default_and_small_ones_do_not(model_dir, tmp_path, capsys, monkeypatch):
    data = _write(_panel(), tmp_path / "sites.parquet")
    code, _, err = run_cli(["predict", "--model", str(model_dir), str(data), "--out", str(tmp_path / "a.csv"),
                         "--sort"], capsys)
    assert code == 0 and not [line for line in err if "streaming" in line]
    monkeypatch.setattr("forecast.cli.predict.STREAM_ABOVE_ROWS", 100)
    monkeypatch.setattr("forecast.cli.predict.DEFAULT_CHUNK_SERIES", 2)
    code, _, err = run_cli(["predict", "--model", str(model_dir), str(data), "--out", str(tmp_path / "b.csv"),
                         "--sort"], capsys)
    assert code == 0
    assert f"forecast: note: {data}: about 246 rows: streaming 2 series at a time" in err[0]
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
