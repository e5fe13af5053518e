"""The data adapters are reachable from the package's public API under their documented names."""

from __future__ import annotations

import forecast
from forecast.data import align, returns
from forecast.data.sources import files, weather, yahoo


def test_public_names_point_at_the_adapters():
    assert forecast.load_prices is yahoo.load_prices
    assert forecast.load_weather is weather.load_weather
    assert forecast.load_table is files.load_table
    assert forecast.align is align.align
    assert callable(returns.to_prices)
