"""Simple and log returns of price series, and their exact inverses back to prices."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecast.errors import InputError

KINDS = ("simple", "log")

Frame = pd.Series | pd.DataFrame


def _check_positive(prices: Frame, kind: str) -> None:
    values = np.asarray(prices, dtype="float64")
    if kind == "log" and (values[~np.isnan(values)] <= 0).any():
        raise InputError("log returns need strictly positive prices; found a zero or negative price")


def returns(prices: Frame, kind: str = "simple", by: str | None = None) -> Frame:
    """Per-step returns p_t/p_{t-1} - 1 ("simple") or log(p_t/p_{t-1}) ("log"); the first row of each series is NaN.

    `by` names a series-id column of a long frame: returns are computed within each series, and the id
    column is kept.
    """
    if kind not in KINDS:
        raise InputError(f"kind={kind!r} is not one of {', '.join(KINDS)}")
    values = prices.drop(columns=[by]) if by is not None else prices
    _check_positive(values, kind)
    previous = values.groupby(prices[by].to_numpy()).shift(1) if by is not None else values.shift(1)
    result = np.log(values / previous) if kind == "log" else values / previous - 1.0
    if by is not None:
        result.insert(0, by, prices[by])
    return result


def log_returns(prices: Frame, by: str | None = None) -> Frame:
    """Shorthand for `returns(prices, "log", by)`."""
    return returns(prices, "log", by)


def to_prices(rets: Frame, start: float | pd.Series | Frame, kind: str = "simple", by: str | None = None) -> Frame:
    """Invert `returns`: rebuild prices from returns and each series' first price (`start`).

    The first row of each series (NaN return) becomes `start`; later rows compound the returns, so
    `to_prices(returns(p), first prices)` gives back `p` up to floating-point rounding.
    With `by`, `start` is a Series (or frame) indexed by series id.
    """
    if kind not in KINDS:
        raise InputError(f"kind={kind!r} is not one of {', '.join(KINDS)}")
    values = rets.drop(columns=[by]) if by is not None else rets
    growth = np.exp(values.fillna(0.0)) if kind == "log" else 1.0 + values.fillna(0.0)
    if by is None:
        return growth.cumprod() * start
    keys = rets[by].to_numpy()
    if isinstance(start, pd.Series):
        if values.shape[1] != 1:
            raise InputError("with several value columns, `start` must be a frame indexed by series id")
        start = start.to_frame(values.columns[0])
    if not isinstance(start, pd.DataFrame):
        raise InputError("with `by`, `start` must be indexed by series id, e.g. prices.groupby(by).first()")
    anchors = start.reindex(keys)[list(values.columns)].set_axis(rets.index)
    if anchors.isna().to_numpy().any():
        absent = sorted(set(keys) - set(start.index))
        raise InputError(f"`start` lacks a first price for series {absent[:5]} or has NaN anchors")
    result = growth.groupby(keys).cumprod() * anchors
    result.insert(0, by, rets[by])
    return result
