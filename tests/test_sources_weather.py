"""Open-Meteo archive: JSON parsing, chunking, cache hits, retries on 429/5xx/timeouts, clear errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from requests.exceptions import ConnectionError, ReadTimeout

from forecast.data.sources.cache import Cache
from forecast.data.sources.weather import ARCHIVE_URL, load_weather, parse_archive
from forecast.errors import DataSourceError, DataWarning, InputError
from tests.fakes import DATA, FakeResponse, FakeSession

DAILY = ["temperature_2m_max", "precipitation_sum"]
HOURLY = ["temperature_2m", "relative_humidity_2m"]


@pytest.fixture
def store(tmp_path):
    return Cache(tmp_path / "cache")


def _daily(session, store, start="2012-12-25", end="2013-01-05", **kwargs):
    return load_weather(47.61, -122.33, start, end, DAILY, cache=store, session=session, **kwargs)


def test_daily_json_becomes_the_schema():
    payload = json.loads((DATA / "openmeteo_daily_seattle.json").read_text(encoding="utf-8"))
    frame = parse_archive(payload, "daily", DAILY)
    assert frame.index.name == "date" and frame.index.tz is None
    assert list(frame.columns) == DAILY and (frame.dtypes == "float64").all()
    assert frame.attrs["units"] == {"temperature_2m_max": "°C", "precipitation_sum": "mm"}
    assert frame["precipitation_sum"].isna().sum() == 1  # JSON null stays missing


def test_daily_request_parameters_and_yearly_chunks(store):
    session = FakeSession("openmeteo_daily_seattle.json")
    frame = _daily(session, store)
    assert frame.index[0] == pd.Timestamp("2012-12-25") and frame.index[-1] == pd.Timestamp("2013-01-05")
    assert len(frame) == 12 and frame.index.is_unique
    assert [(c["start_date"], c["end_date"]) for c in session.calls] == [
        ("2012-12-25", "2012-12-31"), ("2013-01-01", "2013-01-05")]
    first = session.calls[0]
    assert first["daily"] == "temperature_2m_max,precipitation_sum" and first["timezone"] == "UTC"
    assert (first["latitude"], first["longitude"]) == (47.61, -122.33)


def test_hourly_is_fetched_in_utc_and_shown_in_the_local_zone(store):
    session = FakeSession("openmeteo_hourly_seattle.json")
    frame = load_weather(47.61, -122.33, "2013-01-01", "2013-01-02", HOURLY, frequency="hourly",
                         timezone="America/Los_Angeles", cache=store, session=session)
    assert len(frame) == 48 and frame.index.name == "timestamp"
    assert frame.index[0] == pd.Timestamp("2013-01-01 00:00", tz="America/Los_Angeles")
    assert frame.index[-1] == pd.Timestamp("2013-01-02 23:00", tz="America/Los_Angeles")
    assert session.calls[0]["timeformat"] == "unixtime" and session.calls[0]["timezone"] == "UTC"
    assert frame.attrs["units"]["relative_humidity_2m"] == "%"


def test_covered_range_makes_no_call_and_keeps_units(store):
    session = FakeSession("openmeteo_daily_seattle.json")
    first = _daily(session, store, "2012-12-20", "2013-01-10")
    calls = len(session.calls)
    again = _daily(session, store, "2012-12-28", "2013-01-03")
    assert len(session.calls) == calls
    pd.testing.assert_frame_equal(again, first.loc["2012-12-28":"2013-01-03"], check_freq=False)
    assert again.attrs["units"]["precipitation_sum"] == "mm"


def test_longer_range_fetches_only_the_missing_part(store):
    session = FakeSession("openmeteo_daily_seattle.json")
    _daily(session, store, "2013-01-01", "2013-01-05")
    _daily(session, store, "2013-01-01", "2013-01-10")
    assert (session.calls[-1]["start_date"], session.calls[-1]["end_date"]) == ("2013-01-06", "2013-01-10")
    assert len(session.calls) == 2


@pytest.mark.parametrize("fault", [FakeResponse(429, {"error": True, "reason": "Too many requests"}),
                                   FakeResponse(500, "<html>oops</html>"), FakeResponse(503, ""),
                                   ReadTimeout("read timed out")])
def test_transient_faults_are_retried(fault, store):
    waits: list[float] = []
    session = FakeSession("openmeteo_daily_seattle.json", faults=[fault, fault])
    frame = _daily(session, store, "2013-01-01", "2013-01-05", sleep=waits.append, backoff=0.25)
    assert len(frame) == 5 and waits == [0.25, 0.5] and len(session.calls) == 3


def test_persistent_server_errors_fail_clearly(store):
    session = FakeSession(None, faults=[FakeResponse(500, "")] * 4)
    with pytest.raises(DataSourceError, match=r"Open-Meteo failed after 3 retries \(TransientHTTPError: HTTP 500"):
        _daily(session, store, sleep=lambda s: None)
    assert len(session.calls) == 4


def test_api_error_reason_is_shown(store):
    body = json.loads((DATA / "openmeteo_error.json").read_text(encoding="utf-8"))
    session = FakeSession(None, faults=[FakeResponse(400, body)])
    with pytest.raises(InputError, match="Open-Meteo rejected the request: Cannot initialize WeatherVariable"):
        _daily(session, store)
    assert len(session.calls) == 1


@pytest.mark.parametrize(("body", "message"), [
    ("{\"daily\": [1, 2", "malformed JSON"),
    ({"latitude": 47.6}, "no 'daily.time' array"),
    ({"daily": {"time": ["2013-01-01"], "temperature_2m_max": [1.0]}, "daily_units": {}}, "lacks the variables"),
    ({"daily": {"time": ["2013-01-01", "2013-01-02"], "temperature_2m_max": [1.0],
                "precipitation_sum": [0.0, 1.0]}}, "2 times but lengths"),
])
def test_malformed_answers_are_clear_errors(body, message, store):
    session = FakeSession(None, faults=[FakeResponse(200, body)])
    with pytest.raises(DataSourceError, match=message):
        _daily(session, store, "2013-01-01", "2013-01-02")


def test_offline_with_cache_warns_and_returns_cached(store):
    cached = _daily(FakeSession("openmeteo_daily_seattle.json"), store, "2013-01-01", "2013-01-05")
    offline = FakeSession(None, faults=[ConnectionError("no network")] * 4)
    with pytest.warns(DataWarning, match="offline .*using cached data"):
        frame = _daily(offline, store, "2012-12-20", "2013-01-05", sleep=lambda s: None)
    pd.testing.assert_frame_equal(frame, cached, check_freq=False)


def test_offline_without_cache_suggests_a_csv(store):
    offline = FakeSession(None, faults=[ConnectionError("no network")] * 4)
    with pytest.raises(DataSourceError, match="cannot reach the server .*load_table"):
        _daily(offline, store, sleep=lambda s: None)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"frequency": "weekly"}, "frequency must be 'daily' or 'hourly'"),
    ({"latitude": 123.0}, "out of range"),
    ({"end": "2012-01-01"}, "is before start"),
    ({"variables": []}, "variables must be non-empty"),
    ({"frequency": "hourly", "timezone": "auto"}, "needs an IANA timezone"),
    ({"frequency": "hourly", "timezone": "Mars/Olympus"}, "unknown timezone 'Mars/Olympus'"),
])
def test_bad_arguments_make_no_request(kwargs, message, store):
    session = FakeSession(None)
    args = {"latitude": 47.61, "longitude": -122.33, "start": "2013-01-01", "end": "2013-01-05", **kwargs}
    with pytest.raises(InputError, match=message):
        load_weather(**args, cache=store, session=session)
    assert session.calls == []


def test_default_session_is_requests(monkeypatch, store):
    import requests

    recorded = FakeSession("openmeteo_daily_seattle.json")
    monkeypatch.setattr(requests, "Session", lambda: recorded)
    frame = load_weather(47.61, -122.33, "2013-01-01", "2013-01-02", DAILY, cache=store)
    assert len(frame) == 2 and len(recorded.calls) == 1
    assert recorded.urls == [ARCHIVE_URL] == ["https://archive-api.open-meteo.com/v1/archive"]
