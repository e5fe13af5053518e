"""SegRNN-style options of RecurrentNetwork: segment recurrence, the parallel segments head, channel
independence and instance normalization, for every cell."""

from __future__ import annotations

import itertools

import pytest
import torch

from forecast.models.instance_norm import InstanceNorm
from forecast.models.networks import CELLS, NetworkConfig, RecurrentNetwork, recurrent_layer
from forecast.models.segments import shared_state_step

B, L, H = 5, 12, 7  # H is not a multiple of the segment lengths below: the last segment is cut


def _net(**kwargs) -> RecurrentNetwork:
    torch.manual_seed(0)
    config = {"n_inputs": 3, "n_targets": 2, "horizon": H, "hidden_size": 8, "lookback": L, **kwargs}
    return RecurrentNetwork(NetworkConfig(**config)).eval()


OPTIONS = [  # (segment, channel_independent, channel_embedding_dim, normalize, normalize_affine, skip)
    (1, False, 0, "none", False, "none"),
    (4, False, 0, "last", False, "linear"),
    (5, True, 0, "revin", False, "none"),  # L % 5 != 0: the oldest two rows are left out
    (4, True, 3, "revin", True, "linear"),
    (1, True, 2, "last", False, "none"),
    (4, True, 0, "revin", False, "ridge"),  # the highway's weights are fitted by train(); here, as built
]


@pytest.mark.parametrize("cell, head, options", list(itertools.product(CELLS, ["direct", "segments"], OPTIONS)))
@pytest.mark.parametrize("n_layers, n_outputs", [(1, 1), (2, 3)])
def test_forecast_shapes_for_every_cell_head_and_option(cell, head, options, n_layers, n_outputs):
    segment, independent, channel_dim, normalize, affine, skip = options
    net = _net(cell=cell, head=head, segment=segment, channel_independent=independent, num_layers=n_layers,
               channel_embedding_dim=channel_dim, normalize=normalize, normalize_affine=affine, skip=skip,
               n_outputs=n_outputs)
    x = torch.randn(B, L, 3)
    with torch.no_grad():
        y, h = net(x)
        padded = net.forecast(x, lengths=torch.tensor([L, 1, 6, 9, L]))
    assert y.shape == padded.shape == (B, H, 2, n_outputs)
    state = h[0] if isinstance(h, tuple) else h
    assert state.shape == (n_layers, B * (2 if independent else 1), 8)  # one state per series
    assert torch.isfinite(y).all() and torch.isfinite(padded).all()


def test_segments_shorten_the_recurrence_to_one_step_per_segment():
    net = _net(segment=4, head="segments")
    with torch.no_grad():
        out, _ = net.encode(torch.randn(B, L, 3))
    assert out.shape == (B, L // 4, 8)  # [B, n segments, hidden]
    assert net.head.position.shape == (2, 8)  # ceil(7 / 4) output segments, each a query of the GRU's width


def test_segment_one_is_the_point_wise_network():
    # segment=1 adds no layer and no parameter: the same weights give the same forecasts as today's network.
    pointwise = _net(normalize="last", skip="linear")
    explicit = _net(normalize="last", skip="linear", segment=1)
    assert explicit.segment_embedding is None
    assert list(explicit.state_dict()) == ["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0",
                                           "rnn.bias_hh_l0", "head.weight", "head.bias", "skip.weight",
                                           "skip.bias"]
    x = torch.randn(B, L, 3)
    with torch.no_grad():
        torch.testing.assert_close(explicit.forecast(x), pointwise.forecast(x), rtol=0, atol=0)


def test_configs_saved_before_the_new_options_load_unchanged():
    old = {"n_inputs": 3, "n_targets": 2, "horizon": 4, "cell": "gru", "hidden_size": 8, "head": "direct",
           "normalize": "last", "skip": "none", "lookback": 6, "category_sizes": []}  # no segment/channel keys
    config = NetworkConfig(**old)
    assert (config.segment, config.channel_independent, config.channel_embedding_dim) == (1, False, 0)
    assert not config.normalize_affine
    assert NetworkConfig(**config.to_dict()).to_dict() == config.to_dict()  # what artifacts store round-trips
    assert all(not k.startswith(("norm", "segment", "channel")) for k in RecurrentNetwork(config).state_dict())


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("head, segment", [("direct", 1), ("direct", 3), ("segments", 3)])
def test_channel_independence_with_one_target_is_the_joint_network(cell, head, segment):
    # One target column: the per-channel reshape is the identity, so the same weights give the same forecasts.
    joint = _net(cell=cell, head=head, segment=segment, n_inputs=2, n_targets=1)
    independent = _net(cell=cell, head=head, segment=segment, n_inputs=2, n_targets=1, channel_independent=True)
    independent.load_state_dict(joint.state_dict())
    x = torch.randn(B, L, 2)
    with torch.no_grad():
        torch.testing.assert_close(independent.forecast(x), joint.forecast(x))


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("head, segment", [("direct", 1), ("segments", 4)])
def test_channel_independent_forecasts_follow_their_channel_whatever_the_order(cell, head, segment):
    net = _net(cell=cell, head=head, segment=segment, n_inputs=4, n_targets=4, channel_independent=True,
               normalize="revin")
    x = torch.randn(B, L, 4)
    order = torch.tensor([2, 0, 3, 1])
    with torch.no_grad():
        base = net.forecast(x)  # [B, H, T, 1]
        permuted = net.forecast(x[:, :, order])
        alone = net.forecast(torch.cat([x[:, :, 1:2]] * 4, dim=-1))  # channel 1 copied into every column
    torch.testing.assert_close(permuted, base[:, :, order])
    torch.testing.assert_close(alone[:, :, 0], base[:, :, 1])  # a channel's forecast reads only that channel


def test_a_channel_embedding_tells_the_channels_apart():
    net = _net(head="segments", segment=4, n_inputs=2, n_targets=2, channel_independent=True,
               channel_embedding_dim=3)
    x = torch.randn(B, L, 1).expand(-1, -1, 2)  # both channels hold the same series
    with torch.no_grad():
        y = net.forecast(x)
    assert not torch.allclose(y[:, :, 0], y[:, :, 1])
    assert net.head.position.shape == (2, 8 - 3)  # the query is [position (d - Dc), channel (Dc)]


@pytest.mark.parametrize("mode, affine", [("last", False), ("revin", False), ("revin", True)])
def test_instance_normalization_inverts_exactly(mode, affine):
    torch.manual_seed(1)
    norm = InstanceNorm(mode, n_targets=2, affine=affine)
    if affine:  # a non-trivial learned map
        with torch.no_grad():
            norm.weight.copy_(torch.tensor([0.5, 2.0]))
            norm.bias.copy_(torch.tensor([0.3, -1.0]))
    x = 10 + 3 * torch.randn(B, L, 3, dtype=torch.float64)
    z, stats = norm.normalize(x)
    torch.testing.assert_close(z[:, :, 2], x[:, :, 2], rtol=0, atol=0)  # covariates are left alone
    back = norm.denormalize(z[:, :, :2].unsqueeze(-1), stats)[..., 0]  # read the lookback as a "forecast"
    torch.testing.assert_close(back, x[:, :, :2], rtol=1e-12, atol=1e-12)
    if mode == "revin" and not affine:
        torch.testing.assert_close(z[:, :, :2].mean(dim=1), torch.zeros(B, 2, dtype=torch.float64))
        torch.testing.assert_close(z[:, :, :2].std(dim=1, unbiased=False), torch.ones(B, 2, dtype=torch.float64),
                                   rtol=1e-5, atol=1e-5)  # up to RevIN's epsilon


def test_revin_forecasts_move_with_the_window_level_and_scale():
    net = _net(head="segments", segment=4, normalize="revin", channel_independent=True)
    x = torch.randn(B, L, 3, dtype=torch.float64)
    net = net.double()
    shift, scale = torch.tensor([5.0, -3.0, 0.0], dtype=torch.float64), 4.0
    with torch.no_grad():
        base = net.forecast(x)
        moved = net.forecast(torch.cat([x[:, :, :2] * scale, x[:, :, 2:]], dim=-1) + shift)
    want = base * scale + shift[:2].view(1, 1, 2, 1)
    torch.testing.assert_close(moved, want, rtol=1e-4, atol=1e-4)  # exact but for RevIN's epsilon


def test_revin_statistics_read_only_the_real_rows():
    norm = InstanceNorm("revin", n_targets=1)
    x = torch.randn(2, L, 1)
    noisy = x.clone()
    noisy[0, :5] = 99.0  # padding rows of window 0
    lengths = torch.tensor([L - 5, L])
    for a, b in zip(norm.statistics(noisy, lengths), norm.statistics(x, lengths), strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("head, segment, independent", [("direct", 1, False), ("direct", 4, True),
                                                        ("segments", 4, False), ("segments", 3, True)])
def test_no_look_ahead_past_the_origin(cell, head, segment, independent):
    # Windows of one series, batched together: changing the series after window 0's origin (which changes
    # the later windows in the same batch) never changes window 0's forecast.
    net = _net(cell=cell, head=head, segment=segment, channel_independent=independent, normalize="revin",
               skip="linear")
    series = torch.randn(L + 20, 3)
    changed = series.clone()
    changed[L:] += 10 * torch.randn(20, 3)  # everything after window 0's last row (its origin)

    def windows(values: torch.Tensor) -> torch.Tensor:
        return values.unfold(0, L, 1).transpose(1, 2)  # [N, 3, L] -> [N, L, 3]

    with torch.no_grad():
        before, after = net.forecast(windows(series)), net.forecast(windows(changed))
    torch.testing.assert_close(after[0], before[0])
    assert not torch.allclose(after[1:], before[1:])


@pytest.mark.parametrize("head", ["direct", "segments"])
def test_padding_does_not_leak_into_segments(head):
    net = _net(head=head, segment=4, channel_independent=True, normalize="revin", skip="linear")
    x = torch.randn(3, L, 3)
    lengths = torch.tensor([5, L, 2])
    noisy = x.clone()
    noisy[0, :7] = 99.0
    noisy[2, :10] = float("nan")
    with torch.no_grad():
        torch.testing.assert_close(net.forecast(noisy, lengths=lengths), net.forecast(x, lengths=lengths))


def test_a_segment_recurrence_learns_a_seasonal_series():
    # Train briefly: the segments head, channel-independent with RevIN, forecasts two phase-shifted sines.
    torch.manual_seed(0)
    t = torch.arange(400, dtype=torch.float32)
    values = torch.stack([torch.sin(2 * torch.pi * t / 24), 3 + 2 * torch.cos(2 * torch.pi * t / 24)], dim=-1)
    windows = values.unfold(0, L + H, 1).transpose(1, 2)  # [N, L+H, 2]
    x, y = windows[:, :L], windows[:, L:]  # [N, L, 2], [N, H, 2]
    net = _net(n_inputs=2, head="segments", segment=4, channel_independent=True, normalize="revin", hidden_size=16)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(150):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(x)[0][..., 0], y)
        loss.backward()
        opt.step()
    assert loss.item() < 0.01 * float(y.var())


@pytest.mark.parametrize("kwargs, message", [
    ({"normalize": "mean"}, "normalize must be one of"),
    ({"normalize_affine": True, "normalize": "last"}, "needs normalize='revin'"),
    ({"head": "decoder"}, "head must be one of"),
    ({"segment": 0}, "segment must be a positive"),
    ({"segment": 4, "head": "transducer"}, "not head='transducer'"),
    ({"channel_independent": True, "head": "classify"}, "channel_independent=True needs head"),
    ({"channel_embedding_dim": 2}, "needs channel_independent=True"),
    ({"n_future": 2, "head": "segments", "segment": 4}, "need head='direct'"),
    ({"head": "segments", "channel_independent": True, "channel_embedding_dim": 8},
     "channel_embedding_dim < hidden_size"),  # no room left for the position in the 8-wide query
])
def test_bad_options_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _net(**kwargs)


def test_windows_shorter_than_a_segment_are_refused():
    net = _net(segment=4)
    with pytest.raises(ValueError, match="shorter than one segment"):
        net.forecast(torch.randn(2, 3, 3))


def test_final_state_is_refused_for_channel_independent_networks():
    with pytest.raises(ValueError, match="one per target"):
        _net(channel_independent=True).final_state(torch.randn(2, L, 3))


def test_segments_read_the_newest_rows_and_leave_out_the_oldest_remainder():
    net = _net(segment=5, head="segments")  # L = 12: segments cover rows 2..11, rows 0 and 1 are left out
    x = torch.randn(B, L, 3)
    older, newer = x.clone(), x.clone()
    older[:, :2] += 5.0
    newer[:, 2] += 5.0
    with torch.no_grad():
        base = net.forecast(x)
        torch.testing.assert_close(net.forecast(older), base)
        assert not torch.allclose(net.forecast(newer), base)


def _one_step_per_pair(rnn, position, channel, h):
    """The plain way: every (series, segment) pair its own one-step sequence, each state repeated m times."""
    batch, m = (h[0] if isinstance(h, tuple) else h).shape[1], position.shape[0]
    query = position.unsqueeze(0).expand(batch, -1, -1)  # [B, m, Dp]
    if channel is not None:
        query = torch.cat([query, channel.unsqueeze(1).expand(-1, m, -1)], dim=-1)

    def repeat(state):
        return state.repeat_interleave(m, dim=1)

    start = tuple(repeat(s) for s in h) if isinstance(h, tuple) else repeat(h)
    out, _ = rnn(query.reshape(batch * m, 1, -1), start)
    return out.view(batch, m, -1)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers, with_channel", [(1, True), (1, False), (2, True)])
def test_the_shared_state_decoder_step_equals_one_recurrent_step_per_segment(cell, layers, with_channel):
    # The segments head's factored step (each product once per distinct operand) must give the same
    # outputs and the same gradients as torch's own layer run on every (series, segment) pair.
    torch.manual_seed(0)
    batch, m, d, n_pos, n_channel = 6, 5, 8, 5, 3
    rnn = recurrent_layer(cell, n_pos + (n_channel if with_channel else 0), d, layers, 0.0, "tanh")
    position = torch.randn(m, n_pos, requires_grad=True)
    channel = torch.randn(batch, n_channel, requires_grad=True) if with_channel else None
    h = torch.randn(layers, batch, d, requires_grad=True)
    state = (h, torch.randn(layers, batch, d)) if cell == "lstm" else h
    fast, plain = shared_state_step(rnn, position, channel, state), _one_step_per_pair(rnn, position, channel, state)
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-6)
    leaves = [position, h, *rnn.parameters()] + ([channel] if with_channel else [])
    fast_grads = torch.autograd.grad(fast.square().sum(), leaves)
    plain_grads = torch.autograd.grad(plain.square().sum(), leaves)
    for a, b in zip(fast_grads, plain_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
