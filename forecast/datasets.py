"""Bundled real datasets: names, loading, and a one-line summary of each (offline, no downloads)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class BundledDataset:
    """Where a bundled file lives and how to read it."""

    name: str
    filename: str
    time_col: str
    id_col: str | None
    target: str
    description: str
    utc: bool = False


_DATASETS: dict[str, BundledDataset] = {
    d.name: d
    for d in (
        BundledDataset("seattle-weather", "seattle_weather_daily.csv", "date", None, "temp_max",
                       "Seattle daily weather 2012-2015 (degC, mm, m/s, weather label)"),
        BundledDataset("nyc-weather-hourly", "nyc_weather_hourly.csv", "timestamp", "station", "temperature",
                       "Hourly weather at EWR, JFK, LGA, Jan-Sep 2013 (degF), UTC", utc=True),
        BundledDataset("seattle-temp-normals", "seattle_hourly_temp_normals.csv", "timestamp", None,
                       "temperature", "Seattle hourly temperature climate normals, 2010 (degF; averages)"),
        BundledDataset("msft", "msft_daily_ohlcv.csv", "date", None, "close",
                       "MSFT daily OHLCV 1986-2017, split-adjusted (USD)"),
        BundledDataset("stocks", "stocks_daily_panel.csv", "date", "ticker", "close",
                       "AAPL, FB, GOOG, MSFT daily OHLCV 2000-2013, unadjusted + adj_close (USD)"),
        BundledDataset("etth1", "ETTh1.csv", "date", None, "OT",
                       "Electricity Transformer Temperature, station 1, hourly 2016-2018 (CC BY-ND 4.0)"),
    )
}


def names() -> list[str]:
    """Names of the bundled datasets, for `load`."""
    return list(_DATASETS)


def spec(name: str) -> BundledDataset:
    """The description of one bundled dataset; KeyError lists the valid names."""
    try:
        return _DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; bundled datasets are: {', '.join(_DATASETS)}") from None


def _data_dir() -> Path:
    """The folder that holds the bundled files: inside the wheel, or `datasets/` in a source checkout."""
    packaged = Path(str(resources.files("forecast"))) / "_datasets"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "datasets"


def path(name: str) -> Path:
    """Filesystem path of a bundled dataset's CSV file."""
    return _data_dir() / spec(name).filename


def load(name: str) -> pd.DataFrame:
    """Load a bundled dataset as a DataFrame indexed by time; long files keep their series column.

    Rows are sorted by (series, time); text columns stay text; missing values stay missing.
    """
    ds = spec(name)
    frame = pd.read_csv(path(name))
    frame[ds.time_col] = pd.to_datetime(frame[ds.time_col], utc=ds.utc, format="ISO8601")
    sort_cols = [ds.id_col, ds.time_col] if ds.id_col else [ds.time_col]
    frame = frame.sort_values(sort_cols, kind="stable").set_index(ds.time_col)
    return frame


def summary() -> pd.DataFrame:
    """One row per bundled dataset: name, rows, time range, frequency, columns, series column."""
    rows = []
    for name, ds in _DATASETS.items():
        frame = load(name)
        first_series = frame if ds.id_col is None else frame[frame[ds.id_col] == frame[ds.id_col].iloc[0]]
        freq = _describe_step(first_series.index)
        rows.append({
            "name": name,
            "rows": len(frame),
            "start": frame.index.min(),
            "end": frame.index.max(),
            "frequency": freq,
            "series": ds.id_col or "",
            "target": ds.target,
            "columns": ",".join(frame.columns),
        })
    return pd.DataFrame(rows)


def _describe_step(index: pd.DatetimeIndex) -> str:
    """The usual time step ("daily", "hourly") and how many steps differ from it (weekends, missing hours)."""
    steps = pd.Series(index[1:] - index[:-1])
    if steps.empty:
        return "single row"
    usual = steps.mode().iloc[0]
    text = {pd.Timedelta(days=1): "daily", pd.Timedelta(hours=1): "hourly"}.get(usual, str(usual))
    gaps = int((steps != usual).sum())
    return text if gaps == 0 else f"{text}, {gaps} gap{'s' if gaps > 1 else ''}"
