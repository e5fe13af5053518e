"""On-disk cache for the network sources: one Parquet file per query plus a JSON sidecar saying what it holds.

A query is everything that identifies a series except its time range (e.g. ticker, interval, adjusted).
The sidecar records the covered range [start, end), the query, when it was fetched and the library
versions. A request inside the covered range is answered from disk; a longer one fetches only the
missing head and tail and stores the union.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from forecast.errors import DataSourceError, DataWarning
from forecast.io import atomic_path, write_table

Range = tuple[pd.Timestamp, pd.Timestamp]


def cache_dir() -> Path:
    """The cache folder: $FORECAST_CACHE, else $XDG_CACHE_HOME/forecast, else ~/.cache/forecast."""
    override = os.environ.get("FORECAST_CACHE")
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "forecast"


def _versions(packages: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for name in ("forecast", "pandas", "pyarrow", *packages):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


@dataclass(frozen=True)
class CacheEntry:
    """A cached frame and the half-open time range [start, end) it is known to cover."""

    frame: pd.DataFrame
    start: pd.Timestamp
    end: pd.Timestamp
    meta: dict[str, Any]


class Cache:
    """Parquet + JSON sidecar files under one folder, keyed by a JSON-able query dict."""

    def __init__(self, root: str | os.PathLike[str] | None = None, *, packages: tuple[str, ...] = ()) -> None:
        self.root = Path(root) if root is not None else cache_dir()
        self.packages = packages

    def _paths(self, source: str, query: Mapping[str, Any]) -> tuple[Path, Path]:
        digest = hashlib.sha256(json.dumps(query, sort_keys=True).encode()).hexdigest()[:20]
        folder = self.root / source
        return folder / f"{digest}.parquet", folder / f"{digest}.json"

    def get(self, source: str, query: Mapping[str, Any]) -> CacheEntry | None:
        """The cached entry for `query`, or None when absent or unreadable (a broken entry is a miss, with a
        warning: an unreadable Parquet file, or a sidecar that is not a JSON object with a start and an end)."""
        data_path, meta_path = self._paths(source, query)
        if not (data_path.is_file() and meta_path.is_file()):
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if not isinstance(meta, dict):
                kind = {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(meta), "number")
                raise ValueError(f"{meta_path.name} holds a JSON {kind}, not an object")
            start, end = pd.Timestamp(meta["start"]), pd.Timestamp(meta["end"])
            if pd.isna(start) or pd.isna(end):
                raise ValueError(f"{meta_path.name} has no covered range")
            frame = pd.read_parquet(data_path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            what = f"missing entry {exc}" if isinstance(exc, KeyError) else str(exc)
            warnings.warn(f"ignoring unreadable cache entry {data_path}: {what}", DataWarning, stacklevel=3)
            return None
        if meta.get("query") != json.loads(json.dumps(query)):
            return None
        return CacheEntry(frame, start, end, meta)

    def entry_path(self, source: str, query: Mapping[str, Any]) -> Path | None:
        """The data file of `query`'s entry when any file of it exists (readable or not), else None."""
        data_path, meta_path = self._paths(source, query)
        return data_path if data_path.exists() or meta_path.exists() else None

    def put(self, source: str, query: Mapping[str, Any], frame: pd.DataFrame, start: pd.Timestamp,
            end: pd.Timestamp) -> None:
        """Store `frame` as covering [start, end); data first, sidecar last, both written atomically."""
        data_path, meta_path = self._paths(source, query)
        write_table(frame, data_path, index=True)
        meta = {
            "source": source,
            "query": query,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "rows": len(frame),
            "fetched_at": pd.Timestamp.now(tz="UTC").isoformat(),
            "versions": _versions(self.packages),
        }
        with atomic_path(meta_path) as tmp:
            tmp.write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")


def missing_ranges(entry: CacheEntry | None, start: pd.Timestamp, end: pd.Timestamp) -> list[Range]:
    """The parts of [start, end) the entry does not cover; joined so the union stays one range."""
    if entry is None:
        return [(start, end)]
    parts = []
    if start < entry.start:
        parts.append((start, entry.start))
    if end > entry.end:
        parts.append((entry.end, end))
    return parts


def _slice(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    index = frame.index
    return frame[(index >= start) & (index < end)]


def cached_fetch(
    cache: Cache | None,
    source: str,
    query: Mapping[str, Any],
    start: pd.Timestamp,
    end: pd.Timestamp,
    fetch: Callable[[pd.Timestamp, pd.Timestamp], pd.DataFrame],
    *,
    is_offline: Callable[[BaseException], bool],
    complete_before: pd.Timestamp,
    describe: str,
) -> pd.DataFrame:
    """Answer [start, end) from the cache, fetching only what it lacks; fall back to it when offline.

    `fetch(a, b)` returns rows with a sorted DatetimeIndex in [a, b). Only data before
    `complete_before` (e.g. today) is recorded as covered, so a still-changing day is fetched again.
    Offline with a cache gives the cached rows and a DataWarning; offline without raises DataSourceError.
    """
    entry = cache.get(source, query) if cache is not None else None
    todo = missing_ranges(entry, start, end)
    if not todo:
        return _slice(entry.frame, start, end)
    try:
        parts = [fetch(a, b) for a, b in todo]
    except Exception as exc:
        if not is_offline(exc):
            raise
        if entry is not None:
            warnings.warn(
                f"{describe}: offline ({type(exc).__name__}); using cached data covering "
                f"{entry.start.date()} to {entry.end.date()} fetched {entry.meta.get('fetched_at', '?')}",
                DataWarning, stacklevel=3,
            )
            return _slice(entry.frame, start, end)
        damaged = cache.entry_path(source, query) if cache is not None else None
        cached = f"the cached copy {damaged} is unreadable (ignored)" if damaged else "nothing is cached"
        raise DataSourceError(
            f"{describe}: cannot reach the server ({type(exc).__name__}) and {cached}; "
            "check the connection, or load a CSV/Parquet file with forecast.load_table"
        ) from exc
    frames = [f for f in ([entry.frame] if entry is not None else []) + parts if len(f)]
    merged = pd.concat(frames).sort_index(kind="stable") if frames else parts[0]
    merged = merged[~merged.index.duplicated(keep="last")]
    if cache is not None:
        covered_start = min(start, entry.start) if entry is not None else start
        covered_end = max(min(end, complete_before), entry.end if entry is not None else covered_start)
        if covered_end > covered_start:
            cache.put(source, query, merged, covered_start, covered_end)
    return _slice(merged, start, end)
