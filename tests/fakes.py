"""Test doubles for the network sources: recorded yfinance frames and a fake Open-Meteo session."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

DATA = Path(__file__).parent / "data"


def recorded_history(name: str) -> pd.DataFrame:
    """A recorded `yfinance.Ticker.history` frame: single-level columns, tz-aware exchange-local index."""
    frame = pd.read_csv(DATA / name, index_col=0)
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.index, utc=True)).tz_convert("America/New_York")
    return frame


def recorded_download() -> pd.DataFrame:
    """A recorded `yfinance.download(["AAPL", "MSFT"])` frame: (Price, Ticker) columns, naive index."""
    frame = pd.read_csv(DATA / "yf_download_AAPL_MSFT_1d.csv", header=[0, 1], index_col=0)
    frame.index = pd.to_datetime(frame.index)
    frame.index.name = "Date"
    return frame


class FakeDownloader:
    """Serves recorded frames per ticker and slices them to [start, end); counts calls; can fail first."""

    def __init__(self, frames: dict[str, pd.DataFrame], failures: list[BaseException] | None = None) -> None:
        self.frames = frames
        self.failures = list(failures or [])
        self.calls: list[tuple[str, str, str]] = []

    def __call__(self, ticker: str, *, start: str, end: str, interval: str, auto_adjust: bool) -> pd.DataFrame:
        self.calls.append((ticker, start, end))
        if self.failures:
            raise self.failures.pop(0)
        if ticker not in self.frames:
            from yfinance.exceptions import YFTzMissingError

            raise YFTzMissingError(ticker)
        frame = self.frames[ticker]
        index = frame.index.tz_localize(None) if frame.index.tz is not None else frame.index
        return frame[(index >= pd.Timestamp(start)) & (index < pd.Timestamp(end))]


class FakeResponse:
    """Just enough of `requests.Response`: a status code and `.json()`."""

    def __init__(self, status_code: int, body: Any) -> None:
        self.status_code = status_code
        self._body = body

    def json(self) -> Any:
        if isinstance(self._body, str):
            return json.loads(self._body)
        return self._body


class FakeSession:
    """Answers archive requests from a recorded payload, sliced to start_date..end_date; scripted faults first."""

    def __init__(self, recorded: str | None, faults: list[Any] | None = None) -> None:
        self.payload = json.loads((DATA / recorded).read_text(encoding="utf-8")) if recorded else None
        self.faults = list(faults or [])
        self.calls: list[dict[str, Any]] = []
        self.urls: list[str] = []

    def get(self, url: str, *, params: dict[str, Any], timeout: float) -> FakeResponse:
        self.calls.append(dict(params))
        self.urls.append(url)
        if self.faults:
            fault = self.faults.pop(0)
            if isinstance(fault, BaseException):
                raise fault
            return fault
        block_name = "daily" if "daily" in params else "hourly"
        block = self.payload[block_name]
        unix = self.payload[f"{block_name}_units"]["time"] == "unixtime"
        times = pd.to_datetime(block["time"], unit="s") if unix else pd.to_datetime(block["time"])
        keep = (times >= pd.Timestamp(params["start_date"])) & (
            times < pd.Timestamp(params["end_date"]) + pd.Timedelta(days=1))
        sliced = {k: [v for v, k_ in zip(vals, keep, strict=True) if k_] for k, vals in block.items()}
        body = {**self.payload, block_name: sliced}
        return FakeResponse(200, body)
