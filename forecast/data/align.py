"""Join daily weather onto trading days without ever moving a value to an earlier date."""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from forecast.errors import InputError

POLICIES = ("next_trading_day", "drop")
# Default aggregation by variable name when several weather days fold into one trading day.
_SUM = re.compile(r"precip|rain|snow|sum|shortwave|radiation|sunshine", re.IGNORECASE)


def default_agg(column: str) -> str:
    """Aggregation for a weather column: totals are summed, *_max maxed, *_min minned, the rest averaged."""
    if _SUM.search(column):
        return "sum"
    if column.lower().endswith("_max"):
        return "max"
    if column.lower().endswith("_min"):
        return "min"
    return "mean"


def _calendar_days(index: pd.Index, name: str) -> pd.DatetimeIndex:
    if not isinstance(index, pd.DatetimeIndex):
        raise InputError(f"{name} must be indexed by dates (a DatetimeIndex), got {type(index).__name__}")
    if index.tz is not None:  # the local calendar date of each stamp
        index = index.tz_localize(None)
    return index.normalize()


def align(
    prices: pd.DataFrame,
    weather: pd.DataFrame,
    how: str = "next_trading_day",
    agg: str | Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Add weather columns to daily prices (wide, or long with a ticker column) on their trading dates.

    Weather dated D belongs to the first trading day on or after D ("next_trading_day": weekends and
    holidays fold into the next session, aggregated by `agg`, default `default_agg` per column) or only
    to D itself ("drop": weather on non-trading days is discarded). Weather after the last trading day
    is dropped; a value is never assigned to a date before its own. Trading days with no weather get NaN.
    """
    if how not in POLICIES:
        raise InputError(f"how={how!r} is not one of {', '.join(POLICIES)}")
    trading = pd.DatetimeIndex(np.unique(_calendar_days(prices.index, "prices").to_numpy()))
    days = _calendar_days(weather.index, "weather")
    clash = sorted(set(weather.columns) & set(prices.columns))
    if clash:
        raise InputError(f"prices and weather share columns {clash}; rename them before aligning")
    if how == "next_trading_day":
        slot = trading.searchsorted(days, side="left")  # first trading day >= the weather's day
        keep = slot < len(trading)
        target = trading[slot[keep]]
    else:
        keep = days.isin(trading)
        target = days[keep]
    kept = weather[keep]
    rules = {c: (agg.get(c, default_agg(c)) if isinstance(agg, Mapping) else agg or default_agg(c))
             for c in kept.columns}
    folded = kept.groupby(pd.DatetimeIndex(target, name="date")).agg(rules)
    # Reindex onto the prices' own rows (several tickers share one date).
    on = _calendar_days(prices.index, "prices")
    joined = folded.reindex(on)
    joined.index = prices.index
    return pd.concat([prices, joined], axis=1)
