"""LightningDataModule over window views: each batch is gathered in one fancy-index, not per sample."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from forecast.data.windows import Windows


class WindowBatches(Dataset):
    """A Dataset indexed by *lists* of windows: `ds[[i, j, ...]]` returns one batch of tensors."""

    def __init__(self, windows: Windows) -> None:
        self.windows = windows

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, idx: list[int]) -> dict[str, torch.Tensor]:
        batch = self.windows.batch(np.asarray(idx))
        return {k: torch.from_numpy(v) for k, v in batch.items()}


def batch_loader(windows: Windows, batch_size: int, *, shuffle: bool, seed: int = 0) -> DataLoader:
    """A DataLoader that asks the dataset for whole batches (BatchSampler as sampler, batch_size=None)."""
    dataset = WindowBatches(windows)
    if shuffle:
        sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(seed))
    else:
        sampler = SequentialSampler(dataset)
    return DataLoader(dataset, sampler=BatchSampler(sampler, batch_size, drop_last=False), batch_size=None)


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
