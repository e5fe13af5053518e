"""align: weather folds into the next trading day or is dropped, and never moves to an earlier date."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecast.data.align import align, default_agg
from forecast.errors import InputError

# Fri 2024-01-12, then Tue 2024-01-16 (Monday 15th is Martin Luther King Day), Wed 17th.
TRADING = pd.DatetimeIndex(["2024-01-12", "2024-01-16", "2024-01-17"], name="date")
WEATHER = pd.DataFrame(
    {"precipitation_sum": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
     "temperature_2m_max": [10.0, 11.0, 9.0, 8.0, 12.0, 7.0, 6.0],
     "wind": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]},
    index=pd.date_range("2024-01-12", "2024-01-18", name="date"),
)


def _prices(tickers=None):
    if tickers is None:
        return pd.DataFrame({"close": [1.0, 2.0, 3.0]}, index=TRADING)
    frames = [pd.DataFrame({"ticker": t, "close": [1.0, 2.0, 3.0]}, index=TRADING) for t in tickers]
    return pd.concat(frames)


def test_weekend_and_holiday_fold_into_the_next_session():
    out = align(_prices(), WEATHER)
    # Sat 13, Sun 14, Mon 15 (holiday) and Tue 16 all belong to Tue 16.
    assert out.loc["2024-01-16", "precipitation_sum"] == 2 + 3 + 4 + 5
    assert out.loc["2024-01-16", "temperature_2m_max"] == 12.0
    assert out.loc["2024-01-16", "wind"] == pytest.approx(np.mean([2, 3, 4, 5]))
    assert out.loc["2024-01-12", "precipitation_sum"] == 1.0
    assert out.loc["2024-01-17", "precipitation_sum"] == 6.0  # the 18th has no trading day yet: dropped
    assert list(out.columns) == ["close", "precipitation_sum", "temperature_2m_max", "wind"]


def test_drop_keeps_only_trading_days():
    out = align(_prices(), WEATHER, how="drop")
    assert out["precipitation_sum"].tolist() == [1.0, 5.0, 6.0]


def test_custom_aggregation():
    out = align(_prices(), WEATHER, agg="last")
    assert out.loc["2024-01-16", "precipitation_sum"] == 5.0
    out = align(_prices(), WEATHER, agg={"wind": "max"})
    assert out.loc["2024-01-16", "wind"] == 5.0 and out.loc["2024-01-16", "precipitation_sum"] == 14.0


def test_long_prices_get_the_same_weather_per_ticker():
    out = align(_prices(["AAPL", "MSFT"]), WEATHER)
    assert len(out) == 6
    assert (out.groupby("ticker")["precipitation_sum"].apply(list).tolist()
            == [[1.0, 14.0, 6.0], [1.0, 14.0, 6.0]])


def test_trading_day_without_weather_is_nan():
    out = align(_prices(), WEATHER.loc["2024-01-13":])
    assert np.isnan(out.loc["2024-01-12", "wind"])


def test_bad_arguments():
    with pytest.raises(InputError, match="how='nearest' is not one of"):
        align(_prices(), WEATHER, how="nearest")
    with pytest.raises(InputError, match=r"share columns \['close'\]"):
        align(_prices(), WEATHER.assign(close=1.0))
    with pytest.raises(InputError, match="weather must be indexed by dates"):
        align(_prices(), WEATHER.reset_index())


def test_default_aggregation_rules():
    assert [default_agg(c) for c in ("precipitation_sum", "rain", "temperature_2m_max", "temp_min", "wind")] == [
        "sum", "sum", "max", "min", "mean"]


@settings(max_examples=40, deadline=None)
@given(trading_mask=st.lists(st.booleans(), min_size=30, max_size=30).filter(any),
       how=st.sampled_from(["next_trading_day", "drop"]))
def test_no_value_ever_moves_earlier(trading_mask, how):
    """Tag each weather day with its own date; every aligned row may only hold tags from its date or before."""
    days = pd.date_range("2024-03-01", periods=30, name="date")
    trading = days[np.array(trading_mask)]
    weather = pd.DataFrame({"tag": days.asi8.astype("float64")}, index=days)
    out = align(pd.DataFrame({"close": 1.0}, index=trading), weather, how=how, agg="max")
    held = out["tag"].dropna()
    assert (held.to_numpy() <= held.index.asi8).all()
    if how == "next_trading_day":  # and nothing is lost except after the last session
        assert out["tag"].notna().all()
