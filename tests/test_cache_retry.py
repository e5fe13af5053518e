"""The shared cache (location, sidecar, broken entries, still-changing days) and the retry rules."""

from __future__ import annotations

import socket

import pandas as pd
import pytest
from requests.exceptions import ConnectionError, HTTPError, ReadTimeout

from forecast.data.sources.cache import Cache, cache_dir, cached_fetch, missing_ranges
from forecast.data.sources.retry import (
    RetryPolicy,
    TransientHTTPError,
    call_with_retries,
    is_offline,
    is_transient,
)
from forecast.errors import DataWarning

T = pd.Timestamp


def _rows(a, b):
    index = pd.date_range(a, b, inclusive="left", name="date")
    return pd.DataFrame({"x": range(len(index))}, index=index, dtype="float64")


def test_cache_dir_honours_forecast_cache_then_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("FORECAST_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("FORECAST_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "forecast"


def test_missing_ranges_keep_coverage_contiguous():
    entry = type("E", (), {"start": T("2020-01-10"), "end": T("2020-01-20")})()
    assert missing_ranges(None, T("2020-01-01"), T("2020-01-05")) == [(T("2020-01-01"), T("2020-01-05"))]
    assert missing_ranges(entry, T("2020-01-12"), T("2020-01-15")) == []
    assert missing_ranges(entry, T("2020-01-01"), T("2020-01-25")) == [
        (T("2020-01-01"), T("2020-01-10")), (T("2020-01-20"), T("2020-01-25"))]
    # A request after the cached range also fetches the hole in between.
    assert missing_ranges(entry, T("2020-02-01"), T("2020-02-05")) == [(T("2020-01-20"), T("2020-02-05"))]


def test_broken_entry_is_a_miss_with_a_warning(tmp_path):
    store = Cache(tmp_path)
    store.put("src", {"k": 1}, _rows("2020-01-01", "2020-01-05"), T("2020-01-01"), T("2020-01-05"))
    [data] = list((tmp_path / "src").glob("*.parquet"))
    data.write_bytes(b"not parquet")
    with pytest.warns(DataWarning, match="ignoring unreadable cache entry"):
        assert store.get("src", {"k": 1}) is None


def test_days_not_yet_complete_are_fetched_again(tmp_path):
    store, calls = Cache(tmp_path), []

    def fetch(a, b):
        calls.append((a, b))
        return _rows(a, b)

    kwargs = {"is_offline": is_offline, "complete_before": T("2020-01-08"), "describe": "test"}
    cached_fetch(store, "src", {"k": 1}, T("2020-01-01"), T("2020-01-10"), fetch, **kwargs)
    cached_fetch(store, "src", {"k": 1}, T("2020-01-01"), T("2020-01-10"), fetch, **kwargs)
    assert calls == [(T("2020-01-01"), T("2020-01-10")), (T("2020-01-08"), T("2020-01-10"))]
    entry = store.get("src", {"k": 1})
    assert entry.end == T("2020-01-08") and len(entry.frame) == 9 and entry.frame.index.is_unique


@pytest.mark.parametrize(("exc", "transient", "offline"), [
    (ReadTimeout(), True, False),
    (TimeoutError(), True, False),
    (ConnectionError(), True, True),
    (socket.gaierror(), True, True),
    (TransientHTTPError(503, "u"), True, False),
    (HTTPError(response=type("R", (), {"status_code": 429})()), True, False),
    (HTTPError(response=type("R", (), {"status_code": 404})()), False, False),
    (ValueError("bad"), False, False),
])
def test_failure_classification(exc, transient, offline):
    assert is_transient(exc) is transient
    assert is_offline(exc) is offline


def test_backoff_is_exponential_and_capped():
    policy = RetryPolicy(retries=6, backoff=1.0, max_wait=10.0)
    assert [policy.wait(k) for k in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    with pytest.raises(ValueError, match="retries must be >= 0"):
        RetryPolicy(retries=-1)


def test_call_with_retries_gives_up_and_reraises():
    waits, attempts = [], []

    def always_timeout():
        attempts.append(1)
        raise ReadTimeout("slow")

    with pytest.raises(ReadTimeout):
        call_with_retries(always_timeout, RetryPolicy(retries=2, backoff=0.1), sleep=waits.append)
    assert len(attempts) == 3 and waits == pytest.approx([0.1, 0.2])


# Issue 14, item 16: a sidecar that is valid JSON but not an object is a broken entry like a corrupt Parquet,
# and the offline error then says the cached copy was unreadable, not that nothing is cached.
@pytest.mark.parametrize("sidecar", ["[]", '"2020-01-01"', "null", "3", '{"start": null, "end": "2020-01-05"}',
                                     '{"start": "2020-01-01"}', '{"start": [1], "end": "2020-01-05"}'])
def test_sidecar_that_is_not_an_object_is_ignored_with_a_warning(tmp_path, sidecar):
    store = Cache(tmp_path)
    store.put("src", {"k": 1}, _rows("2020-01-01", "2020-01-05"), T("2020-01-01"), T("2020-01-05"))
    [meta] = list((tmp_path / "src").glob("*.json"))
    meta.write_text(sidecar)
    with pytest.warns(DataWarning, match="ignoring unreadable cache entry"):
        assert store.get("src", {"k": 1}) is None


def test_offline_after_ignoring_a_broken_entry_does_not_say_nothing_is_cached(tmp_path):
    from forecast.errors import DataSourceError

    store = Cache(tmp_path)
    store.put("src", {"k": 1}, _rows("2020-01-01", "2020-01-05"), T("2020-01-01"), T("2020-01-05"))
    [meta] = list((tmp_path / "src").glob("*.json"))
    meta.write_text("[]")

    def down(a, b):
        raise ConnectionError("down")

    kwargs = {"is_offline": is_offline, "complete_before": T("2020-02-01"), "describe": "test"}
    with pytest.warns(DataWarning, match="ignoring unreadable cache entry"), \
            pytest.raises(DataSourceError, match="the cached copy .*parquet is unreadable \\(ignored\\)") as info:
        cached_fetch(store, "src", {"k": 1}, T("2020-01-01"), T("2020-01-05"), down, **kwargs)
    assert "nothing is cached" not in str(info.value)
    with pytest.raises(DataSourceError, match="nothing is cached"):
        cached_fetch(store, "src", {"k": 2}, T("2020-01-01"), T("2020-01-05"), down, **kwargs)
