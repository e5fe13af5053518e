"""Returns and log returns, and the exact inverse back to prices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecast.data.returns import log_returns, returns, to_prices
from forecast.errors import InputError

PRICES = pd.Series([100.0, 110.0, 99.0, 99.0], index=pd.date_range("2024-01-01", periods=4, name="date"))


def test_simple_and_log_values():
    r = returns(PRICES)
    assert np.isnan(r.iloc[0])
    np.testing.assert_allclose(r.iloc[1:], [0.1, -0.1, 0.0])
    np.testing.assert_allclose(log_returns(PRICES).iloc[1:], np.log([1.1, 0.9, 1.0]))


@pytest.mark.parametrize("kind", ["simple", "log"])
def test_inverse_gives_the_prices_back(kind):
    back = to_prices(returns(PRICES, kind), PRICES.iloc[0], kind)
    np.testing.assert_allclose(back, PRICES, rtol=1e-14)


@pytest.mark.parametrize("kind", ["simple", "log"])
def test_long_frames_stay_within_each_series(kind):
    frame = pd.concat([
        pd.DataFrame({"ticker": "A", "close": [10.0, 11.0, 12.0], "open": [9.0, 10.0, 11.0]}),
        pd.DataFrame({"ticker": "B", "close": [50.0, 40.0, 45.0], "open": [51.0, 41.0, 44.0]}),
    ]).set_index(pd.DatetimeIndex(list(pd.date_range("2024-01-01", periods=3)) * 2, name="date"))
    r = returns(frame, kind, by="ticker")
    assert list(r.columns) == ["ticker", "close", "open"]
    assert r["close"].isna().tolist() == [True, False, False, True, False, False]  # B does not see A's last price
    back = to_prices(r, frame.groupby("ticker")[["close", "open"]].first(), kind, by="ticker")
    pd.testing.assert_frame_equal(back, frame, rtol=1e-14)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(min_value=0.01, max_value=1e5, allow_nan=False), min_size=2, max_size=200),
       st.sampled_from(["simple", "log"]))
def test_roundtrip_on_random_positive_prices(values, kind):
    prices = pd.Series(values)
    np.testing.assert_allclose(to_prices(returns(prices, kind), prices.iloc[0], kind), prices, rtol=1e-9)


def test_log_returns_need_positive_prices():
    with pytest.raises(InputError, match="strictly positive"):
        log_returns(pd.Series([1.0, 0.0, 2.0]))


def test_unknown_kind_and_missing_anchor():
    with pytest.raises(InputError, match="kind='pct'"):
        returns(PRICES, "pct")
    frame = pd.DataFrame({"ticker": ["A", "B"], "close": [1.0, 2.0]})
    with pytest.raises(InputError, match=r"lacks a first price for series \['B'\]"):
        to_prices(returns(frame, by="ticker"), pd.Series({"A": 1.0}), by="ticker")
