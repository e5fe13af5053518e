"""Lecture experiments: small versions that assert the qualitative claims, plus the task generators.

Claims asserted (ratios and orderings, never exact values):
- vanishing: the Elman RNN's gradient 50 steps back is orders of magnitude below the one 1 step back;
  an LSTM whose forget gate is open keeps it. (At PyTorch's default init the LSTM vanishes too.)
- exploding: a gain-2 recurrent matrix explodes the gradient; clipping by norm / value bounds what the
  optimizer steps with.
- order: an additive state gives the same output for permuted inputs, the Elman RNN does not, and on a
  task where only order matters the additive state stays at chance while the Elman RNN learns it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from forecast.cli import main
from forecast.lectures import common, exploding, memory, order, tasks


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """These tensors are tiny: one thread avoids thread contention on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _gradient_ratio(net, distance: int = 50) -> float:
    x = torch.randn(64, 60, 3, generator=torch.Generator().manual_seed(0))
    norms = common.input_gradient_norms(net, x, lambda out: (out[..., 0] ** 2).flatten(1).sum(dim=1))
    return norms[distance] / norms[1]


def test_elman_gradient_vanishes_and_an_open_lstm_gate_keeps_it():
    rnn = common.make_network("rnn", 3, 32, seed=0)
    lstm = common.make_network("lstm", 3, 32, seed=0)
    open_lstm = common.open_gates(common.make_network("lstm", 3, 32, seed=0), 3.0)
    assert _gradient_ratio(rnn) < 1e-6
    assert _gradient_ratio(open_lstm) > 1e-2
    # The gate is what keeps it: the same LSTM with PyTorch's default (half-shut) forget gate vanishes.
    assert _gradient_ratio(open_lstm) > 1e4 * _gradient_ratio(lstm)


def test_open_gates_sets_the_keep_gate_bias_only():
    net = common.open_gates(common.make_network("gru", 2, 8, seed=0), 1.0)
    b_ih, b_hh = net.rnn.bias_ih_l0.detach(), net.rnn.bias_hh_l0.detach()
    assert torch.all(b_ih[8:16] == 1.0) and torch.all(b_hh[8:16] == 0.0)
    untouched = common.make_network("gru", 2, 8, seed=0).rnn.bias_ih_l0.detach()
    assert torch.equal(b_ih[:8], untouched[:8]) and torch.equal(b_ih[16:], untouched[16:])


def test_large_recurrent_gain_explodes_the_gradient():
    x = torch.randn(32, 64, 1, generator=torch.Generator().manual_seed(0))

    def grad_norm(gain: float) -> float:
        net = exploding.exploding_rnn(1, 32, gain, seed=0)
        out, _ = net(x)
        (out ** 2).mean().backward()
        return float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in net.parameters()])))

    assert grad_norm(2.0) > 100 * grad_norm(0.5)


@pytest.fixture(scope="module")
def small_weather():
    from forecast import datasets
    from forecast.config import WindowSpec

    frame = datasets.load("seattle-weather").iloc[:400]
    return common.prepare(frame, WindowSpec(target="temp_max", lookback=32, features=("temp_min",)))


@pytest.mark.parametrize(("clip", "algorithm"), [(1.0, "norm"), (0.1, "value")])
def test_clipping_bounds_the_gradient_the_optimizer_uses(small_weather, clip, algorithm):
    r = exploding.train_variant(small_weather, clip=clip, algorithm=algorithm, weight_decay=0.0, gain=2.0,
                                hidden=16, steps=4, lr=0.01, seed=0)
    assert r["steps_done"] == 4
    assert r["max_grad_norm"] > 10 * clip  # the raw gradient did explode ...
    if algorithm == "norm":  # ... and what the optimizer saw was bounded
        assert r["max_clipped_grad_norm"] <= clip * (1 + 1e-5)
    else:
        assert max(r["clipped_grad_max"]) <= clip * (1 + 1e-6)


def test_additive_state_is_blind_to_order_and_the_elman_rnn_is_not():
    x = torch.randn(128, 7, 3, generator=torch.Generator().manual_seed(0))
    bag = order.make_additive(3, 16, seed=0)
    rnn = common.make_network("rnn", 3, 16, seed=0, head="classify")
    assert order.output_change(bag, x) < 1e-5
    assert order.output_change(rnn, x) > 1e-2


def test_only_the_elman_rnn_learns_whether_a_sequence_increases():
    x, y = tasks.increasing_task(300, 5, seed=0)
    x_test, y_test = tasks.increasing_task(300, 5, seed=1)
    bag = order.make_additive(1, 16, seed=0)
    rnn = common.make_network("rnn", 1, 16, seed=0, head="classify")
    for net in (bag, rnn):
        common.fit_classifier(net, x, y, epochs=8, seed=0)
    assert abs(common.accuracy(bag, x_test, y_test) - 0.5) < 0.02  # chance, by construction
    assert common.accuracy(rnn, x_test, y_test) > 0.75


def test_increasing_task_pairs_the_same_values_in_two_orders():
    x, y = tasks.increasing_task(50, 4, seed=3)
    assert x.shape == (100, 4, 1) and y.shape == (100,) and int(y.sum()) == 50
    increasing = np.all(np.diff(x[..., 0].numpy(), axis=1) > 0, axis=1)
    assert np.array_equal(increasing, y.numpy().astype(bool))
    sorted_values = np.sort(x[..., 0].numpy(), axis=1)
    assert len(np.unique(sorted_values.round(6), axis=0)) == 50  # every multiset appears exactly twice


def test_recall_task_marks_the_step_whose_symbol_is_the_label():
    x, y = tasks.recall_task(200, 10, 3, n_symbols=4, seed=0)
    assert x.shape == (200, 10, 5) and y.shape == (200,)
    marker = x[:, :, 4]
    assert torch.all(marker[:, 6] == 1) and marker.sum() == 200  # only step 10-1-3 is marked
    assert torch.equal(x[:, 6, :4].argmax(dim=1), y)
    assert torch.all(x[:, :, :4].sum(dim=-1) == 1)  # a symbol at every step: the rest are distractors
    with pytest.raises(ValueError, match="distance"):
        tasks.recall_task(10, 5, 5)


def test_memory_length_is_the_last_distance_before_the_first_failure():
    assert memory.memory_length([1, 2, 4, 8], [1.0, 0.95, 0.5, 0.97], 0.9) == 2
    assert memory.memory_length([4, 1, 2], [0.91, 1.0, 0.99], 0.9) == 4
    assert memory.memory_length([1, 2], [0.3, 0.2], 0.9) == 0


def test_permute_steps_keeps_each_sequence_values():
    x = torch.arange(24, dtype=torch.float32).reshape(2, 4, 3)
    p = tasks.permute_steps(x, seed=1)
    assert not torch.equal(p, x)
    assert torch.equal(torch.sort(p.sum(-1), dim=1).values, torch.sort(x.sum(-1), dim=1).values)


def test_cli_runs_an_experiment_and_writes_png_and_json(tmp_path, capsys):
    assert main(["experiment", "order-sensitivity", "--quick", "--out", str(tmp_path)]) == 0
    numbers = json.loads((tmp_path / "order-sensitivity.json").read_text())
    assert numbers["quick"] is True and set(numbers["models"]) == {"additive", "rnn"}
    assert (tmp_path / "order-sensitivity.png").read_bytes()[:4] == b"\x89PNG"
    assert "order-sensitivity.png" in capsys.readouterr().out
    assert not list(tmp_path.glob(".*.tmp"))  # nothing half-written left behind


def test_cli_rejects_an_unknown_experiment(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["experiment", "no-such-experiment"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_prepare_scales_with_training_rows_only(small_weather):
    data = small_weather
    raw = data.unscale_target(data.panel.values[:, 0])  # back to degC
    train_end = int(data.split.train_end[0])
    assert np.isclose(raw[:train_end].mean(), data.scaler.center_[0, 0], atol=1e-3)
    assert not np.isclose(raw.mean(), data.scaler.center_[0, 0], atol=1e-2)  # the full series would differ
    # Windows are time-ordered: every test target lies after every training target.
    last_train_target = data.train.origins.max() + data.spec.horizon
    assert last_train_target < data.test.origins.min() + 1


def test_stock_returns_are_percent_log_returns():
    import pandas as pd

    from forecast.lectures.final_state import stock_returns

    prices = pd.DataFrame({"close": [100.0, 110.0, 99.0]}, index=pd.date_range("2020-01-01", periods=3))
    r = stock_returns(prices)
    assert list(r.columns) == ["return"] and len(r) == 2
    np.testing.assert_allclose(r["return"], 100 * np.log([1.1, 0.9]))
