"""Historical weather from the Open-Meteo archive (https://archive-api.open-meteo.com/v1/archive), cached.

Schema of every result:
- daily: index `date` (tz-naive local calendar days in `timezone`), one float64 column per variable;
- hourly: index `timestamp` (tz-aware, in `timezone`; "auto" means the location's zone), one column per variable;
- `frame.attrs["units"]`: {variable: unit} as the archive reports them (e.g. "°C", "mm").
Missing values from the archive (JSON null) stay NaN.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import pandas as pd

from forecast.data.sources.cache import Cache, cached_fetch
from forecast.data.sources.retry import (
    RetryPolicy,
    TransientHTTPError,
    call_with_retries,
    is_offline,
    is_transient,
)
from forecast.errors import DataSourceError, InputError

ARCHIVE_URL = "https://archive-api.open-meteo.com/v1/archive"
DEFAULT_VARIABLES = {
    "daily": ("temperature_2m_max", "temperature_2m_min", "precipitation_sum", "wind_speed_10m_max"),
    "hourly": ("temperature_2m", "relative_humidity_2m", "precipitation", "wind_speed_10m"),
}


class Session(Protocol):
    """The part of `requests.Session` used here."""

    def get(self, url: str, *, params: Mapping[str, Any], timeout: float) -> Any:
        ...


def _chunks(lo: pd.Timestamp, hi: pd.Timestamp, years: int) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Split the half-open day range [lo, hi) at January 1st every `years` years."""
    cuts = [lo]
    year = lo.year + years
    while pd.Timestamp(year=year, month=1, day=1) < hi:
        cuts.append(pd.Timestamp(year=year, month=1, day=1))
        year += years
    cuts.append(hi)
    return list(zip(cuts[:-1], cuts[1:], strict=False))


def _request(session: Session, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    """One GET; 429/5xx raise TransientHTTPError (retried), an API error raises InputError, bad JSON DataSourceError."""
    response = session.get(ARCHIVE_URL, params=params, timeout=timeout)
    status = int(response.status_code)
    if status == 429 or status >= 500:
        raise TransientHTTPError(status, ARCHIVE_URL)
    try:
        payload = response.json()
    except (ValueError, json.JSONDecodeError) as exc:
        raise DataSourceError(
            f"Open-Meteo answered HTTP {status} with malformed JSON ({exc}); try again later"
        ) from None
    if not isinstance(payload, dict):
        raise DataSourceError(f"Open-Meteo answered HTTP {status} with {type(payload).__name__}, not an object")
    if payload.get("error"):
        raise InputError(f"Open-Meteo rejected the request: {payload.get('reason', 'no reason given')}")
    if status >= 400:
        raise DataSourceError(f"Open-Meteo answered HTTP {status}; check the request parameters")
    return payload


def parse_archive(payload: Mapping[str, Any], frequency: str, variables: Sequence[str]) -> pd.DataFrame:
    """Turn one archive JSON answer into the module's schema (see the module docstring)."""
    block, units = payload.get(frequency), payload.get(f"{frequency}_units") or {}
    if not isinstance(block, dict) or "time" not in block:
        raise DataSourceError(f"Open-Meteo answer has no '{frequency}.time' array; got keys {sorted(payload)}")
    absent = [v for v in variables if v not in block]
    if absent:
        raise DataSourceError(f"Open-Meteo answer lacks the variables {absent}")
    times = block["time"]
    lengths = {v: len(block[v]) for v in variables}
    if any(n != len(times) for n in lengths.values()):
        raise DataSourceError(f"Open-Meteo answer is malformed: {len(times)} times but lengths {lengths}")
    unixtime = units.get("time") == "unixtime"
    zone = payload.get("timezone") or "UTC"
    offset = pd.Timedelta(seconds=int(payload.get("utc_offset_seconds") or 0))
    try:
        if frequency == "daily":
            index = (pd.to_datetime(times, unit="s") + offset if unixtime
                     else pd.to_datetime(times, format="ISO8601")).normalize().rename("date")
        else:
            index = (pd.to_datetime(times, unit="s", utc=True) if unixtime
                     else pd.to_datetime(times, format="ISO8601") - offset).tz_localize(None)
            index = index.tz_localize("UTC").tz_convert("UTC" if zone == "GMT" else zone).rename("timestamp")
    except (ValueError, TypeError) as exc:
        raise DataSourceError(f"Open-Meteo answer has unreadable times ({exc})") from None
    data = {v: pd.to_numeric(pd.Series(block[v], dtype="object"), errors="coerce").to_numpy("float64")
            for v in variables}
    frame = pd.DataFrame(data, index=pd.DatetimeIndex(index))
    frame.attrs["units"] = {v: units.get(v, "") for v in variables}
    return frame


def load_weather(
    latitude: float,
    longitude: float,
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    variables: Sequence[str] | None = None,
    frequency: str = "daily",
    timezone: str = "UTC",
    *,
    cache: bool | Cache = True,
    retries: int = 3,
    backoff: float = 1.0,
    chunk_years: int = 1,
    timeout: float = 30.0,
    session: Session | None = None,
    sleep: Callable[[float], None] | None = None,
) -> pd.DataFrame:
    """Load daily or hourly archive weather for one place, `start` to `end` inclusive; see the module doc.

    Long ranges are requested `chunk_years` calendar years at a time; 429/5xx answers and timeouts are
    retried with waits of backoff*2**k seconds. `session` and `sleep` replace requests and time.sleep.
    """
    if frequency not in DEFAULT_VARIABLES:
        raise InputError(f"frequency must be 'daily' or 'hourly', got {frequency!r}")
    if not (-90 <= float(latitude) <= 90 and -180 <= float(longitude) <= 180):
        raise InputError(f"latitude {latitude} / longitude {longitude} out of range (-90..90, -180..180)")
    names = list(DEFAULT_VARIABLES[frequency] if variables is None else dict.fromkeys(variables))
    if not names or any(not isinstance(v, str) or not v.strip() for v in names):
        raise InputError(f"variables must be non-empty names like temperature_2m_max, got {variables!r}")
    try:
        lo, last = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    except (ValueError, TypeError) as exc:
        raise InputError(f"cannot read the dates start={start!r} end={end!r}: {exc}; use YYYY-MM-DD") from None
    if last < lo:
        raise InputError(f"end {last.date()} is before start {lo.date()}")
    if chunk_years < 1:
        raise InputError(f"chunk_years must be >= 1, got {chunk_years}")
    hourly = frequency == "hourly"
    if hourly and timezone == "auto":
        raise InputError("hourly weather needs an IANA timezone like America/Los_Angeles (or UTC), not 'auto'")
    zone = "UTC" if timezone.upper() in {"UTC", "GMT"} else timezone
    try:
        # Local calendar days [lo, last] -> instants; hourly data is fetched in UTC, whatever the zone.
        lo_utc = lo.tz_localize(zone).tz_convert("UTC").tz_localize(None) if hourly else lo
        hi_utc = (last + pd.Timedelta(days=1)).tz_localize(zone).tz_convert("UTC").tz_localize(None) \
            if hourly else last + pd.Timedelta(days=1)
    except Exception as exc:  # zoneinfo/pytz raise several types for an unknown name
        raise InputError(f"unknown timezone {timezone!r} ({exc}); use an IANA name like Europe/Berlin") from None
    policy = RetryPolicy(retries=retries, backoff=backoff)
    if session is None:
        import requests

        session = requests.Session()
    store = Cache(packages=("requests",)) if cache is True else (cache or None)
    lat, lon = round(float(latitude), 4), round(float(longitude), 4)
    query = {"latitude": lat, "longitude": lon, "frequency": frequency, "variables": sorted(names),
             "timezone": "UTC" if hourly else timezone}
    units: dict[str, str] = {}

    def fetch_chunk(a: pd.Timestamp, b: pd.Timestamp) -> pd.DataFrame:
        last_day = (b - pd.Timedelta(seconds=1)).normalize()
        params = {"latitude": lat, "longitude": lon, "start_date": str(a.date()), "end_date": str(last_day.date()),
                  frequency: ",".join(names), "timezone": "UTC" if hourly else timezone,
                  "timeformat": "unixtime" if hourly else "iso8601"}
        try:
            payload = call_with_retries(lambda: _request(session, params, timeout), policy, sleep=sleep)
        except (InputError, DataSourceError):
            raise
        except Exception as exc:
            if is_offline(exc):
                raise
            tried = f" after {policy.retries} retries" if is_transient(exc) else ""
            raise DataSourceError(
                f"Open-Meteo failed{tried} ({type(exc).__name__}: {exc}); try again later"
            ) from exc
        part = parse_archive(payload, frequency, names)
        units.update(part.attrs["units"])
        if hourly:  # the cache compares naive UTC bounds
            part.index = part.index.tz_convert("UTC").tz_localize(None)
        return part[(part.index >= a) & (part.index < b)]

    def fetch(a: pd.Timestamp, b: pd.Timestamp) -> pd.DataFrame:
        parts = [fetch_chunk(x, y) for x, y in _chunks(a, b, chunk_years)]
        return pd.concat(parts) if len(parts) > 1 else parts[0]

    # The archive lags real time by days; only data older than a week is recorded as settled.
    settled = pd.Timestamp.now(tz="UTC").tz_localize(None).normalize() - pd.Timedelta(days=7)
    frame = cached_fetch(store, "open-meteo", query, lo_utc, hi_utc, fetch, is_offline=is_offline,
                         complete_before=settled, describe=f"weather at {lat},{lon}").copy()
    index = pd.DatetimeIndex(frame.index)
    frame.index = index.tz_localize("UTC").tz_convert(zone).rename("timestamp") if hourly else index.rename("date")
    known = {**frame.attrs.get("units", {}), **units}  # a cache hit brings the units in the Parquet metadata
    frame.attrs["units"] = {v: known.get(v, "") for v in names}
    return frame
