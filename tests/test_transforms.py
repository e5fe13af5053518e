"""Scalers learn from training rows only (per series in panels); target transforms invert exactly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from forecast.data.transforms import SCALERS, ColumnScaler, inverse_target, transform_target
from forecast.errors import InputError


def _reference_stats(x: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Center and scale of `x` [n, F] computed directly with numpy."""
    if method == "standard":
        return x.mean(0), x.std(0)
    if method == "minmax":
        return x.min(0), x.max(0) - x.min(0)
    if method == "robust":
        q1, med, q3 = np.percentile(x, [25, 50, 75], axis=0)
        return med, q3 - q1
    return np.zeros(x.shape[1]), np.ones(x.shape[1])


def _panel_rows(lengths, seed):
    rng = np.random.default_rng(seed)
    values = (rng.standard_normal((sum(lengths), 3)) * [1.0, 10.0, 0.1] + [0.0, 50.0, -3.0]).astype(np.float32)
    series = np.repeat(np.arange(len(lengths)), lengths)
    local = np.arange(len(values)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return values, series, local


@settings(max_examples=40, deadline=None)
@given(
    method=st.sampled_from(SCALERS),
    lengths=st.lists(st.integers(4, 40), min_size=1, max_size=4),
    train_fraction=st.floats(0.3, 0.9),
    seed=st.integers(0, 2**16),
)
def test_scaler_statistics_are_those_of_the_training_rows_alone(method, lengths, train_fraction, seed):
    values, series, local = _panel_rows(lengths, seed)
    train = local < np.repeat((np.asarray(lengths) * train_fraction).astype(int).clip(1), lengths)
    scaler = ColumnScaler(method).fit(values, series, train)
    center, scale = _reference_stats(values[train].astype(np.float64), method)
    np.testing.assert_allclose(scaler.center_[0], center, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scaler.scale_[0], np.where(scale > 1e-12, scale, 1.0), rtol=1e-5, atol=1e-5)
    # Rows outside training cannot move the statistics: poison them and refit.
    poisoned = values.copy()
    poisoned[~train] = 1e6
    again = ColumnScaler(method).fit(poisoned, series, train)
    np.testing.assert_array_equal(again.center_, scaler.center_)
    np.testing.assert_array_equal(again.scale_, scaler.scale_)
    # transform / inverse round trip.
    scaled = scaler.transform(values, series)
    back = scaler.inverse_columns(scaled, series, np.arange(3))
    np.testing.assert_allclose(back, values, rtol=1e-5, atol=1e-4)


@settings(max_examples=30, deadline=None)
@given(
    method=st.sampled_from(("standard", "minmax", "robust")),
    lengths=st.lists(st.integers(4, 40), min_size=2, max_size=4),
    seed=st.integers(0, 2**16),
)
def test_per_series_statistics_and_pooled_statistics_for_unseen_series(method, lengths, seed):
    values, series, local = _panel_rows(lengths, seed)
    values += series[:, None].astype(np.float32) * 100  # series with very different levels
    train = local < np.repeat(np.asarray(lengths) // 2, lengths)
    train[series == len(lengths) - 1] = False  # the last series has no training rows
    scaler = ColumnScaler(method, per_series=True).fit(values, series, train)
    pooled = _reference_stats(values[train].astype(np.float64), method)
    for s in range(len(lengths)):
        if s == len(lengths) - 1:
            expected = pooled
        else:
            expected = _reference_stats(values[train & (series == s)].astype(np.float64), method)
        np.testing.assert_allclose(scaler.center_[s], expected[0], rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(scaler.scale_[s], np.where(expected[1] > 1e-12, expected[1], 1), rtol=1e-5, atol=1e-4)
    # Index -1 (a series never seen in training) gets the pooled statistics.
    np.testing.assert_allclose(scaler.center_[-1], pooled[0], rtol=1e-5, atol=1e-4)
    unseen = scaler.transform(values[:2], np.array([-1, -1]))
    np.testing.assert_allclose(unseen, (values[:2] - pooled[0]) / np.where(pooled[1] > 1e-12, pooled[1], 1),
                               rtol=1e-4, atol=1e-4)
    # Artifacts: to_dict / from_dict keeps every statistic.
    copy = ColumnScaler.from_dict(scaler.to_dict())
    np.testing.assert_array_equal(copy.transform(values, series), scaler.transform(values, series))


def test_constant_column_scales_by_one_instead_of_dividing_by_zero():
    values = np.column_stack([np.full(10, 3.0), np.arange(10.0)]).astype(np.float32)
    scaler = ColumnScaler("standard").fit(values, np.zeros(10, np.int64), np.ones(10, bool))
    assert scaler.scale_[0, 0] == 1.0
    assert np.isfinite(scaler.transform(values, np.zeros(10, np.int64))).all()


def test_unknown_scaler_is_refused():
    with pytest.raises(InputError, match="scaler"):
        ColumnScaler("zscore").fit(np.zeros((3, 1)), np.zeros(3, np.int64), np.ones(3, bool))


positive = arrays(np.float64, st.integers(3, 40), elements=st.floats(0.01, 1e4))


@settings(max_examples=60, deadline=None)
@given(y=positive, kind=st.sampled_from(("none", "log", "diff", "pct_change", "log_return")),
       horizon=st.integers(1, 6), split=st.integers(1, 39))
def test_target_transforms_invert_exactly_over_multi_step_horizons(y, kind, horizon, split):
    split = min(split, len(y) - 1)  # two series stacked: rows [0, split) and [split, n)
    offsets = np.array([0, split, len(y)])
    z = transform_target(y, offsets, kind)
    if kind in ("diff", "pct_change", "log_return"):
        assert np.isnan(z[offsets[:-1]]).all()  # no difference across the start of a series
    for start, end in zip(offsets[:-1], offsets[1:], strict=True):
        origins = np.arange(start, end - horizon)  # forecasts of the transformed values at t+1..t+H
        if not len(origins):
            continue
        future = z[origins[:, None] + 1 + np.arange(horizon)]  # [N, H]
        back = inverse_target(future, y[origins], kind)
        np.testing.assert_allclose(back, y[origins[:, None] + 1 + np.arange(horizon)], rtol=1e-9, atol=1e-9)


def test_level_transforms_need_positive_values_and_known_names():
    offsets = np.array([0, 3])
    for kind in ("log", "pct_change", "log_return"):
        with pytest.raises(InputError, match="positive"):
            transform_target(np.array([1.0, 0.0, 2.0]), offsets, kind)
    with pytest.raises(InputError, match="not one of"):
        transform_target(np.ones(3), offsets, "sqrt")
    with pytest.raises(InputError, match="not one of"):
        inverse_target(np.ones((1, 1)), np.ones(1), "sqrt")
    np.testing.assert_allclose(transform_target(np.array([1.0, -2.0, 4.0]), offsets, "diff")[1:], [-3.0, 6.0])
