"""Splits are time-ordered with a gap of H origins: no training window touches a validation or test target."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _frames import CODE, coded_frame, coded_panel, decode
from hypothesis import given, settings
from hypothesis import strategies as st

from forecast.config import WindowSpec
from forecast.data.panel import build_panel
from forecast.data.splits import FrameSplit, Split, backtest_start, time_split
from forecast.errors import InputError

SPEC = dict(target="y", features=("f",), id_col="id")


def _rows(panel, w):
    """(series, local input rows [N, L], local target rows [N, H]) of every window, decoded from values."""
    b = w.batch(np.arange(len(w)))
    sx, x = decode(b["x"][:, :, 0])
    sy, y = decode(b["y"][:, :, 0])
    assert (sx == b["series"][:, None]).all() and (sy == b["series"][:, None]).all()
    return b["series"], x, y


def _check_split(panel, spec, split: Split):
    """Targets of each part lie in its rows; train windows read nothing at or after train_end; gaps >= H."""
    parts = {part: split.windows(panel, spec, part) for part in ("train", "val", "test")}
    bounds = {"train": (np.zeros_like(split.train_end), split.train_end), "val": (split.train_end, split.val_end),
              "test": (split.val_end, panel.n_observed)}
    for part, w in parts.items():
        series, x, y = _rows(panel, w)
        lo, hi = bounds[part]
        assert (y >= lo[series][:, None]).all() and (y < hi[series][:, None]).all()
        assert (x.max(axis=1, initial=-1) < y.min(axis=1, initial=10**9)).all()
    series, x, y = _rows(panel, parts["train"])
    assert (x < split.train_end[series][:, None]).all()  # no training input is a validation/test row
    for early, late in (("train", "val"), ("val", "test"), ("train", "test")):
        _check_gap(parts[early], parts[late], panel.n_series, spec.horizon)


def _check_gap(early, late, n_series, horizon):
    """In every series, the first origin of `late` is at least H rows after the last origin of `early`."""
    for s in range(n_series):
        last = early.origins[early.series(slice(None)) == s]
        first = late.origins[late.series(slice(None)) == s]
        if len(last) and len(first):
            assert first.min() - last.max() >= horizon


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(10, 80), min_size=1, max_size=4),
    lookback=st.integers(1, 6), horizon=st.integers(1, 4),
    val=st.sampled_from([0.0, 0.1, 0.2, 5]), test=st.sampled_from([0.1, 0.25, 3]),
)
def test_fraction_and_row_count_splits_never_leak_across_parts(lengths, lookback, horizon, val, test):
    spec = WindowSpec(lookback=lookback, horizon=horizon, **SPEC)
    panel = coded_panel(lengths, spec)
    split = time_split(panel, val_size=val, test_size=test)
    assert (split.train_end <= split.val_end).all() and (split.val_end <= panel.n_observed).all()
    _check_split(panel, spec, split)
    # The gap is exactly H when both parts have windows: the last training origin forecasts up to the
    # last training row, the first validation origin is the last training row.
    train, val_w = split.windows(panel, spec, "train"), split.windows(panel, spec, "val")
    if len(lengths) == 1 and len(train) and len(val_w):
        assert val_w.origins.min() - train.origins.max() == horizon


def test_fractions_round_like_the_reference_protocol():
    spec = WindowSpec(lookback=1, **SPEC)
    panel = coded_panel([1461, 100], spec)
    split = time_split(panel, test_size=0.2)
    assert split.val_end.tolist() == [int(0.8 * 1461), 80] == split.train_end.tolist()
    split = time_split(panel, val_size=0.1, test_size=0.2)
    assert split.train_end.tolist() == [int(0.7 * 1461), 70]
    split = time_split(panel, val_size=10, test_size=5)
    assert split.val_end.tolist() == [1456, 95] and split.train_end.tolist() == [1446, 85]


def test_training_rows_are_the_rows_before_train_end_of_each_series():
    spec = WindowSpec(lookback=1, **SPEC)
    panel = coded_panel([10, 20], spec)
    rows = time_split(panel, val_size=0.2, test_size=0.2).train_rows(panel)
    assert rows.tolist() == [True] * 6 + [False] * 4 + [True] * 12 + [False] * 8


@pytest.mark.parametrize("kwargs", [dict(test_size=1.5), dict(test_size=-1), dict(test_size="x"),
                                    dict(val_size=0.5, test_size=0.5), dict(test_size=30)])
def test_bad_split_sizes_name_the_problem(kwargs):
    spec = WindowSpec(lookback=1, **SPEC)
    with pytest.raises(InputError, match="split|training"):
        time_split(coded_panel([30], spec), **kwargs)


@pytest.mark.parametrize("tz", [None, "America/New_York"])
def test_backtest_start_is_one_instant_for_every_series(tz):
    spec = WindowSpec(lookback=3, horizon=2, **SPEC)
    later = coded_frame([40], start="2021-01-21", tz=tz)  # series s1 starts 20 days after s0
    later = later.assign(id="s1", y=later["y"] + CODE, f=later["f"] - CODE, k=later["k"] + CODE)
    frame = pd.concat([coded_frame([60], tz=tz), later])
    panel = build_panel(frame, spec)
    cut = backtest_start(panel, 0.2, "2021-02-20")  # a date, read in the data's own zone
    assert pd.Timestamp(cut).tz_localize("UTC" if tz else None) == pd.Timestamp("2021-02-20", tz=tz)
    assert backtest_start(panel, 0.25, None) == np.unique(panel.times)[45]  # of the 60 distinct days
    assert backtest_start(panel, 6, None) == np.unique(panel.times)[54]
    for bad in (0.0, 1.5, 60, 0, True, "x"):
        with pytest.raises(InputError, match="test_size"):
            backtest_start(panel, bad, None)


@settings(max_examples=30, deadline=None)
@given(lengths=st.lists(st.integers(10, 80), min_size=1, max_size=4),
       val=st.sampled_from([0.1, 0.15, 0.2]), test=st.sampled_from([0.1, 0.15, 0.25]))
def test_the_sweeps_frame_split_cuts_like_time_split(lengths, val, test):
    """One rule for every splitter: the sweep's frame masks are time_split's cuts on the frame's rows."""
    spec = WindowSpec(lookback=1, **SPEC)
    frame = coded_frame(lengths)
    split = time_split(build_panel(frame, spec), val_size=val, test_size=test)
    parts = FrameSplit.by_fraction(frame, spec, val, test).part
    for s, n in enumerate(lengths):
        local = np.arange(n)
        expected = np.where(local < split.train_end[s], 0, np.where(local < split.val_end[s], 1, 2))
        assert (parts[(frame["id"] == f"s{s}").to_numpy()] == expected).all()
