"""LightningDataModule over window views: each batch is gathered in one fancy-index, not per sample.

Loaders yield dicts of tensors with the shapes of `forecast.data.windows` (x [B, L, F], y [B, H, T],
future [B, H, K], codes [B, L, C], series [B], lengths [B] for padded windows).
"""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from forecast.data.windows import Windows


class WindowBatches(Dataset):
    """A Dataset indexed by *blocks* of windows: `ds[idx]` (an index array) returns one batch of tensors."""

    def __init__(self, windows: Windows) -> None:
        self.windows = windows

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, idx: np.ndarray | list[int]) -> dict[str, torch.Tensor]:
        batch = self.windows.batch(np.asarray(idx))
        return {k: torch.from_numpy(v) for k, v in batch.items()}


class BlockSampler(Sampler[np.ndarray]):
    """Yields index blocks of `batch_size` windows: a fresh permutation per epoch when shuffling.

    Epoch e's permutation is seeded by (seed, e), so the sequence of epochs is reproducible by seed and a
    fit resumed from a checkpoint at epoch e shuffles exactly as the uninterrupted fit did (Lightning calls
    `set_epoch` at the start of every epoch; plain iteration counts epochs itself). One index array per
    batch replaces a Python list of ints per batch. Under DDP, Lightning wraps it in
    DistributedSamplerWrapper, which hands each rank whole blocks.
    """

    def __init__(self, n: int, batch_size: int, *, shuffle: bool, seed: int = 0) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.n, self.batch_size, self.shuffle, self.seed = n, batch_size, shuffle, seed
        self.epoch = 0

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Shuffle for `epoch` next (called by Lightning at the start of each epoch)."""
        self.epoch = epoch

    def __iter__(self):
        if self.shuffle:  # numpy's permutation is several times faster than torch.randperm for millions
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        else:
            order = np.arange(self.n)
        self.epoch += 1  # the next epoch, for callers that never call set_epoch
        for start in range(0, self.n, self.batch_size):
            yield order[start:start + self.batch_size]


def _as_is(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Collate function for batches that already are tensors (a module-level function: picklable)."""
    return batch


def batch_loader(windows: Windows, batch_size: int, *, shuffle: bool, seed: int = 0) -> DataLoader:
    """A DataLoader that asks the dataset for whole batches (a block sampler, batch_size=None)."""
    sampler = BlockSampler(len(windows), batch_size, shuffle=shuffle, seed=seed)
    return DataLoader(WindowBatches(windows), sampler=sampler, batch_size=None, collate_fn=_as_is)


class WindowDataModule(L.LightningDataModule):
    """Train / val / test / predict loaders from precomputed window sets (any may be None)."""

    def __init__(self, *, train: Windows | None = None, val: Windows | None = None, test: Windows | None = None,
                 predict: Windows | None = None, batch_size: int = 64, seed: int = 0) -> None:
        super().__init__()
        self.sets = {"train": train, "val": val, "test": test, "predict": predict}
        self.batch_size = batch_size
        self.seed = seed

    def _loader(self, name: str, shuffle: bool) -> DataLoader:
        windows = self.sets[name]
        return batch_loader(windows, self.batch_size, shuffle=shuffle, seed=self.seed) if windows else []

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("predict", shuffle=False)
