"""Short histories for recurrent layers: left-padded windows <-> packed sequences.

A window with fewer than L real rows is stored left-padded ([B, L, F], real rows last, so `x[:, -1]` is
always the origin) together with its `lengths` [B]. A recurrent layer must not read the padding: these
helpers move the real rows to the front, pack them (`pack_padded_sequence`), and put the unpacked outputs
back in left-padded order, so the state after the origin is the same as for the unpadded sequence alone.
This is the one module of forecast.data that needs torch (besides the DataModule).
"""

from __future__ import annotations

import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence, pad_sequence


def left_pad(sequences: list[torch.Tensor], length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack sequences [l_i, F] into a left-padded batch [B, L, F] (zeros first) and their lengths [B].

    L is `length` (sequences longer than it keep their last L rows) or the longest sequence.
    """
    if length is not None:
        sequences = [s[-length:] for s in sequences]
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.int64)
    x = pad_sequence(sequences, batch_first=True, padding_side="left")  # [B, max l_i, F]
    if length is not None and x.shape[1] < length:
        x = torch.nn.functional.pad(x, (0, 0, length - x.shape[1], 0))  # [B, l, F] -> [B, L, F], zeros first
    return x, lengths


def padding_mask(lengths: torch.Tensor, length: int) -> torch.Tensor:
    """[B, L] True at real rows of left-padded windows (the last lengths[b] positions of row b)."""
    positions = torch.arange(length, device=lengths.device)
    return positions[None, :] >= (length - lengths)[:, None]


def _roll_rows(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Row b of x [B, L, ...] rolled left by shift[b] positions along dim 1."""
    length = x.shape[1]
    idx = (torch.arange(length, device=x.device)[None, :] + shift[:, None]) % length  # [B, L]
    return x.gather(1, idx.view(*idx.shape, *([1] * (x.dim() - 2))).expand_as(x))


def left_to_right(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """[B, L, F] left-padded -> right-padded (real rows first), as `pack_padded_sequence` expects."""
    return _roll_rows(x, x.shape[1] - lengths.to(x.device))


def right_to_left(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """[B, L, F] right-padded -> left-padded (real rows last); inverse of `left_to_right`."""
    return _roll_rows(x, lengths.to(x.device))


def pack_left_padded(x: torch.Tensor, lengths: torch.Tensor) -> PackedSequence:
    """Pack the real rows of left-padded windows x [B, L, F] (any order of lengths)."""
    lengths = torch.as_tensor(lengths, dtype=torch.int64)
    if torch.any(lengths < 1) or torch.any(lengths > x.shape[1]):
        raise ValueError(f"lengths must lie in [1, {x.shape[1]}], got min {int(lengths.min())}, max {int(lengths.max())}")
    return pack_padded_sequence(left_to_right(x, lengths), lengths.cpu(), batch_first=True, enforce_sorted=False)


def unpack_left_padded(packed: PackedSequence, length: int) -> torch.Tensor:
    """Outputs of a recurrent layer on a packed batch -> [B, L, H] left-padded, zeros at the padding."""
    out, lengths = pad_packed_sequence(packed, batch_first=True, total_length=length)  # [B, L, H] right-padded
    return right_to_left(out, lengths)
