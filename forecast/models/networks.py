"""Plain recurrent networks: an Elman RNN / GRU / LSTM encoder with forecasting heads.

State is explicit: `forward(x, h=None) -> (y, h)`; nothing is kept on the module between calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from forecast.data.padding import pack_left_padded, padding_mask, unpack_left_padded

CELLS = ("rnn", "gru", "lstm")
HEADS = ("direct", "transducer", "classify")
SKIPS = ("none", "linear")
NORMALIZATIONS = ("none", "last")


@dataclass(frozen=True)
class NetworkConfig:
    """Everything needed to rebuild a network (stored as JSON in model artifacts)."""

    n_inputs: int
    n_targets: int = 1
    horizon: int = 1
    cell: str = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0
    nonlinearity: str = "tanh"
    head: str = "direct"
    n_outputs: int = 1  # values per (step, target): 1, or the number of quantiles
    n_classes: int = 2
    n_future: int = 0
    n_series: int = 0
    series_embedding_dim: int = 0
    category_sizes: Sequence[int] = field(default_factory=tuple)
    category_embedding_dim: int = 4
    # Direct head only. normalize="last": the network sees each target's inputs minus its value at the
    # origin and forecasts the change from it (instance normalization). skip="linear": add a linear map of
    # each target's lookback (weights shared across targets, like DLinear/LSTNet's highway) to the head.
    normalize: str = "none"
    skip: str = "none"
    lookback: int = 0  # L, needed by skip="linear"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["category_sizes"] = list(self.category_sizes)
        return data


def recurrent_layer(cell: str, n_in: int, hidden: int, layers: int, dropout: float, nonlinearity: str) -> nn.RNNBase:
    """A batch-first torch recurrent layer of the given cell type."""
    drop = dropout if layers > 1 else 0.0
    if cell == "lstm":
        return nn.LSTM(n_in, hidden, layers, batch_first=True, dropout=drop)
    if cell == "gru":
        return nn.GRU(n_in, hidden, layers, batch_first=True, dropout=drop)
    if cell == "rnn":
        return nn.RNN(n_in, hidden, layers, batch_first=True, dropout=drop, nonlinearity=nonlinearity)
    raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")


class RecurrentNetwork(nn.Module):
    """Recurrent encoder + head.

    Heads:
      direct      final state (+ known-future covariates) -> [B, H, T, Q] forecasts
      transducer  every step's state -> that step's next H values: [B, L, H, T, Q]
      classify    final state -> [B, n_classes] logits (direction or event)
    """

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = c = config
        if c.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {c.head!r}")
        if c.normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {c.normalize!r}")
        if c.skip not in SKIPS:
            raise ValueError(f"skip must be one of {SKIPS}, got {c.skip!r}")
        if (c.normalize != "none" or c.skip != "none") and c.head != "direct":
            # The transducer reads every step's state; shifting its inputs by the origin's value would show
            # earlier steps a later value, and a classifier has no forecast to add the level back to.
            raise ValueError(f"normalize={c.normalize!r} and skip={c.skip!r} need head='direct', got {c.head!r}")
        if c.skip == "linear" and c.lookback < 1:
            raise ValueError("skip='linear' needs the lookback: set NetworkConfig.lookback to L >= 1")
        self.series_embedding = (
            nn.Embedding(c.n_series + 1, c.series_embedding_dim) if c.n_series and c.series_embedding_dim else None
        )
        self.category_embeddings = nn.ModuleList(
            nn.Embedding(size + 1, c.category_embedding_dim) for size in c.category_sizes
        )
        n_rnn_in = (
            c.n_inputs
            + (c.series_embedding_dim if self.series_embedding is not None else 0)
            + c.category_embedding_dim * len(c.category_sizes)
        )
        self.rnn = recurrent_layer(c.cell, n_rnn_in, c.hidden_size, c.num_layers, c.dropout, c.nonlinearity)
        self.dropout = nn.Dropout(c.dropout)
        per_step = c.n_targets * c.n_outputs
        if c.head == "direct":
            self.head = nn.Linear(c.hidden_size + c.horizon * c.n_future, c.horizon * per_step)
        elif c.head == "transducer":
            self.head = nn.Linear(c.hidden_size, c.horizon * per_step)
        else:
            self.head = nn.Linear(c.hidden_size, c.n_classes)
        self.skip = nn.Linear(c.lookback, c.horizon) if c.skip == "linear" else None

    def _rnn_inputs(self, x: torch.Tensor, series: torch.Tensor | None, codes: torch.Tensor | None) -> torch.Tensor:
        parts = [x]  # [B, L, F]
        if self.series_embedding is not None and series is not None:
            emb = self.series_embedding(series + 1)  # [B] -> [B, E]; series -1 (unseen) -> row 0
            parts.append(emb[:, None, :].expand(-1, x.shape[1], -1))  # [B, E] -> [B, L, E]
        for k, embedding in enumerate(self.category_embeddings):
            parts.append(embedding(codes[:, :, k]))  # [B, L] -> [B, L, Ec]
        return torch.cat(parts, dim=-1) if len(parts) > 1 else x  # [B, L, F + E + C*Ec]

    def _normalize(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Inputs with each target's value at the origin subtracted (normalize="last"), and that level [B, 1, T]."""
        if self.config.normalize == "none":
            return x, None
        n_targets = self.config.n_targets
        level = x[:, -1:, :n_targets]  # [B, 1, T]; targets are the first input columns, the origin is the last row
        shifted = torch.cat([x[:, :, :n_targets] - level, x[:, :, n_targets:]], dim=-1)  # [B, L, T] + [B, L, F-T]
        return shifted, level

    def encode(self, x: torch.Tensor, h=None, *, series=None, codes=None, lengths=None):
        """Run the recurrence: [B, L, F] -> (outputs [B, L, hidden], final state h).

        lengths [B]: real rows of left-padded windows (see forecast.data.padding); the padding is packed
        away, so outputs at padded positions are zeros and h is the state after each window's origin.
        """
        inputs = self._rnn_inputs(x, series, codes)  # [B, L, F']
        if lengths is None:
            return self.rnn(inputs, h)
        out, h = self.rnn(pack_left_padded(inputs, lengths), h)  # packed: only the real rows are read
        return unpack_left_padded(out, x.shape[1]), h  # [B, L, hidden], real rows last

    def final_state(self, x: torch.Tensor, *, series=None, codes=None, lengths=None,
                    include_cell: bool = False) -> torch.Tensor:
        """[B, hidden] last layer's final hidden state (with the LSTM cell state: [B, 2*hidden])."""
        x, _ = self._normalize(x)
        _, h = self.encode(x, series=series, codes=codes, lengths=lengths)
        if isinstance(h, tuple):  # LSTM: (h_n, c_n), each [layers, B, hidden]
            return torch.cat([h[0][-1], h[1][-1]], dim=-1) if include_cell else h[0][-1]
        return h[-1]  # [layers, B, hidden] -> [B, hidden]

    def forward(self, x: torch.Tensor, h=None, *, series=None, codes=None, future=None, lengths=None):
        """Forecast from windows x [B, L, F] (left-padded when `lengths` is given); returns (prediction, state)."""
        c = self.config
        x, level = self._normalize(x)
        out, h = self.encode(x, h, series=series, codes=codes, lengths=lengths)  # out [B, L, hidden]
        if c.head == "transducer":
            y = self.head(self.dropout(out))  # [B, L, H*T*Q]
            return y.view(x.shape[0], x.shape[1], c.horizon, c.n_targets, c.n_outputs), h  # [B, L, H, T, Q]
        last = self.dropout(out[:, -1, :])  # [B, hidden]
        if c.head == "classify":
            return self.head(last), h  # [B, n_classes]
        if c.n_future:
            last = torch.cat([last, future.reshape(x.shape[0], -1)], dim=-1)  # [B, hidden + H*K]
        y = self.head(last).view(x.shape[0], c.horizon, c.n_targets, c.n_outputs)  # [B, H*T*Q] -> [B, H, T, Q]
        if self.skip is not None:
            past = x[:, :, : c.n_targets]  # [B, L, T]
            if lengths is not None:  # the skip reads left padding as zeros, whatever the normalization made of it
                past = past * padding_mask(lengths.to(x.device), x.shape[1]).unsqueeze(-1).to(x.dtype)  # [B, L, 1]
            linear = self.skip(past.transpose(1, 2))  # [B, T, L] -> [B, T, H]
            y = y + linear.transpose(1, 2).unsqueeze(-1)  # [B, H, T, Q] + [B, H, T, 1]
        if level is not None:
            y = y + level.unsqueeze(-1)  # [B, H, T, Q] + [B, 1, T, 1]
        return y, h

    def forecast(self, x: torch.Tensor, *, series=None, codes=None, future=None, lengths=None) -> torch.Tensor:
        """Forecasts from the last input step: [B, H, T, Q] (or [B, n_classes] logits)."""
        y, _ = self(x, series=series, codes=codes, future=future, lengths=lengths)
        return y[:, -1] if self.config.head == "transducer" else y  # [B, L, H, T, Q] -> [B, H, T, Q]
