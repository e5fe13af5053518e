"""Short histories: a left-padded, packed window gives the RNN exactly the result of the short sequence alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from forecast.data.padding import left_pad, left_to_right, pack_left_padded, padding_mask, right_to_left
from forecast.models.networks import NetworkConfig, RecurrentNetwork

LENGTHS = [3, 8, 1, 5]  # unsorted on purpose: packing must restore the batch order


def _sequences(n_features: int = 3) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [torch.randn(n, n_features, generator=g) for n in LENGTHS]


def test_left_pad_puts_real_rows_last_and_zeros_first():
    seqs = _sequences()
    x, lengths = left_pad(seqs, length=10)
    assert x.shape == (4, 10, 3) and lengths.tolist() == LENGTHS
    mask = padding_mask(lengths, 10)
    for b, s in enumerate(seqs):
        torch.testing.assert_close(x[b, 10 - len(s):], s)
        assert (x[b, : 10 - len(s)] == 0).all()
        assert mask[b].sum() == len(s) and mask[b, -len(s):].all()
    np.testing.assert_array_equal(right_to_left(left_to_right(x, lengths), lengths).numpy(), x.numpy())
    right = left_to_right(x, lengths)
    for b, s in enumerate(seqs):
        torch.testing.assert_close(right[b, : len(s)], s)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("head", ["direct", "transducer"])
def test_packed_padded_windows_equal_each_short_sequence_run_alone(cell, head):
    torch.manual_seed(0)
    config = NetworkConfig(n_inputs=3, horizon=2, cell=cell, hidden_size=5, num_layers=2, head=head)
    net = RecurrentNetwork(config).eval()
    seqs = _sequences()
    x, lengths = left_pad(seqs, length=8)
    with torch.no_grad():
        out, h = net.encode(x, lengths=lengths)  # [B, L, hidden]
        forecasts = net.forecast(x, lengths=lengths)
        # Without lengths the padding is read as data, and the results differ (the test is not vacuous).
        unpacked = net.forecast(x)
        for b, s in enumerate(seqs):
            alone_out, alone_h = net.encode(s[None])  # [1, l, hidden]
            torch.testing.assert_close(out[b, 8 - len(s):], alone_out[0])
            assert (out[b, : 8 - len(s)] == 0).all()
            states = (h, alone_h) if cell != "lstm" else (h[0], alone_h[0])
            torch.testing.assert_close(states[0][:, b], states[1][:, 0])
            torch.testing.assert_close(forecasts[b], net.forecast(s[None])[0])
            if len(s) < 8:
                assert not torch.allclose(unpacked[b], forecasts[b])


def test_gradients_do_not_reach_the_padding():
    torch.manual_seed(0)
    net = RecurrentNetwork(NetworkConfig(n_inputs=3, cell="gru", hidden_size=4))
    x, lengths = left_pad(_sequences(), length=8)
    x.requires_grad_(True)
    net.forecast(x, lengths=lengths).sum().backward()
    mask = padding_mask(lengths, 8)
    assert (x.grad[~mask] == 0).all()
    assert (x.grad[mask].abs().sum(-1) > 0).all()


def test_lengths_out_of_range_are_refused():
    x = torch.zeros(2, 4, 1)
    with pytest.raises(ValueError, match="lengths"):
        pack_left_padded(x, torch.tensor([0, 4]))


def test_forecaster_learns_from_and_forecasts_short_series_only_when_asked(fast_trainer_kwargs):
    import pandas as pd

    from forecast.config import WindowSpec
    from forecast.models.estimators import RNNForecaster

    rng = np.random.default_rng(0)
    frame = pd.concat([
        pd.DataFrame({"id": sid, "y": rng.normal(size=n)}, index=pd.date_range("2024-01-01", periods=n, freq="D"))
        for sid, n in (("long", 60), ("short", 7))
    ])
    spec = WindowSpec(target="y", lookback=10, horizon=2, id_col="id")
    params = {**fast_trainer_kwargs, "max_epochs": 1, "hidden_size": 4, "cell": "gru", "val_size": 0.0}
    default = RNNForecaster(**params).fit(frame, spec)
    assert default.skipped_series_ == ["short"]
    assert default.predict(frame).attrs["skipped"] == ["short"]
    padded = RNNForecaster(**params, min_lookback=3).fit(frame, spec)
    assert padded.skipped_series_ == []
    forecasts = padded.predict(frame)
    assert forecasts.attrs["skipped"] == []
    assert forecasts.groupby("id").size().to_dict() == {"long": 2, "short": 2}
    assert np.isfinite(forecasts["forecast"]).all()
