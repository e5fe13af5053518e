"""`forecast fetch`: files written atomically, one error line and the right exit code for each bad input."""

from __future__ import annotations

import pandas as pd
import pytest
from requests.exceptions import ConnectionError

from forecast.cli import main
from forecast.data.sources import yahoo
from tests.fakes import FakeDownloader, FakeResponse, FakeSession, recorded_download, recorded_history


@pytest.fixture(autouse=True)
def offline_world(monkeypatch, tmp_path):
    """Recorded data instead of Yahoo and Open-Meteo, a private cache folder, and no real waiting."""
    monkeypatch.setenv("FORECAST_CACHE", str(tmp_path / "cache"))
    fake = FakeDownloader({"AAPL": recorded_history("yf_history_AAPL_1d.csv"), "MSFT": recorded_download()})
    monkeypatch.setattr(yahoo, "yfinance_download", fake)
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    return fake


def _use_session(monkeypatch, session):
    import requests

    monkeypatch.setattr(requests, "Session", lambda: session)


def _run(capsys, *argv):
    code = main(["fetch", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_prices_to_csv(tmp_path, capsys):
    out = tmp_path / "prices.csv"
    code, stdout, _ = _run(capsys, "prices", "AAPL", "MSFT", "--start", "2024-01-01", "--end", "2024-01-06",
                           "--out", str(out))
    assert code == 0 and "wrote 8 rows of adjusted 1d prices" in stdout
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["date", "ticker", "open", "high", "low", "close", "volume"]
    assert sorted(frame["ticker"].unique()) == ["AAPL", "MSFT"]


def test_one_ticker_to_parquet_keeps_the_ticker_column(tmp_path, capsys):
    out = tmp_path / "aapl.parquet"
    code, stdout, _ = _run(capsys, "prices", "aapl", "--start", "2024-01-01", "--end", "2024-01-06",
                           "--unadjusted", "--out", str(out))
    assert code == 0 and "unadjusted" in stdout
    frame = pd.read_parquet(out)
    assert frame.index.name == "date" and set(frame["ticker"]) == {"AAPL"} and len(frame) == 4


def test_partial_failure_is_reported_and_the_rest_written(tmp_path, capsys):
    out = tmp_path / "prices.csv"
    code, stdout, stderr = _run(capsys, "prices", "AAPL", "NOPE", "--start", "2024-01-01", "--end", "2024-01-06",
                                "--out", str(out))
    assert code == 0 and "failed: NOPE" in stdout and out.exists()
    # the library's warning reaches the user as one note line (issue 14: warnings become notes)
    assert [line for line in stderr.splitlines() if "1 of 2 tickers failed" in line][0].startswith("forecast: note: ")


def test_weather_to_csv(tmp_path, capsys, monkeypatch):
    session = FakeSession("openmeteo_daily_seattle.json")
    _use_session(monkeypatch, session)
    out = tmp_path / "weather.csv"
    code, stdout, _ = _run(capsys, "weather", "--lat", "47.61", "--lon", "-122.33", "--start", "2012-12-25",
                           "--end", "2013-01-05", "--daily", "temperature_2m_max,precipitation_sum", "--out", str(out))
    assert code == 0 and "wrote 12 daily rows" in stdout
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["date", "temperature_2m_max", "precipitation_sum"]
    assert len(session.calls) == 2  # two calendar years, two chunks


BAD = [
    (["prices", "NOPE", "--start", "2024-01-01"], 2, "NOPE: unknown ticker"),
    (["prices", "AAPL", "--start", "2024-01-01", "--interval", "7d"], 2, "interval '7d' is not one of"),
    (["prices", "AAPL", "--start", "2024-02-01", "--end", "2024-01-01"], 2, "must be after start"),
    (["prices", "AAPL", "--start", "not-a-date"], 2, "cannot read the dates"),
    (["prices", "OLD", "--start", "2024-01-01", "--end", "2024-01-06"], 2, "OLD: unknown ticker"),
    (["weather", "--lat", "95", "--lon", "0", "--start", "2013-01-01", "--end", "2013-01-02"], 2, "out of range"),
    (["weather", "--lat", "47", "--lon", "-122", "--start", "2013-01-01", "--end", "2013-01-02", "--daily", ","],
     2, "--daily needs at least one variable"),
    (["weather", "--lat", "47", "--lon", "-122", "--start", "2013-01-01", "--end", "2013-01-02", "--hourly",
      "temperature_2m", "--timezone", "Nowhere/Land"], 2, "unknown timezone 'Nowhere/Land'"),
]


@pytest.mark.parametrize(("argv", "code", "message"), BAD)
def test_bad_input_gives_one_line_and_no_file(tmp_path, capsys, monkeypatch, argv, code, message):
    _use_session(monkeypatch, FakeSession(None))
    out = tmp_path / "out" / "result.csv"
    got, stdout, stderr = _run(capsys, *argv, "--out", str(out))
    assert got == code
    assert stderr.count("\n") == 1 and stderr.startswith("forecast: error: ") and message in stderr
    assert "Traceback" not in stderr and not out.exists()
    assert not list(tmp_path.glob("out/*"))  # no temporary file left either


def test_bad_output_extension(tmp_path, capsys):
    code, _, stderr = _run(capsys, "prices", "AAPL", "--start", "2024-01-01", "--out", str(tmp_path / "p.xlsx"))
    assert code == 2 and "use a .csv or .parquet file name" in stderr and not (tmp_path / "p.xlsx").exists()


def test_weather_api_error_and_server_failure(tmp_path, capsys, monkeypatch):
    out = tmp_path / "w.csv"
    args = ["weather", "--lat", "47", "--lon", "-122", "--start", "2013-01-01", "--end", "2013-01-02",
            "--daily", "tempeture_2m_max", "--out", str(out)]
    _use_session(monkeypatch, FakeSession(None, faults=[FakeResponse(400, {"error": True, "reason": "bad var"})]))
    code, _, stderr = _run(capsys, *args)
    assert code == 2 and stderr == "forecast: error: Open-Meteo rejected the request: bad var\n"
    _use_session(monkeypatch, FakeSession(None, faults=[FakeResponse(502, "")] * 4))
    code, _, stderr = _run(capsys, *args)
    assert code == 1 and "Open-Meteo failed after 3 retries" in stderr and stderr.count("\n") == 1
    assert not out.exists()


def test_offline_without_cache_exits_1_and_suggests_a_csv(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(yahoo, "yfinance_download", FakeDownloader({}, failures=[ConnectionError("down")] * 4))
    out = tmp_path / "p.csv"
    code, _, stderr = _run(capsys, "prices", "AAPL", "--start", "2024-01-01", "--out", str(out))
    assert code == 1 and "cannot reach the server" in stderr and "load_table" in stderr and not out.exists()


@pytest.mark.parametrize("argv", [["fetch"], ["fetch", "prices"], ["fetch", "weather"]])
def test_help_has_an_example(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main([*argv, "--help"])
    assert info.value.code == 0
    assert "example: forecast fetch" in capsys.readouterr().out
