"""Synthetic sequence tasks with a known answer, for measuring memory and order sensitivity."""

from __future__ import annotations

import numpy as np
import torch


def recall_task(n: int, length: int, distance: int, *, n_symbols: int = 4, seed: int = 0
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Marked recall: which symbol stood `distance` steps before the end of the sequence?

    Every step shows a random symbol (one-hot, `n_symbols` channels); a marker channel is 1 at the one step
    that matters, position length-1-distance, so all other symbols are distractors. A network answers
    right only if it stored that symbol and kept it for `distance` steps. Chance is 1/n_symbols.
    Returns x [n, length, n_symbols+1] float32 and the labels y [n] int64.
    """
    if not 0 <= distance < length:
        raise ValueError(f"distance must be in [0, length-1] = [0, {length - 1}], got {distance}")
    rng = np.random.default_rng(seed)
    symbols = rng.integers(0, n_symbols, size=(n, length))
    x = np.zeros((n, length, n_symbols + 1), dtype=np.float32)
    x[np.arange(n)[:, None], np.arange(length)[None, :], symbols] = 1.0  # one-hot symbols
    position = length - 1 - distance
    x[:, position, n_symbols] = 1.0  # the marker
    return torch.from_numpy(x), torch.from_numpy(symbols[:, position].astype(np.int64))


def increasing_task(n_pairs: int, length: int, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Is the sequence increasing? Pairs of sequences with the same values: one sorted, one not.

    Every pair holds the same multiset of values (distinct, uniform in [-1, 1]) in two orders, sorted
    (label 1) and shuffled until it is not sorted (label 0). Anything that sees only the multiset, such as
    a sum of the inputs, gets exactly one of each pair right: 50%. Returns x [2n, length, 1], y [2n].
    """
    if length < 2:
        raise ValueError(f"length must be at least 2 for order to matter, got {length}")
    rng = np.random.default_rng(seed)
    values = np.sort(rng.uniform(-1.0, 1.0, size=(n_pairs, length)), axis=1)  # [n, L] sorted rows
    shuffled = rng.permuted(values, axis=1)
    still_sorted = np.all(np.diff(shuffled, axis=1) > 0, axis=1)
    while still_sorted.any():  # reshuffle the few rows that came out sorted (1/L! of them)
        shuffled[still_sorted] = rng.permuted(shuffled[still_sorted], axis=1)
        still_sorted = np.all(np.diff(shuffled, axis=1) > 0, axis=1)
    x = np.concatenate([values, shuffled])[:, :, None].astype(np.float32)  # [2n, L, 1]
    y = np.concatenate([np.ones(n_pairs), np.zeros(n_pairs)]).astype(np.int64)
    order = rng.permutation(2 * n_pairs)
    return torch.from_numpy(x[order]), torch.from_numpy(y[order])


def permute_steps(x: torch.Tensor, *, seed: int = 0) -> torch.Tensor:
    """The same sequences with their steps in another (random, per-sequence) order: [B, L, F] -> [B, L, F]."""
    generator = torch.Generator().manual_seed(seed)
    order = torch.argsort(torch.rand(x.shape[:2], generator=generator), dim=1)  # [B, L]
    return torch.gather(x, 1, order[:, :, None].expand_as(x))
