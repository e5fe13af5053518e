"""Daily and intraday prices from Yahoo Finance (through yfinance), in one tidy schema, cached on disk.

Schema of every result:
- index: `date` (daily or longer bars; tz-naive exchange-local trading days) or `timestamp`
  (intraday bars; tz-aware UTC); sorted, no duplicate stamps;
- columns: open, high, low, close, volume (float64), plus `ticker` first when several tickers were asked for
  (long format, sorted by ticker then time);
- `frame.attrs["adjusted"]`: True when open/high/low/close are adjusted for splits and dividends
  (yfinance's `auto_adjust=True`), False for raw exchange prices;
- `frame.attrs["failed"]`: {ticker: reason} for tickers that could not be loaded (many-ticker calls only).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

import pandas as pd

from forecast.data.sources.cache import Cache, cached_fetch
from forecast.data.sources.retry import RetryPolicy, call_with_retries, is_offline, is_transient
from forecast.errors import DataSourceError, DataWarning, InputError

COLUMNS = ["open", "high", "low", "close", "volume"]
INTRADAY_UNITS = ("m", "h")
INTERVALS = ("1m", "2m", "5m", "15m", "30m", "60m", "90m", "1h", "1d", "5d", "1wk", "1mo", "3mo")
# yfinance column names -> ours. "Adj Close" is dropped: with auto_adjust=True it is not returned, and with
# auto_adjust=False the caller asked for raw prices.
_RENAME = {"Open": "open", "High": "high", "Low": "low", "Close": "close", "Volume": "volume"}


class Downloader(Protocol):
    """Fetches one ticker's bars in [start, end) in any yfinance layout; raises yfinance/HTTP errors."""

    def __call__(self, ticker: str, *, start: str, end: str, interval: str, auto_adjust: bool) -> pd.DataFrame:
        ...


class UnknownTickerError(InputError):
    """Yahoo does not know the ticker (no timezone: never listed, misspelled, or long delisted)."""


@contextlib.contextmanager
def _yfinance_raises() -> Iterator[None]:
    """Make yfinance raise its errors instead of logging them and returning an empty frame."""
    import yfinance as yf

    before = yf.config.debug.hide_exceptions
    yf.config.debug.hide_exceptions = False
    try:
        yield
    finally:
        yf.config.debug.hide_exceptions = before


class _Records(logging.Handler):
    """Keeps the log records it is handed."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


# yfinance logs these and carries on without the crumb; the request itself decides, so they say nothing.
_HARMLESS = ("cookie/crumb", "crumb fetch")


@contextlib.contextmanager
def _yfinance_log_as_warning(ticker: str) -> Iterator[None]:
    """Catch what yfinance logs (it prints to stderr through logging's last resort) and re-issue it as at
    most one DataWarning naming the ticker; harmless cookie/crumb retries are dropped."""
    logger = logging.getLogger("yfinance")
    handler, propagate = _Records(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
        messages = [r.getMessage().strip() for r in handler.records]
        messages = [m for m in messages if m and not any(h in m.lower() for h in _HARMLESS)]
        if messages:
            more = f" (and {len(messages) - 1} more yfinance messages)" if len(messages) > 1 else ""
            warnings.warn(f"{ticker}: yfinance says: {messages[0].splitlines()[0]}{more}", DataWarning,
                          stacklevel=3)


def yfinance_download(ticker: str, *, start: str, end: str, interval: str, auto_adjust: bool) -> pd.DataFrame:
    """The real downloader: `yfinance.Ticker(t).history(...)`, with errors raised rather than logged and
    its log lines turned into at most one DataWarning."""
    import yfinance as yf

    with _yfinance_log_as_warning(ticker), _yfinance_raises():
        return yf.Ticker(ticker).history(
            start=start, end=end, interval=interval, auto_adjust=auto_adjust, actions=False, timeout=30,
        )


def is_intraday(interval: str) -> bool:
    """True for minute and hour bars, which carry a time of day and are returned in UTC."""
    return interval.endswith(INTRADAY_UNITS)


def tidy(raw: pd.DataFrame, ticker: str, interval: str) -> pd.DataFrame:
    """Turn one ticker's yfinance frame (single-level, (Price, Ticker) or (Ticker, Price) columns) into the schema."""
    frame = raw
    if isinstance(frame.columns, pd.MultiIndex):
        for level in range(frame.columns.nlevels):
            values = frame.columns.get_level_values(level)
            if ticker in set(values):
                frame = frame.xs(ticker, axis=1, level=level)
                break
        else:
            raise DataSourceError(f"{ticker}: the downloaded frame has no columns for this ticker")
    frame = frame.rename(columns=_RENAME)
    absent = [c for c in COLUMNS if c not in frame.columns]
    if absent:
        raise DataSourceError(f"{ticker}: the downloaded frame lacks columns {absent}; got {list(frame.columns)}")
    frame = frame[COLUMNS].astype("float64").dropna(how="all")
    index = pd.DatetimeIndex(frame.index)
    if is_intraday(interval):
        if index.tz is None:
            raise DataSourceError(f"{ticker}: intraday bars came without a timezone; cannot place them in UTC")
        index = index.tz_convert("UTC").rename("timestamp")
    else:
        # Daily bars are stamped at local midnight of the exchange: keep that calendar date.
        index = (index.tz_localize(None) if index.tz is not None else index).normalize().rename("date")
    frame.index = index
    frame = frame.sort_index(kind="stable")
    return frame[~frame.index.duplicated(keep="last")]


def _bounds(start: str | pd.Timestamp, end: str | pd.Timestamp | None) -> tuple[pd.Timestamp, pd.Timestamp]:
    try:
        lo = pd.Timestamp(start).tz_localize(None).normalize()
        hi = (pd.Timestamp(end).tz_localize(None).normalize() if end is not None
              else pd.Timestamp.now(tz="UTC").tz_localize(None).normalize() + pd.Timedelta(days=1))
    except (ValueError, TypeError) as exc:
        raise InputError(f"cannot read the dates start={start!r} end={end!r}: {exc}; use YYYY-MM-DD") from None
    if hi <= lo:
        raise InputError(f"end {hi.date()} must be after start {lo.date()} (end is exclusive)")
    return lo, hi


def _load_one(ticker: str, lo: pd.Timestamp, hi: pd.Timestamp, interval: str, adjusted: bool,
              download: Downloader, store: Cache | None, policy: RetryPolicy,
              sleep: Callable[[float], None] | None) -> pd.DataFrame:
    intraday = is_intraday(interval)

    def fetch(a: pd.Timestamp, b: pd.Timestamp) -> pd.DataFrame:
        def once() -> pd.DataFrame:
            return download(ticker, start=str(a.date()), end=str(b.date()), interval=interval,
                            auto_adjust=adjusted)

        try:
            raw = call_with_retries(once, policy, sleep=sleep)
        except Exception as exc:
            kind = type(exc).__name__
            if kind == "YFTzMissingError":
                raise UnknownTickerError(
                    f"{ticker}: unknown ticker (Yahoo has no timezone for it: misspelled or delisted); "
                    "check the symbol on finance.yahoo.com"
                ) from exc
            if kind == "YFPricesMissingError":
                reason = getattr(exc, "yahoo_reason", None)
                if reason:  # Yahoo said why (e.g. intraday data only for recent days): pass it on
                    raise InputError(f"{ticker}: Yahoo refused the request: {reason}") from exc
                return _empty(intraday)  # no bars in this range; judged on the whole range below
            if is_offline(exc):
                raise
            tried = f" after {policy.retries} retries" if is_transient(exc) else ""
            raise DataSourceError(f"{ticker}: download failed{tried} ({kind}: {exc}); try again later") from exc
        if raw is None or raw.empty:
            return _empty(intraday)
        part = tidy(raw, ticker, interval)
        key = part.index.tz_localize(None) if intraday else part.index
        return part[(key >= a) & (key < b)]

    query = {"ticker": ticker, "interval": interval, "adjusted": adjusted}
    today = pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()
    if intraday:
        # The cache compares naive bounds; intraday frames are stored with naive UTC stamps.
        def fetch_naive(a: pd.Timestamp, b: pd.Timestamp) -> pd.DataFrame:
            part = fetch(a, b)
            part.index = part.index.tz_localize(None)
            return part

        frame = cached_fetch(store, "yahoo", query, lo, hi, fetch_naive, is_offline=is_offline,
                             complete_before=today, describe=ticker)
        frame = frame.copy()
        frame.index = pd.DatetimeIndex(frame.index).tz_localize("UTC").rename("timestamp")
    else:
        frame = cached_fetch(store, "yahoo", query, lo, hi, fetch, is_offline=is_offline,
                             complete_before=today, describe=ticker)
        frame = frame.copy()
        frame.index = pd.DatetimeIndex(frame.index).rename("date")
    if frame.empty:
        raise DataSourceError(
            f"{ticker}: no {interval} prices between {lo.date()} and {hi.date()} (possibly delisted, or no "
            "trading in that range); check the ticker and dates"
        )
    return frame


def _empty(intraday: bool) -> pd.DataFrame:
    index = pd.DatetimeIndex([], name="timestamp" if intraday else "date",
                             tz="UTC" if intraday else None)
    return pd.DataFrame({c: pd.Series(dtype="float64") for c in COLUMNS}, index=index)


def load_prices(
    tickers: str | Sequence[str],
    start: str | pd.Timestamp,
    end: str | pd.Timestamp | None = None,
    interval: str = "1d",
    adjusted: bool = True,
    *,
    cache: bool | Cache = True,
    retries: int = 3,
    backoff: float = 1.0,
    downloader: Downloader | None = None,
    sleep: Callable[[float], None] | None = None,
) -> pd.DataFrame:
    """Load OHLCV bars for one ticker (wide) or several (long, with a `ticker` column); see the module doc.

    `end` is exclusive and defaults to tomorrow. Rate limits, timeouts and 5xx answers are retried
    `retries` times with waits of backoff*2**k seconds. With several tickers, failures are listed in
    `attrs["failed"]` and a DataWarning and the rest are returned; if all fail, the error is raised.
    `downloader` and `sleep` replace yfinance and time.sleep (tests, or a custom session).
    """
    if interval not in INTERVALS:
        raise InputError(f"interval {interval!r} is not one of {', '.join(INTERVALS)}")
    single = isinstance(tickers, str)
    names = [tickers] if single else list(dict.fromkeys(tickers))
    if not names or any(not isinstance(t, str) or not t.strip() for t in names):
        raise InputError(f"tickers must be non-empty strings, got {tickers!r}")
    names = [t.strip().upper() for t in names]
    lo, hi = _bounds(start, end)
    store = Cache(packages=("yfinance",)) if cache is True else (cache or None)
    policy = RetryPolicy(retries=retries, backoff=backoff)
    download = downloader if downloader is not None else yfinance_download

    frames, failed, unknown = {}, {}, {}
    for name in names:
        try:
            frames[name] = _load_one(name, lo, hi, interval, adjusted, download, store, policy, sleep)
        except (DataSourceError, InputError) as exc:
            if len(names) == 1:
                raise
            failed[name] = str(exc)
            unknown[name] = isinstance(exc, UnknownTickerError)
    if not frames:
        error = UnknownTickerError if all(unknown.values()) else DataSourceError
        raise error("no ticker could be loaded: " + "; ".join(failed.values()))
    if single:
        result = frames[names[0]]
    else:  # long format, sorted by (ticker, time)
        ordered = {name: frames[name] for name in sorted(frames)}
        result = pd.concat(ordered, names=["ticker"]).reset_index(level="ticker")
    result.attrs["adjusted"] = adjusted
    if not single:
        result.attrs["failed"] = failed
        if failed:
            warnings.warn(f"{len(failed)} of {len(names)} tickers failed and were left out: "
                          + "; ".join(failed.values()), DataWarning, stacklevel=2)
    return result
