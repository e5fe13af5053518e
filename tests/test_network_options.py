"""NetworkConfig's normalize="last" and skip="linear" options of the direct head."""

from __future__ import annotations

import pytest
import torch

from forecast.models.networks import NetworkConfig, RecurrentNetwork


def _net(**kwargs) -> RecurrentNetwork:
    torch.manual_seed(0)
    config = {"n_inputs": 3, "n_targets": 2, "horizon": 4, "hidden_size": 8, "lookback": 6, **kwargs}
    return RecurrentNetwork(NetworkConfig(**config)).eval()


@pytest.mark.parametrize("skip", ["none", "linear"])
def test_last_value_normalization_shifts_forecasts_with_the_level(skip):
    net = _net(normalize="last", skip=skip)
    x = torch.randn(5, 6, 3)
    shift = torch.tensor([3.0, -2.0, 0.0])  # targets (first two columns) move; the covariate does not
    with torch.no_grad():
        base = net.forecast(x)  # [B, H, T, 1]
        moved = net.forecast(x + shift)
    torch.testing.assert_close(moved, base + shift[:2].view(1, 1, 2, 1))


def test_without_normalization_a_level_shift_is_not_passed_through():
    net = _net()
    x = torch.randn(5, 6, 3)
    with torch.no_grad():
        moved = net.forecast(x + torch.tensor([3.0, -2.0, 0.0]))
    assert not torch.allclose(moved, net.forecast(x) + torch.tensor([3.0, -2.0]).view(1, 1, 2, 1))


def test_linear_skip_adds_a_shared_linear_map_of_each_target_lookback():
    net = _net(skip="linear")
    with torch.no_grad():  # silence the recurrent path: what is left is the skip
        net.head.weight.zero_()
        net.head.bias.zero_()
    x = torch.randn(5, 6, 3)
    with torch.no_grad():
        got = net.forecast(x)[..., 0]  # [B, H, T]
        want = torch.stack([net.skip(x[:, :, t]) for t in range(2)], dim=-1)  # per target [B, L] -> [B, H]
    torch.testing.assert_close(got, want)
    assert net.skip.weight.shape == (4, 6)  # [H, L], shared by both targets


@pytest.mark.parametrize("kwargs, message", [
    ({"normalize": "mean"}, "normalize must be one of"),
    ({"skip": "mlp"}, "skip must be one of"),
    ({"normalize": "last", "head": "transducer"}, "need head='direct'"),
    ({"skip": "linear", "lookback": 0}, "needs the lookback"),
])
def test_bad_options_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _net(**kwargs)


def test_defaults_leave_the_network_unchanged():
    net = _net()
    assert net.skip is None and net.config.normalize == "none"
    assert not any(name.startswith("skip") for name in net.state_dict())  # old artifacts still load


def test_padding_does_not_leak_into_the_skip_or_the_normalization():
    # Left-padded windows (short histories): whatever the padding rows hold, the forecast is the same.
    net = _net(normalize="last", skip="linear")
    x = torch.randn(2, 6, 3)
    lengths = torch.tensor([4, 6])
    noisy = x.clone()
    noisy[0, :2] = 99.0  # the two padding rows of window 0
    with torch.no_grad():
        torch.testing.assert_close(net.forecast(noisy, lengths=lengths), net.forecast(x, lengths=lengths))
