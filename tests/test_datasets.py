"""Every bundled dataset loads with its documented columns and a monotonic time index per series."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pandas as pd
import pytest

import forecast
from forecast import datasets
from forecast.cli import main

DOCUMENTED_COLUMNS = {
    "seattle-weather": ["precipitation", "temp_max", "temp_min", "wind", "weather"],
    "nyc-weather-hourly": ["station", "temperature", "dewpoint", "humidity", "wind_dir", "wind_speed",
                           "wind_gust", "precip", "pressure", "visibility"],
    "seattle-temp-normals": ["temperature"],
    "msft": ["open", "high", "low", "close", "volume"],
    "stocks": ["ticker", "open", "high", "low", "close", "volume", "adj_close"],
    "etth1": ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"],
}
ROWS = {"seattle-weather": 1461, "nyc-weather-hourly": 19618, "seattle-temp-normals": 8759, "msft": 7983,
        "stocks": 8884, "etth1": 17420}


def test_names_cover_every_documented_file():
    assert set(datasets.names()) == set(DOCUMENTED_COLUMNS)


@pytest.mark.parametrize("name", sorted(DOCUMENTED_COLUMNS))
def test_bundled_dataset_loads_with_documented_columns(name):
    frame = datasets.load(name)
    assert list(frame.columns) == DOCUMENTED_COLUMNS[name]
    assert len(frame) == ROWS[name]
    assert isinstance(frame.index, pd.DatetimeIndex)
    id_col = datasets.spec(name).id_col
    groups = frame.groupby(id_col, sort=False) if id_col else [(None, frame)]
    for _, part in groups:
        assert part.index.is_monotonic_increasing and part.index.is_unique


def test_etth1_is_the_unmodified_published_copy():
    import hashlib

    digest = hashlib.sha256(datasets.path("etth1").read_bytes()).hexdigest()
    assert digest == "f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066"


def test_nyc_timestamps_are_utc_and_normals_are_naive():
    assert str(datasets.load("nyc-weather-hourly").index.tz) == "UTC"
    assert datasets.load("seattle-temp-normals").index.tz is None


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(KeyError, match="seattle-weather"):
        datasets.load("nope")


def test_datasets_command_prints_every_dataset(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in DOCUMENTED_COLUMNS:
        assert name in out
    assert "2012-01-01" in out and "1461" in out


def test_lazy_public_api():
    assert forecast.datasets is datasets
    with pytest.raises(AttributeError):
        forecast.no_such_thing  # noqa: B018


@pytest.mark.slow
def test_wheel_ships_the_datasets(tmp_path):
    """A non-editable install must find the data: the wheel carries datasets/ as forecast/_datasets."""
    root = datasets.path("seattle-weather").resolve().parent.parent
    if not (root / "pyproject.toml").exists():
        pytest.skip("not a source checkout")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
         str(root)],
        check=True,
    )
    wheel = next(tmp_path.glob("forecast-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for ds in datasets.names():
        assert f"forecast/_datasets/{datasets.spec(ds).filename}" in names
