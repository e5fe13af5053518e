"""The DataModule serves train / val / test / predict batches of the documented shapes; shuffling follows the seed."""

from __future__ import annotations

import numpy as np
import torch
from _frames import coded_frame, coded_panel, decode

from forecast.config import WindowSpec
from forecast.data.datamodule import WindowDataModule, batch_loader
from forecast.data.panel import build_panel
from forecast.data.splits import time_split
from forecast.data.windows import make_windows

SPEC = WindowSpec(target="y", lookback=5, horizon=2, features=("f",), known_future=("k",),
                  calendar=("dayofweek",), categorical=("cat",), id_col="id")


def _module(batch_size=16, seed=0):
    panel = coded_panel([80, 50], SPEC)
    split = time_split(panel, val_size=0.2, test_size=0.2)
    # Forecasting frame: two more rows per series with planned k but no target yet.
    ahead = coded_frame([82, 52])
    ahead.loc[ahead.groupby("id").cumcount(ascending=False).to_numpy() < 2, "y"] = np.nan
    predict_panel = build_panel(ahead, SPEC, vocabularies={"cat": ["a", "b"]}, future_steps=2)
    sets = {part: split.windows(panel, SPEC, part) for part in ("train", "val", "test")}
    sets["predict"] = make_windows(predict_panel, SPEC, require_targets=False)
    return WindowDataModule(**sets, batch_size=batch_size, seed=seed), sets


def _origins(loader):
    """Decoded (series, origin row) of every window in loader order."""
    out = []
    for batch in loader:
        series, rows = decode(batch["x"][:, -1, 0].numpy())
        out.extend(zip(series.tolist(), rows.tolist(), strict=True))
    return out


def test_every_loader_serves_batches_of_the_documented_shapes():
    dm, sets = _module(batch_size=16)
    loaders = {"train": dm.train_dataloader(), "val": dm.val_dataloader(), "test": dm.test_dataloader(),
               "predict": dm.predict_dataloader()}
    for name, loader in loaders.items():
        n = len(sets[name])
        assert len(loader) == -(-n // 16)
        sizes = []
        for batch in loader:
            b = len(batch["x"])
            sizes.append(b)
            assert batch["x"].shape == (b, 5, 3 + 2) and batch["x"].dtype == torch.float32  # y, f, k, dow sin/cos
            assert batch["y"].shape == (b, 2, 1) and batch["y"].dtype == torch.float32
            assert batch["future"].shape == (b, 2, 1 + 2)
            assert batch["codes"].shape == (b, 5, 1) and batch["codes"].dtype == torch.int64
            assert batch["series"].shape == (b,) and batch["series"].dtype == torch.int64
        assert sum(sizes) == n and all(s == 16 for s in sizes[:-1])
    # Evaluation loaders keep time order; the predict loader ends at each series' last observed row.
    for name in ("val", "test", "predict"):
        got = _origins(loaders[name])
        assert got == sorted(got)
    assert _origins(loaders["predict"])[-1] == (1, 49)


def test_training_batches_are_shuffled_reproducibly_by_seed_and_cover_every_window_once():
    first = _origins(_module(seed=3)[0].train_dataloader())
    again = _origins(_module(seed=3)[0].train_dataloader())
    other = _origins(_module(seed=4)[0].train_dataloader())
    assert first == again
    assert first != other and sorted(first) == sorted(other)
    assert first != sorted(first)
    assert len(set(first)) == len(first)
    # Each epoch draws a new order from the same generator, still reproducibly.
    loader = _module(seed=3)[0].train_dataloader()
    epoch1, epoch2 = _origins(loader), _origins(loader)
    assert epoch1 == first and epoch2 != epoch1 and sorted(epoch2) == sorted(epoch1)


def test_missing_sets_give_empty_loaders():
    dm = WindowDataModule(batch_size=8)
    assert list(dm.val_dataloader()) == [] and list(dm.predict_dataloader()) == []


def test_padded_windows_carry_lengths_through_the_loader():
    spec = WindowSpec(target="y", lookback=6, horizon=1, id_col="id")
    panel = coded_panel([4, 30], spec)
    w = make_windows(panel, spec, min_lookback=2)
    assert w.skipped == []
    batch = next(iter(batch_loader(w, 64, shuffle=False)))
    assert batch["lengths"].dtype == torch.int64
    # The 4-row series has origins at rows 1 and 2 (targets at 2 and 3), then the long series starts over.
    assert batch["lengths"][:5].tolist() == [2, 3, 2, 3, 4]
    np.testing.assert_array_equal(batch["x"][0, :4].numpy(), 0)  # left padding


def test_lightnings_distributed_wrapper_shards_whole_blocks_across_ranks():
    """Under DDP Lightning wraps a custom sampler in DistributedSamplerWrapper: each rank gets whole batches."""
    from lightning.fabric.utilities.distributed import DistributedSamplerWrapper

    from forecast.data.datamodule import BlockSampler

    seen = []
    for rank in range(2):
        wrapped = DistributedSamplerWrapper(BlockSampler(1000, 64, shuffle=True, seed=5), num_replicas=2,
                                            rank=rank, shuffle=False)
        blocks = list(wrapped)
        assert len(blocks) == 8 and all(isinstance(b, np.ndarray) for b in blocks)
        seen.append(np.concatenate(blocks))
    assert np.array_equal(np.unique(np.concatenate(seen)), np.arange(1000))  # every window, the same order on both
