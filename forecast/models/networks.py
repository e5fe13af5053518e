"""Plain recurrent networks: an Elman RNN / GRU / LSTM encoder with forecasting heads.

State is explicit: `forward(x, h=None) -> (y, h)`; nothing is kept on the module between calls. Options
beyond the point-wise recurrence (segments, channel independence, instance normalization) follow SegRNN
(Lin et al. 2023); their building blocks live in forecast.models.segments and forecast.models.instance_norm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from forecast.data.padding import pack_left_padded, padding_mask, unpack_left_padded
from forecast.models.instance_norm import NORMALIZATIONS, InstanceNorm
from forecast.models.segments import SegmentDecoder, SegmentEmbedding, segment_lengths

CELLS = ("rnn", "gru", "lstm")
HEADS = ("direct", "transducer", "classify", "segments")
FORECAST_HEADS = ("direct", "segments")  # heads that map one final state to [B, H, T, Q]
SKIPS = ("none", "linear", "ridge")


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
    # Forecast heads (direct, segments) only. normalize="last": the network sees each target's inputs minus
    # its value at the origin and forecasts the change from it; "revin": minus the lookback mean, divided by
    # the standard deviation, both put back on the forecasts (normalize_affine: a learned per-target scale
    # and shift on top). skip="linear": add a linear map of each target's lookback (weights shared across
    # targets, like DLinear/LSTNet's highway) to the head, learned with the rest; skip="ridge": the same map
    # fitted by ridge regression before training and frozen (forecast.models.highway).
    normalize: str = "none"
    skip: str = "none"
    lookback: int = 0  # L, needed by skip="linear"
    normalize_affine: bool = False
    # segment=w > 1: the lookback's last (L // w) * w steps are cut into segments of w steps, each embedded
    # (Linear + ReLU) into hidden_size, one recurrent step per segment; head="segments" decodes the horizon
    # as ceil(H / w) segments of w steps in parallel (a learned position embedding per output segment) and
    # always embeds its inputs (with w = 1, step by step).
    # channel_independent: every target column is its own series (with the shared covariates) through the
    # same weights; channel_embedding_dim > 0 gives each target column a learned vector (in the segments
    # head's decoder queries, else beside the encoder inputs). The defaults are the point-wise network.
    segment: int = 1
    channel_independent: bool = False
    channel_embedding_dim: int = 0

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
      segments    final state + one learned query per output segment -> [B, H, T, Q] (parallel decoding)
      transducer  every step's state -> that step's next H values: [B, L, H, T, Q]
      classify    final state -> [B, n_classes] logits (direction or event)
    """

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = c = config
        check_config(c)
        self.norm = InstanceNorm(c.normalize, c.n_targets, c.normalize_affine)
        self.series_embedding = (
            nn.Embedding(c.n_series + 1, c.series_embedding_dim) if c.n_series and c.series_embedding_dim else None
        )
        self.category_embeddings = nn.ModuleList(
            nn.Embedding(size + 1, c.category_embedding_dim) for size in c.category_sizes
        )
        self.channel_embedding = nn.Embedding(c.n_targets, c.channel_embedding_dim) if c.channel_embedding_dim else None
        channel_in_encoder = self.channel_embedding is not None and c.head != "segments"
        n_series_in = 1 + c.n_inputs - c.n_targets if c.channel_independent else c.n_inputs  # per series
        n_step_in = (
            n_series_in
            + (c.series_embedding_dim if self.series_embedding is not None else 0)
            + c.category_embedding_dim * len(c.category_sizes)
            + (c.channel_embedding_dim if channel_in_encoder else 0)
        )
        embed = c.segment > 1 or c.head == "segments"  # the segments head decodes in the embedding's width
        self.segment_embedding = SegmentEmbedding(c.segment, n_step_in, c.hidden_size) if embed else None
        n_rnn_in = c.hidden_size if self.segment_embedding is not None else n_step_in
        self.rnn = recurrent_layer(c.cell, n_rnn_in, c.hidden_size, c.num_layers, c.dropout, c.nonlinearity)
        self.dropout = nn.Dropout(c.dropout)
        n_out = 1 if c.channel_independent else c.n_targets  # target columns per series
        per_step = n_out * c.n_outputs
        if c.head == "direct":
            self.head = nn.Linear(c.hidden_size + c.horizon * c.n_future, c.horizon * per_step)
        elif c.head == "transducer":
            self.head = nn.Linear(c.hidden_size, c.horizon * per_step)
        elif c.head == "classify":
            self.head = nn.Linear(c.hidden_size, c.n_classes)
        else:  # the decoder's queries are the recurrent layer's inputs: position [+ channel] embedding
            n_query = c.hidden_size - c.channel_embedding_dim
            self.head = SegmentDecoder(c.hidden_size, c.horizon, c.segment, n_query, n_out, c.n_outputs, c.dropout)
        self.skip = nn.Linear(c.lookback, c.horizon) if c.skip != "none" else None
        if c.skip == "ridge":  # fitted in closed form by train() (forecast.models.highway), never by the optimizer
            self.skip.requires_grad_(False)

    def _channels(self, batch: int) -> torch.Tensor | None:
        """[B*T, Dc] each series' channel embedding (series b*T + t is target t of window b), or None."""
        if self.channel_embedding is None:
            return None
        return self.channel_embedding.weight.repeat(batch, 1)  # [T, Dc] -> [B*T, Dc]

    def _rnn_inputs(self, x: torch.Tensor, series: torch.Tensor | None, codes: torch.Tensor | None) -> torch.Tensor:
        """Per-step recurrent inputs [B', L, F']: B' = B*T series when channel-independent, else B windows."""
        c = self.config
        batch, length = x.shape[:2]
        if c.channel_independent:  # target t of window b becomes series b*T + t, with the window's covariates
            own = x[:, :, : c.n_targets].transpose(1, 2).reshape(-1, length, 1)  # [B, T, L] -> [B*T, L, 1]
            covariates = x[:, :, c.n_targets:].repeat_interleave(c.n_targets, dim=0)  # [B*T, L, F-T]
            x = torch.cat([own, covariates], dim=-1)  # [B*T, L, 1+F-T]
            series = None if series is None else series.repeat_interleave(c.n_targets)  # [B*T]
            codes = None if codes is None else codes.repeat_interleave(c.n_targets, dim=0)  # [B*T, L, C]
        parts = [x]  # [B', L, F]
        if self.series_embedding is not None and series is not None:
            emb = self.series_embedding(series + 1)  # [B'] -> [B', E]; series -1 (unseen) -> row 0
            parts.append(emb[:, None, :].expand(-1, length, -1))  # [B', E] -> [B', L, E]
        for k, embedding in enumerate(self.category_embeddings):
            parts.append(embedding(codes[:, :, k]))  # [B', L] -> [B', L, Ec]
        if self.channel_embedding is not None and c.head != "segments":
            parts.append(self._channels(batch)[:, None, :].expand(-1, length, -1))  # [B*T, L, Dc]
        return torch.cat(parts, dim=-1) if len(parts) > 1 else x  # [B', L, F + E + C*Ec (+ Dc)]

    def encode(self, x: torch.Tensor, h=None, *, series=None, codes=None, lengths=None):
        """Run the recurrence: [B, L, F] -> (outputs [B', n, hidden], final state h).

        B' = B*T series when channel-independent, else B; n = L // segment recurrent steps. lengths [B]:
        real rows of left-padded windows (see forecast.data.padding); the padding is packed away (with
        segments: read as zeros, and segments without a real row packed away), so outputs at padded
        positions are zeros and h is the state after each window's origin.
        """
        c = self.config
        inputs = self._rnn_inputs(x, series, codes)  # [B', L, F']
        if lengths is not None and c.channel_independent:
            lengths = lengths.repeat_interleave(c.n_targets)  # [B*T]
        if self.segment_embedding is not None:
            if lengths is not None:
                real = padding_mask(lengths.to(x.device), x.shape[1]).unsqueeze(-1)  # [B', L, 1]
                inputs = torch.where(real, inputs, torch.zeros_like(inputs))
                lengths = segment_lengths(lengths, x.shape[1] // c.segment * c.segment, c.segment)
            inputs = self.segment_embedding(inputs)  # [B', L, F'] -> [B', n, hidden]
        if lengths is None:
            return self.rnn(inputs, h)
        out, h = self.rnn(pack_left_padded(inputs, lengths), h)  # packed: only the real rows are read
        return unpack_left_padded(out, inputs.shape[1]), h  # [B', n, hidden], real rows last

    def final_state(self, x: torch.Tensor, *, series=None, codes=None, lengths=None,
                    include_cell: bool = False) -> torch.Tensor:
        """[B, hidden] last layer's final hidden state (with the LSTM cell state: [B, 2*hidden])."""
        if self.config.channel_independent:
            raise ValueError("final_state gives one state per window; a channel-independent network has one per target")
        x, _ = self.norm.normalize(x, lengths)
        _, h = self.encode(x, series=series, codes=codes, lengths=lengths)
        if isinstance(h, tuple):  # LSTM: (h_n, c_n), each [layers, B, hidden]
            return torch.cat([h[0][-1], h[1][-1]], dim=-1) if include_cell else h[0][-1]
        return h[-1]  # [layers, B, hidden] -> [B, hidden]

    def forward(self, x: torch.Tensor, h=None, *, series=None, codes=None, future=None, lengths=None):
        """Forecast from windows x [B, L, F] (left-padded when `lengths` is given); returns (prediction, state)."""
        c = self.config
        batch = x.shape[0]
        x, stats = self.norm.normalize(x, lengths)  # targets on each window's own scale
        out, h = self.encode(x, h, series=series, codes=codes, lengths=lengths)  # out [B', n, hidden]
        if c.head == "transducer":
            y = self.head(self.dropout(out))  # [B, L, H*T*Q]
            return y.view(batch, x.shape[1], c.horizon, c.n_targets, c.n_outputs), h  # [B, L, H, T, Q]
        if c.head == "segments":
            y = self.head(self.rnn, h, self._channels(batch))  # [B', H, T', Q]
        else:
            last = self.dropout(out[:, -1, :])  # [B', hidden]
            if c.head == "classify":
                return self.head(last), h  # [B, n_classes]
            if c.n_future:
                future = future.reshape(batch, -1)  # [B, H*K]
                if c.channel_independent:
                    future = future.repeat_interleave(c.n_targets, dim=0)  # [B*T, H*K]
                last = torch.cat([last, future], dim=-1)  # [B', hidden + H*K]
            y = self.head(last).view(last.shape[0], c.horizon, -1, c.n_outputs)  # [B', H*T'*Q] -> [B', H, T', Q]
        if c.channel_independent:  # series b*T + t -> target t of window b
            y = y.view(batch, c.n_targets, c.horizon, c.n_outputs).transpose(1, 2)  # [B, T, H, Q] -> [B, H, T, Q]
        if self.skip is not None:
            linear = self.skip(self.skip_inputs(x, lengths))  # [B, T, L] -> [B, T, H]
            y = y + linear.transpose(1, 2).unsqueeze(-1)  # [B, H, T, Q] + [B, H, T, 1]
        return self.norm.denormalize(y, stats), h  # back to each window's level (and scale)

    def skip_inputs(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """[B, T, L] what the linear skip reads: each target's lookback from normalized windows x [B, L, F],
        left padding as zeros whatever the normalization made of it (forecast.models.highway fits on the same)."""
        past = x[:, :, : self.config.n_targets]  # [B, L, T]
        if lengths is not None:
            real = padding_mask(lengths.to(x.device), x.shape[1]).unsqueeze(-1)  # [B, L, 1]
            past = torch.where(real, past, torch.zeros_like(past))
        return past.transpose(1, 2)  # [B, T, L]

    def forecast(self, x: torch.Tensor, *, series=None, codes=None, future=None, lengths=None) -> torch.Tensor:
        """Forecasts from the last input step: [B, H, T, Q] (or [B, n_classes] logits)."""
        y, _ = self(x, series=series, codes=codes, future=future, lengths=lengths)
        return y[:, -1] if self.config.head == "transducer" else y  # [B, L, H, T, Q] -> [B, H, T, Q]


def check_config(c: NetworkConfig) -> None:
    """Reject option combinations the network cannot honour, naming the option and what it needs (ValueError;
    estimators call it before training and turn it into an InputError)."""
    if c.head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {c.head!r}")
    if c.normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {c.normalize!r}")
    if c.skip not in SKIPS:
        raise ValueError(f"skip must be one of {SKIPS}, got {c.skip!r}")
    if (c.normalize != "none" or c.skip != "none") and c.head not in FORECAST_HEADS:
        # The transducer reads every step's state; shifting its inputs by the origin's value would show
        # earlier steps a later value, and a classifier has no forecast to add the level back to.
        raise ValueError(f"normalize={c.normalize!r} and skip={c.skip!r} need head='direct' or 'segments', got {c.head!r}")
    if c.skip != "none" and c.lookback < 1:
        raise ValueError(f"skip={c.skip!r} needs the lookback: set NetworkConfig.lookback to L >= 1")
    if c.segment < 1:
        raise ValueError(f"segment must be a positive number of steps, got {c.segment}")
    if c.lookback and c.segment > c.lookback:
        raise ValueError(f"segment={c.segment} is longer than the lookback ({c.lookback}); use a segment of at most "
                         "the lookback (one that divides it reads every step)")
    if c.segment > 1 and c.head == "transducer":
        raise ValueError(f"segment={c.segment} needs a head that reads the final state, not head='transducer'")
    if c.channel_independent and c.head not in FORECAST_HEADS:
        raise ValueError(f"channel_independent=True needs head in {FORECAST_HEADS}, got {c.head!r}")
    if c.channel_embedding_dim and not c.channel_independent:
        raise ValueError("channel_embedding_dim > 0 needs channel_independent=True")
    if c.head == "segments" and c.channel_embedding_dim >= c.hidden_size:
        raise ValueError(f"head='segments' needs channel_embedding_dim < hidden_size (the decoder's query holds both),"
                         f" got {c.channel_embedding_dim} >= {c.hidden_size}")
    if c.n_future and c.head == "segments":
        raise ValueError("known-future covariates (n_future > 0) need head='direct', not head='segments'")
