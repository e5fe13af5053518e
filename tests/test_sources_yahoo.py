"""Yahoo prices: schema from both yfinance layouts, cache hits, retries, per-ticker failures, offline rules."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
from curl_cffi.requests.exceptions import Timeout as CurlTimeout
from requests.exceptions import ConnectionError, ReadTimeout
from yfinance.exceptions import YFPricesMissingError, YFRateLimitError

from forecast.data.sources.cache import Cache
from forecast.data.sources.yahoo import COLUMNS, UnknownTickerError, load_prices, tidy
from forecast.errors import DataSourceError, DataWarning
from tests.fakes import FakeDownloader, recorded_download, recorded_history


class FakeHTTPError(Exception):
    """Stands in for requests/curl_cffi HTTPError: carries a response with a status code."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.response = type("R", (), {"status_code": status})()


@pytest.fixture
def store(tmp_path):
    return Cache(tmp_path / "cache")


@pytest.fixture
def fake():
    return FakeDownloader({"AAPL": recorded_history("yf_history_AAPL_1d.csv"), "MSFT": recorded_download()})


def _no_sleep(waits: list[float]):
    return waits.append


def test_single_level_layout_becomes_the_schema():
    frame = tidy(recorded_history("yf_history_AAPL_1d.csv"), "AAPL", "1d")
    assert list(frame.columns) == COLUMNS
    assert frame.index.name == "date" and frame.index.tz is None
    assert (frame.index == frame.index.normalize()).all()
    assert frame.loc["2024-01-02", "close"] == pytest.approx(185.64)


@pytest.mark.parametrize("group_by", ["column", "ticker"])
def test_multiindex_layouts_become_the_schema(group_by):
    raw = recorded_download()
    if group_by == "ticker":  # yf.download(group_by="ticker") puts the ticker on level 0
        raw = raw.swaplevel(0, 1, axis=1).sort_index(axis=1)
    frame = tidy(raw, "MSFT", "1d")
    assert list(frame.columns) == COLUMNS
    assert frame.loc["2024-01-12", "close"] == pytest.approx(388.47)
    assert frame["volume"].dtype == "float64"


def test_intraday_bars_are_utc_and_deduplicated():
    raw = recorded_history("yf_history_MSFT_1h.csv")
    raw = pd.concat([raw, raw.iloc[[-1]]])  # Yahoo sometimes repeats the live bar
    frame = tidy(raw, "MSFT", "1h")
    assert frame.index.name == "timestamp" and str(frame.index.tz) == "UTC"
    assert frame.index.is_unique and frame.index.is_monotonic_increasing
    assert frame.index[0] == pd.Timestamp("2024-01-09 14:30", tz="UTC")  # 09:30 New York


def test_one_ticker_is_wide_and_says_adjusted(fake, store):
    frame = load_prices("aapl", "2024-01-01", "2024-01-06", downloader=fake, cache=store)
    assert list(frame.columns) == COLUMNS
    assert list(frame.index.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
    assert frame.attrs["adjusted"] is True
    unadjusted = load_prices("AAPL", "2024-01-01", "2024-01-06", adjusted=False, downloader=fake, cache=store)
    assert unadjusted.attrs["adjusted"] is False


def test_many_tickers_are_long_and_sorted(fake, store):
    frame = load_prices(["MSFT", "AAPL"], "2024-01-01", "2024-01-13", downloader=fake, cache=store)
    assert list(frame.columns) == ["ticker", *COLUMNS]
    assert list(frame["ticker"].unique()) == ["AAPL", "MSFT"]
    for _, rows in frame.groupby("ticker"):
        assert rows.index.is_monotonic_increasing and rows.index.is_unique
    assert frame.attrs["failed"] == {}


def test_covered_range_makes_no_call(fake, store):
    first = load_prices("AAPL", "2024-01-01", "2024-01-13", downloader=fake, cache=store)
    calls = len(fake.calls)
    again = load_prices("AAPL", "2024-01-03", "2024-01-10", downloader=fake, cache=store)
    assert len(fake.calls) == calls
    pd.testing.assert_frame_equal(again, first.loc["2024-01-03":"2024-01-09"], check_freq=False)


def test_longer_range_fetches_only_the_missing_part(fake, store):
    load_prices("AAPL", "2024-01-04", "2024-01-09", downloader=fake, cache=store)
    load_prices("AAPL", "2024-01-01", "2024-01-13", downloader=fake, cache=store)
    assert fake.calls[1:] == [("AAPL", "2024-01-01", "2024-01-04"), ("AAPL", "2024-01-09", "2024-01-13")]
    load_prices("AAPL", "2024-01-02", "2024-01-12", downloader=fake, cache=store)
    assert len(fake.calls) == 3


def test_cache_sidecar_records_query_and_versions(fake, store):
    load_prices("AAPL", "2024-01-01", "2024-01-06", downloader=fake, cache=store)
    [sidecar] = list((store.root / "yahoo").glob("*.json"))
    meta = pd.read_json(sidecar, typ="series")
    assert meta["query"] == {"ticker": "AAPL", "interval": "1d", "adjusted": True}
    assert "pandas" in meta["versions"] and meta["fetched_at"]
    assert meta["start"].startswith("2024-01-01") and meta["end"].startswith("2024-01-06")


@pytest.mark.parametrize("fault", [YFRateLimitError(), ReadTimeout("read timed out"), CurlTimeout("timed out"),
                                   FakeHTTPError(500),
                                   FakeHTTPError(429)])
def test_transient_faults_are_retried_with_backoff(fault, store):
    waits: list[float] = []
    fake = FakeDownloader({"AAPL": recorded_history("yf_history_AAPL_1d.csv")}, failures=[fault, fault])
    frame = load_prices("AAPL", "2024-01-01", "2024-01-06", downloader=fake, cache=store,
                        retries=3, backoff=0.5, sleep=_no_sleep(waits))
    assert len(frame) == 4
    assert waits == [0.5, 1.0]
    assert len(fake.calls) == 3


def test_persistent_rate_limit_fails_clearly(store):
    waits: list[float] = []
    fake = FakeDownloader({}, failures=[YFRateLimitError()] * 4)
    with pytest.raises(DataSourceError, match=r"AAPL: download failed after 3 retries \(YFRateLimitError"):
        load_prices("AAPL", "2024-01-01", "2024-01-06", downloader=fake, cache=store, sleep=_no_sleep(waits))
    assert waits == [1.0, 2.0, 4.0]


def test_client_errors_are_not_retried(store):
    fake = FakeDownloader({}, failures=[FakeHTTPError(404)])
    with pytest.raises(DataSourceError, match="AAPL"):
        load_prices("AAPL", "2024-01-01", "2024-01-06", downloader=fake, cache=store, sleep=_no_sleep([]))
    assert len(fake.calls) == 1


def test_unknown_ticker_is_named(fake, store):
    with pytest.raises(UnknownTickerError, match=r"^NOPE: unknown ticker"):
        load_prices("NOPE", "2024-01-01", "2024-01-06", downloader=fake, cache=store)


@pytest.mark.parametrize("answer", ["empty", "missing"])
def test_empty_answer_is_an_error_naming_the_ticker(answer, store):
    if answer == "empty":
        fake = FakeDownloader({"OLD": recorded_history("yf_history_AAPL_1d.csv").iloc[:0]})
    else:
        fake = FakeDownloader({}, failures=[YFPricesMissingError("OLD", "(1d 2024-01-01 -> 2024-01-06)")])
    with pytest.raises(DataSourceError, match=r"^OLD: no 1d prices between 2024-01-01 and 2024-01-06"):
        load_prices("OLD", "2024-01-01", "2024-01-06", downloader=fake, cache=store)


def test_yahoo_reason_is_passed_on(store):
    reason = "5m data not available for startTime=1704085200. The requested range must be within the last 60 days."
    fake = FakeDownloader({}, failures=[YFPricesMissingError("MSFT", "", yahoo_reason=reason)])
    with pytest.raises(ValueError, match="MSFT: Yahoo refused the request: 5m data not available"):
        load_prices("MSFT", "2024-01-01", "2024-01-06", interval="5m", downloader=fake, cache=store)


def test_many_tickers_report_failures_and_keep_the_rest(fake, store):
    with pytest.warns(DataWarning, match="1 of 2 tickers failed"):
        frame = load_prices(["AAPL", "GONE"], "2024-01-01", "2024-01-06", downloader=fake, cache=store)
    assert set(frame["ticker"]) == {"AAPL"}
    assert list(frame.attrs["failed"]) == ["GONE"]
    assert "unknown ticker" in frame.attrs["failed"]["GONE"]


def test_all_tickers_failing_raises(fake, store):
    with pytest.raises(UnknownTickerError, match="no ticker could be loaded: GONE.*NOPE"):
        load_prices(["GONE", "NOPE"], "2024-01-01", "2024-01-06", downloader=fake, cache=store)


def test_offline_with_cache_returns_cached_data_with_warning(fake, store):
    cached = load_prices("AAPL", "2024-01-02", "2024-01-06", downloader=fake, cache=store)
    offline = FakeDownloader({}, failures=[ConnectionError("no network")] * 4)
    with pytest.warns(DataWarning, match="AAPL: offline .*using cached data covering 2024-01-02 to 2024-01-06"):
        frame = load_prices("AAPL", "2024-01-01", "2024-01-13", downloader=offline, cache=store,
                            sleep=_no_sleep([]))
    pd.testing.assert_frame_equal(frame, cached, check_freq=False)


def test_offline_without_cache_suggests_a_csv(store):
    offline = FakeDownloader({}, failures=[ConnectionError("no network")] * 4)
    with pytest.raises(DataSourceError, match="AAPL: cannot reach the server .*forecast.load_table"):
        load_prices("AAPL", "2024-01-01", "2024-01-06", downloader=offline, cache=store, sleep=_no_sleep([]))


def test_cache_false_never_touches_disk(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("FORECAST_CACHE", str(tmp_path / "c"))
    load_prices("AAPL", "2024-01-01", "2024-01-06", downloader=fake, cache=False)
    load_prices("AAPL", "2024-01-01", "2024-01-06", downloader=fake, cache=False)
    assert len(fake.calls) == 2 and not (tmp_path / "c").exists()


def test_default_cache_lives_in_forecast_cache(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("FORECAST_CACHE", str(tmp_path / "c"))
    load_prices("AAPL", "2024-01-01", "2024-01-06", downloader=fake)
    assert list((tmp_path / "c" / "yahoo").glob("*.parquet"))


def test_intraday_through_the_cache_stays_utc(store):
    fake = FakeDownloader({"MSFT": recorded_history("yf_history_MSFT_1h.csv")})
    first = load_prices("MSFT", "2024-01-09", "2024-01-11", interval="1h", downloader=fake, cache=store)
    again = load_prices("MSFT", "2024-01-10", "2024-01-11", interval="1h", downloader=fake, cache=store)
    assert len(fake.calls) == 1
    assert str(again.index.tz) == "UTC" and again.index.name == "timestamp"
    pd.testing.assert_frame_equal(again, first[first.index >= pd.Timestamp("2024-01-10", tz="UTC")],
                                  check_freq=False)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"interval": "7d"}, "interval '7d' is not one of"),
    ({"end": "2023-01-01"}, "must be after start"),
    ({"tickers": []}, "tickers must be non-empty"),
])
def test_bad_arguments(kwargs, message, fake, store):
    args = {"tickers": "AAPL", "start": "2024-01-01", **kwargs}
    with pytest.raises(ValueError, match=message):
        load_prices(**args, downloader=fake, cache=store)
    assert not fake.calls


def test_no_warning_on_a_clean_call(fake, store):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_prices(["AAPL", "MSFT"], "2024-01-01", "2024-01-06", downloader=fake, cache=store)


def test_real_downloader_calls_ticker_history_with_errors_raised(monkeypatch):
    import yfinance as yf

    from forecast.data.sources import yahoo

    seen = {}

    class FakeTicker:
        def __init__(self, symbol):
            seen["symbol"] = symbol

        def history(self, **kwargs):
            seen.update(kwargs, hide=yf.config.debug.hide_exceptions)
            return recorded_history("yf_history_AAPL_1d.csv")

    monkeypatch.setattr(yf, "Ticker", FakeTicker)
    before = yf.config.debug.hide_exceptions
    frame = yahoo.yfinance_download("AAPL", start="2024-01-01", end="2024-01-06", interval="1d", auto_adjust=False)
    assert len(frame) == 9
    assert seen["symbol"] == "AAPL" and seen["auto_adjust"] is False and seen["actions"] is False
    assert seen["start"] == "2024-01-01" and seen["end"] == "2024-01-06" and seen["hide"] is False
    assert yf.config.debug.hide_exceptions == before
