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
from forecast.data.splits import Split, date_split, time_split, walk_forward
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
def test_date_split_cuts_every_series_at_the_same_instant(tz):
    spec = WindowSpec(lookback=3, horizon=2, **SPEC)
    later = coded_frame([40], start="2021-01-21", tz=tz)  # series s1 starts 20 days after s0
    later = later.assign(id="s1", y=later["y"] + CODE, f=later["f"] - CODE, k=later["k"] + CODE)
    frame = pd.concat([coded_frame([60], tz=tz), later])
    panel = build_panel(frame, spec)
    split = date_split(panel, val_start="2021-02-10", test_start="2021-02-20")
    assert split.train_end.tolist() == [40, 20] and split.val_end.tolist() == [50, 30]
    _check_split(panel, spec, split)
    # Timestamps of every training target lie before the validation date.
    train = split.windows(panel, spec, "train")
    target_rows = train.origins[:, None] + 1 + np.arange(spec.horizon)
    assert (panel.timestamps(target_rows.ravel()) < pd.Timestamp("2021-02-10", tz=tz)).all()
    with pytest.raises(InputError, match="after"):
        date_split(panel, val_start="2021-03-01", test_start="2021-02-01")


@pytest.mark.parametrize("expanding", [True, False])
def test_walk_forward_folds_are_time_ordered_and_leak_free(expanding):
    spec = WindowSpec(lookback=4, horizon=3, **SPEC)
    panel = coded_panel([100, 61], spec)
    folds = list(walk_forward(panel, spec, n_folds=4, test_size=0.4, expanding=expanding, train_size=30))
    assert len(folds) == 4
    train_start, train_end, test_end = folds[0]  # unpacks as a tuple
    assert train_end.tolist() == [60, 36]
    for k, fold in enumerate(folds):
        if expanding:
            assert (fold.train_start == 0).all()
        else:
            assert (fold.train_end - fold.train_start == 30).all()
        if k:
            prev = folds[k - 1]
            assert (fold.train_end == prev.test_end).all() and (fold.train_start >= prev.train_start).all()
        train, test = fold.windows(panel, spec, "train"), fold.windows(panel, spec, "test")
        s, x, y = _rows(panel, train)
        assert (x >= fold.train_start[s][:, None]).all() and (y < fold.train_end[s][:, None]).all()
        s, x, y = _rows(panel, test)
        assert (y >= fold.train_end[s][:, None]).all() and (y < fold.test_end[s][:, None]).all()
        _check_gap(train, test, panel.n_series, spec.horizon)
        mask = fold.train_rows(panel)
        assert mask.sum() == (fold.train_end - fold.train_start).sum()
    assert (folds[-1].test_end == panel.n_observed).all()


def test_walk_forward_checks_its_arguments():
    spec = WindowSpec(lookback=2, **SPEC)
    panel = coded_panel([50], spec)
    with pytest.raises(InputError, match="n_folds"):
        list(walk_forward(panel, spec, n_folds=0, test_size=0.2))
    with pytest.raises(InputError, match="train_size"):
        list(walk_forward(panel, spec, n_folds=2, test_size=0.2, expanding=False, train_size=0))
    sliding = list(walk_forward(panel, spec, n_folds=2, test_size=10, expanding=False))
    assert (sliding[1].train_end - sliding[1].train_start == 40).all()  # default: the rows before the tests
