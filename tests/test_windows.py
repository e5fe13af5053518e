"""Windows read exactly rows t-L+1..t as inputs and t+1..t+H as targets, of one series, without copying it."""

from __future__ import annotations

import tracemalloc
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from _frames import coded_frame, coded_panel, decode
from hypothesis import given, settings
from hypothesis import strategies as st

from forecast.config import WindowSpec
from forecast.data.panel import build_panel
from forecast.data.windows import Windows, make_windows

SPEC = dict(target="y", features=("f",), known_future=("k",), id_col="id")

ragged = st.lists(st.integers(1, 60), min_size=1, max_size=5)


@settings(max_examples=60, deadline=None)
@given(lengths=ragged, lookback=st.integers(1, 9), horizon=st.integers(1, 5), stride=st.integers(1, 3))
def test_windows_read_their_own_series_inputs_then_strictly_later_targets(lengths, lookback, horizon, stride):
    spec = WindowSpec(lookback=lookback, horizon=horizon, stride=stride, **SPEC)
    panel = coded_panel(lengths, spec)
    w = make_windows(panel, spec)
    b = w.batch(np.arange(len(w)))
    x_series, x_rows = decode(b["x"][:, :, 0])  # [N, L]
    y_series, y_rows = decode(b["y"][:, :, 0])  # [N, H]
    origin_rows = w.origins - panel.offsets[b["series"]]
    # No window crosses series: every row it reads belongs to the window's own series.
    assert (x_series == b["series"][:, None]).all() and (y_series == b["series"][:, None]).all()
    np.testing.assert_array_equal(x_rows, origin_rows[:, None] - lookback + 1 + np.arange(lookback))
    np.testing.assert_array_equal(y_rows, origin_rows[:, None] + 1 + np.arange(horizon))
    assert (y_rows.min(axis=1, initial=10**9) > x_rows.max(axis=1, initial=-1)).all()  # targets strictly after
    # Every series long enough gives (n - L - H) // stride + 1 windows, the most recent origin included.
    for s, n in enumerate(lengths):
        mine = origin_rows[b["series"] == s]
        expected = max(0, (n - lookback - horizon) // stride + 1)
        assert len(mine) == expected
        if expected:
            assert mine.max() == n - horizon - 1
            assert (np.diff(mine) == stride).all()
    # Series shorter than L+H give no window and are reported.
    assert w.skipped == [f"s{s}" for s, n in enumerate(lengths) if n < lookback + horizon]


def test_batch_shapes_and_dtypes_follow_the_contract():
    spec = WindowSpec(lookback=6, horizon=3, calendar=("dayofweek", "month"), categorical=("cat",), **SPEC)
    panel = coded_panel([30, 20], spec)
    w = make_windows(panel, spec)
    b = w.batch(np.array([0, 5, 7]))
    assert b["x"].shape == (3, 6, 3 + 4) and b["x"].dtype == np.float32  # y, f, k + 2 calendar sin/cos pairs
    assert b["y"].shape == (3, 3, 1) and b["y"].dtype == np.float32
    assert b["future"].shape == (3, 3, 1 + 4)  # k + calendar at t+1..t+H
    assert b["codes"].shape == (3, 6, 1) and b["codes"].dtype == np.int64
    assert b["series"].shape == (3,) and "lengths" not in b
    for key in ("x", "y", "future", "codes"):
        assert b[key].flags.c_contiguous
    assert w.n_inputs == 7 and w.n_future == 5


@settings(max_examples=30, deadline=None)
@given(lengths=ragged, lookback=st.integers(1, 8), horizon=st.integers(1, 4), data=st.data())
def test_only_known_future_columns_are_read_after_the_origin(lengths, lookback, horizon, data):
    """Poison everything a window may not read; its inputs and covariates stay bit-for-bit the same."""
    spec = WindowSpec(lookback=lookback, horizon=horizon, calendar=("dayofweek",), categorical=("cat",), **SPEC)
    panel = coded_panel(lengths, spec)
    w = make_windows(panel, spec)
    if not len(w):
        return
    i = data.draw(st.integers(0, len(w) - 1))
    o = int(w.origins[i])
    clean = w.batch(np.array([i]))

    observed_only = panel.column_index(("y", "f"))
    for value in (np.nan, 1e30):
        poisoned = panel.values.copy()
        codes = panel.codes.copy()
        poisoned[o + 1:, observed_only] = value  # observed-only columns after the origin
        poisoned[: o - lookback + 1] = np.inf  # every column before the window
        poisoned[o + horizon + 1:] = -1e30  # every column after the horizon
        codes[o + 1:] = 2
        codes[: o - lookback + 1] = 2
        bad = Windows(replace(panel, values=poisoned, codes=codes), spec, w.origins[i:i + 1]).batch(np.array([0]))
        np.testing.assert_array_equal(bad["x"], clean["x"])
        np.testing.assert_array_equal(bad["future"], clean["future"])
        np.testing.assert_array_equal(bad["codes"], clean["codes"])
        np.testing.assert_array_equal(bad["y"], np.full_like(clean["y"], value))  # targets: the only observed values ahead

    # And the known-future columns at t+1..t+H really are read (the test above is not vacuous).
    known = panel.column_index(("k",))
    ahead = poisoned.copy()
    ahead[o + 1: o + horizon + 1, known] = 7.0
    seen = Windows(replace(panel, values=ahead), spec, w.origins[i:i + 1]).batch(np.array([0]))
    assert (seen["future"][0, :, 0] == 7.0).all()


def test_windows_are_views_of_the_one_panel_array():
    spec = WindowSpec(lookback=16, horizon=4, **SPEC)
    panel = coded_panel([3000, 2000], spec)
    w = make_windows(panel, spec)
    for view in (w._past, w._ahead):
        assert np.shares_memory(view, panel.values)
        assert not view.flags.owndata
        assert view.base is not None
    assert w.subset(np.arange(10))._past.base is not None


def test_building_windows_allocates_far_less_than_the_series():
    """No copy of the series: the extra memory of make_windows is a few index arrays, not [T, F] floats."""
    rng = np.random.default_rng(0)
    values = rng.standard_normal((200_000, 8)).astype(np.float32)
    frame = pd.DataFrame(values, columns=[f"c{i}" for i in range(8)],
                         index=pd.date_range("2000-01-01", periods=len(values), freq="min"))
    spec = WindowSpec(target="c0", lookback=64, horizon=8, features=tuple(frame.columns[1:]))
    panel = build_panel(frame, spec)
    tracemalloc.start()
    w = make_windows(panel, spec)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(w) == 200_000 - 64 - 8 + 1
    assert peak < 0.5 * panel.values.nbytes  # the origins (8 bytes a window) and a [T] bool mask, no [T, F] copy


def test_non_finite_values_drop_exactly_the_windows_that_read_them():
    spec = WindowSpec(lookback=4, horizon=2, **SPEC)
    frame = coded_frame([40])
    frame.iloc[20, frame.columns.get_loc("f")] = np.nan
    panel = build_panel(frame, spec)
    all_origins = make_windows(panel, spec, require_finite=False).origins
    kept = make_windows(panel, spec).origins
    # A window reads row 20 as input when 20 in [t-3, t], as target when 20 in [t+1, t+2] (f is not a
    # target or known-future column, so only its inputs matter).
    reads = (all_origins >= 20) & (all_origins - 3 <= 20)
    np.testing.assert_array_equal(kept, all_origins[~reads])
    frame.iloc[30, frame.columns.get_loc("y")] = np.nan
    kept = make_windows(build_panel(frame, spec), spec).origins
    reads |= ((all_origins >= 30) & (all_origins - 3 <= 30)) | ((all_origins + 1 <= 30) & (all_origins + 2 >= 30))
    np.testing.assert_array_equal(kept, all_origins[~reads])


def test_forecast_windows_end_at_the_last_observed_row_and_read_appended_calendar():
    spec = WindowSpec(lookback=5, horizon=3, calendar=("dayofweek",), **{**SPEC, "known_future": ()})
    panel = build_panel(coded_frame([12, 9]), spec, future_steps=3)
    w = make_windows(panel, spec, require_targets=False)
    last = {int(s): int(o) for s, o in zip(w.series(slice(None)), w.origins, strict=True)}
    assert last[0] == 11 and last[1] - panel.offsets[1] == 8
    b = w.batch(np.flatnonzero(np.isin(w.origins, [11, panel.offsets[1] + 8])))
    assert np.isnan(b["y"]).all()  # nothing observed after the last row
    assert np.isfinite(b["future"]).all()  # calendar features of the appended rows are known


def test_without_rows_after_the_origin_batches_have_no_targets():
    spec = WindowSpec(lookback=3, horizon=2, **SPEC)
    panel = coded_panel([10], spec)
    w = make_windows(panel, spec, require_targets=False)
    assert w.origins.max() == 9
    b = w.batch(np.arange(len(w)))
    assert set(b) == {"x", "series"}
    with pytest.raises(IndexError, match="future_steps"):
        w.targets(np.arange(len(w)))


@settings(max_examples=40, deadline=None)
@given(lengths=ragged, lookback=st.integers(2, 9), horizon=st.integers(1, 4), data=st.data())
def test_padded_windows_hold_the_short_history_at_the_end_and_zeros_before(lengths, lookback, horizon, data):
    min_lookback = data.draw(st.integers(1, lookback))
    spec = WindowSpec(lookback=lookback, horizon=horizon, categorical=("cat",), **SPEC)
    panel = coded_panel(lengths, spec)
    w = make_windows(panel, spec, min_lookback=min_lookback)
    b = w.batch(np.arange(len(w)))
    origin_rows = w.origins - panel.offsets[b["series"]]
    np.testing.assert_array_equal(b["lengths"], np.minimum(lookback, origin_rows + 1))
    assert (b["lengths"] >= min_lookback).all()
    real = np.arange(lookback)[None, :] >= lookback - b["lengths"][:, None]  # [N, L]
    series, rows = decode(b["x"][:, :, 0])
    assert (series[real] == np.broadcast_to(b["series"][:, None], real.shape)[real]).all()
    np.testing.assert_array_equal(rows, np.where(real, origin_rows[:, None] - lookback + 1 + np.arange(lookback), 0))
    assert (b["x"][~real] == 0).all() and (b["codes"][~real] == 0).all()
    _, y_rows = decode(b["y"][:, :, 0])
    np.testing.assert_array_equal(y_rows, origin_rows[:, None] + 1 + np.arange(horizon))
    assert w.skipped == [f"s{s}" for s, n in enumerate(lengths) if n < min_lookback + horizon]
    # Every full-length window of the default path is also here, with the same contents.
    full = make_windows(panel, spec)
    assert np.isin(full.origins, w.origins).all()


def test_min_lookback_must_fit_the_lookback():
    spec = WindowSpec(lookback=4, **SPEC)
    with pytest.raises(ValueError, match="min_lookback"):
        make_windows(coded_panel([10], spec), spec, min_lookback=5)


def test_forecast_windows_read_supplied_known_future_values_and_keep_missing_ones_as_nan():
    """Appended future rows have calendar features but no planned values: those windows stay, with NaN."""
    spec = WindowSpec(lookback=3, horizon=2, **SPEC)  # k is known-future
    panel = build_panel(coded_frame([10]), spec, future_steps=2)
    w = make_windows(panel, spec, require_targets=False)
    assert w.origins.max() == 9
    assert np.isnan(w.batch(np.array([len(w) - 1]))["future"]).any()  # a model's forecast is NaN, not a guess
    supplied = coded_frame([12])
    supplied.iloc[10:, supplied.columns.get_loc("y")] = np.nan  # planned k given, target unknown
    w = make_windows(build_panel(supplied, spec, future_steps=2), spec, require_targets=False)
    assert w.origins.max() == 9  # the last observed target row forecasts with the supplied covariates
    assert np.isfinite(w.batch(np.array([len(w) - 1]))["future"]).all()
