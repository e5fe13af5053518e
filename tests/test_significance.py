"""Diebold-Mariano with the HLN correction, against hand derivations and on clear-cut cases."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.errors import InputError
from forecast.significance import diebold_mariano


def _t4_cdf(t: float) -> float:
    """Student-t CDF with 4 degrees of freedom in closed form (independent of scipy)."""
    x = t / np.sqrt(4.0 + t * t)
    return 0.5 + 0.75 * x - 0.25 * x**3


def test_h1_squared_loss_by_hand():
    # squared losses: model [1, 1, 4, 0, 1], benchmark [4, 1, 4, 1, 9] -> d = [-3, 0, 0, -1, -8]
    # mean -2.4 ; deviations [-0.6, 2.4, 2.4, 1.4, -5.6] -> gamma0 = 45.2 / 5 = 9.04 ; var(mean) = 9.04 / 5
    # DM = -2.4 / sqrt(1.808) ; HLN factor sqrt((5 + 1 - 2) / 5) = sqrt(0.8) -> -2.4 * sqrt(0.8 / 1.808)
    result = diebold_mariano([1, -1, 2, 0, 1], [2, 1, -2, 1, 3])
    expected = -2.4 * np.sqrt(0.8 / 1.808)
    assert result.statistic == pytest.approx(expected)  # -1.5965
    assert result.p_value_better == pytest.approx(_t4_cdf(expected))
    assert result.p_value == pytest.approx(2 * _t4_cdf(expected))
    assert (result.n, result.h, result.loss) == (5, 1, "squared")


def test_h2_absolute_loss_by_hand():
    # absolute losses: model [1, 1, 2, 0, 1, 3], benchmark [2, 1, 2, 1, 3, 1] -> d = [-1, 0, 0, -1, -2, 2]
    # mean -1/3 ; deviations [-2, 1, 1, -2, -5, 7] / 3
    # gamma0 = (4 + 1 + 1 + 4 + 25 + 49) / 9 / 6 = 14/9 ; gamma1 = (-2 + 1 - 2 + 10 - 35) / 9 / 6 = -14/27
    # acf: var(mean) = (14/9 - 28/27) / 6 = 7/81 -> DM = -(1/3) * 9 / sqrt(7) = -3 / sqrt(7)
    # HLN factor: (6 + 1 - 4 + 2 * 1 / 6) / 6 = 5/9 -> statistic -3/sqrt(7) * sqrt(5)/3 = -sqrt(5/7)
    e_model, e_bench = [1, -1, 2, 0, 1, 3], [2, 1, -2, 1, 3, 1]
    acf = diebold_mariano(e_model, e_bench, h=2, loss="absolute")
    assert acf.statistic == pytest.approx(-np.sqrt(5 / 7))
    # Bartlett (Newey-West) weight 1/2 on gamma1: var(mean) = (14/9 - 14/27) / 6 = 14/81 -> -sqrt(5/14)
    bartlett = diebold_mariano(e_model, e_bench, h=2, loss="absolute", variance="bartlett")
    assert bartlett.statistic == pytest.approx(-np.sqrt(5 / 14))


def test_swapping_model_and_benchmark_flips_the_sign():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=40), rng.normal(size=40)
    ab, ba = diebold_mariano(a, b, h=3), diebold_mariano(b, a, h=3)
    assert ab.statistic == pytest.approx(-ba.statistic)
    assert ab.p_value == pytest.approx(ba.p_value)
    assert ab.p_value_better + ba.p_value_better == pytest.approx(1.0)


def test_identical_errors_give_no_evidence():
    e = np.linspace(-1, 1, 30)
    result = diebold_mariano(e, e.copy())
    assert (result.statistic, result.p_value, result.p_value_better) == (0.0, 1.0, 1.0)


def test_clearly_better_model_has_small_p():
    rng = np.random.default_rng(1)
    bench = rng.normal(scale=3.0, size=200)
    model = rng.normal(scale=1.0, size=200)
    result = diebold_mariano(model, bench)
    assert result.statistic < 0
    assert result.p_value_better < 1e-6
    assert diebold_mariano(bench, model).p_value_better > 0.999


def test_equally_good_models_are_rarely_significant():
    rng = np.random.default_rng(2)
    p = [diebold_mariano(rng.normal(size=60), rng.normal(size=60)).p_value for _ in range(200)]
    assert 0.02 < np.mean(np.array(p) < 0.05) < 0.1  # size close to the nominal 5%


def test_bad_input_is_named():
    with pytest.raises(InputError, match="align"):
        diebold_mariano([1, 2, 3], [1, 2])
    with pytest.raises(InputError, match="NaN"):
        diebold_mariano([1, np.nan, 3], [1, 2, 3])
    with pytest.raises(InputError, match="h=3"):
        diebold_mariano([1, 2, 3], [3, 2, 1], h=3)
    with pytest.raises(InputError, match="loss"):
        diebold_mariano([1, 2, 3], [3, 2, 1], loss="cubic")


def test_negative_long_run_variance_falls_back_to_h1_like_r():
    # alternating differences: gamma1 ~ -gamma0, so gamma0 + 2 * gamma1 < 0 with h = 2
    model = np.array([2.0, 0.0] * 10 + [2.0])
    bench = np.ones_like(model)
    with pytest.warns(RuntimeWarning, match="using h=1"):
        result = diebold_mariano(model, bench, h=2)
    assert result.h == 1
    assert result == diebold_mariano(model, bench, h=1)


def test_one_sided_p_values_are_complementary_and_named_for_their_claim():
    rng = np.random.default_rng(3)
    bench = rng.normal(size=80)
    worse = diebold_mariano(bench * 2.0, bench, loss="absolute")
    assert worse.p_value_worse < 1e-6 and worse.p_value_better > 0.999
    assert worse.p_value_better + worse.p_value_worse == pytest.approx(1.0)
    assert worse.p_value == pytest.approx(2 * min(worse.p_value_better, worse.p_value_worse))
