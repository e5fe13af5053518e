"""Segment-wise recurrence pieces (SegRNN, Lin et al. 2023): cut windows into segments, decode segments in parallel.

The lookback is cut into segments of w steps and each segment embedded as one vector, so the recurrence
runs L/w steps instead of L; the horizon is decoded as ceil(H/w) segments at once, each from the encoder's
final state and a learned position embedding (SegRNN's "PMF" decoding), so no forecast feeds the next one.
"""

from __future__ import annotations

import torch
from torch import nn


def segment_lengths(lengths: torch.Tensor, n_rows: int, segment: int) -> torch.Tensor:
    """[B] real segments of left-padded windows whose last `n_rows` rows are cut into segments of `segment`."""
    real = torch.clamp(lengths, max=n_rows)
    return torch.div(real + segment - 1, segment, rounding_mode="floor")  # a partly real segment counts


class SegmentEmbedding(nn.Module):
    """[B, L, F] -> [B, L // w, d]: the last (L // w) * w rows cut into segments, each Linear + ReLU embedded.

    The oldest L % w rows are left out, so every segment ends on a segment boundary before the origin.
    """

    def __init__(self, segment: int, n_inputs: int, d_model: int) -> None:
        super().__init__()
        self.segment = segment
        self.project = nn.Sequential(nn.Linear(segment * n_inputs, d_model), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        n_segments = length // self.segment
        if n_segments < 1:
            raise ValueError(f"a window of {length} steps is shorter than one segment ({self.segment} steps)")
        rows = x[:, length - n_segments * self.segment:]  # [B, n*w, F], the newest rows
        return self.project(rows.reshape(batch, n_segments, self.segment * width))  # [B, n, w*F] -> [B, n, d]


class SegmentDecoder(nn.Module):
    """Parallel multi-step decoding: final state + one learned query per output segment -> [B, H, T, Q].

    Every output segment k runs one step of the encoder's own recurrent layer from the final state with
    input query_k (a position embedding, concatenated with a channel embedding when given), then a linear
    map to that segment's w steps. Segments are independent given the state: no recursion over outputs.
    """

    def __init__(self, hidden_size: int, horizon: int, segment: int, n_query: int, n_targets: int,
                 n_outputs: int, dropout: float) -> None:
        super().__init__()
        self.horizon, self.segment = horizon, segment
        self.n_segments = -(-horizon // segment)  # m = ceil(H / w); the tail past H is cut off
        self.position = nn.Parameter(torch.randn(self.n_segments, n_query))  # [m, Dp]
        self.dropout = nn.Dropout(dropout)
        self.n_targets, self.n_outputs = n_targets, n_outputs
        self.project = nn.Linear(hidden_size, segment * n_targets * n_outputs)

    def forward(self, rnn: nn.RNNBase, h, channel: torch.Tensor | None = None) -> torch.Tensor:
        """Decode with the encoder's layer `rnn` (passed in, not owned, so its weights are stored once) from its
        final state h ([layers, B, d], or (h, c) for an LSTM); channel [B, Dc] or None."""
        m = self.n_segments
        first = h[0] if isinstance(h, tuple) else h  # [layers, B, d]
        batch = first.shape[1]
        query = self.position.unsqueeze(0).expand(batch, -1, -1)  # [m, Dp] -> [B, m, Dp]
        if channel is not None:
            query = torch.cat([query, channel.unsqueeze(1).expand(-1, m, -1)], dim=-1)  # [B, m, Dp + Dc]
        query = query.reshape(batch * m, 1, -1)  # [B*m, 1, D]: every output segment its own one-step sequence

        def repeat(state: torch.Tensor) -> torch.Tensor:
            return state.repeat_interleave(m, dim=1)  # [layers, B, d] -> [layers, B*m, d]

        start = tuple(repeat(s) for s in h) if isinstance(h, tuple) else repeat(h)
        out, _ = rnn(query, start)  # [B*m, 1, d]
        y = self.project(self.dropout(out[:, 0]))  # [B*m, w*T*Q]
        y = y.view(batch, m * self.segment, self.n_targets, self.n_outputs)  # [B, m*w, T, Q]
        return y[:, : self.horizon]  # [B, H, T, Q]
