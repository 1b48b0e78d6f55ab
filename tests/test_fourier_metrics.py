"""Metrics: prediction accuracy, bootstrap CIs, support and coefficient errors, spectrum summaries."""

import numpy as np
import pytest

from plmscope.errors import PlmscopeError
from plmscope.fourier import FourierCoefficients, metrics

Q = 4


def coeffs(entries: dict, n: int = 3) -> FourierCoefficients:
    return FourierCoefficients(np.array(list(entries)), np.array(list(entries.values())), q=Q, n=n)


def test_prediction_metrics():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert metrics.r2(y, y) == 1.0
    assert metrics.r2(y, np.full(4, 2.5)) == 0.0
    assert metrics.r2(y, y + 1) == pytest.approx(1 - 4 / 5)
    assert metrics.nmse(y, y + 1) == pytest.approx(4 / 30)
    assert metrics.pearson_r2(y, 3 * y + 1) == pytest.approx(1.0)
    assert metrics.pearson_r2(y, np.ones(4)) == 0.0
    with pytest.raises(PlmscopeError, match="equal-length"):
        metrics.r2(y, y[:2])


def test_bootstrap_ci_is_seeded_and_brackets_the_estimate():
    rng = np.random.default_rng(0)
    y = rng.normal(size=500)
    pred = y + 0.5 * rng.normal(size=500)
    est, lo, hi = metrics.bootstrap_ci(metrics.r2, y, pred, n_boot=300, seed=1)
    assert lo < est < hi and hi - lo < 0.2
    assert metrics.bootstrap_ci(metrics.r2, y, pred, n_boot=300, seed=1) == (est, lo, hi)
    assert metrics.bootstrap_ci(metrics.r2, y, pred, n_boot=300, seed=2) != (est, lo, hi)


def test_support_and_coefficient_errors():
    ref = coeffs({(1, 0, 0): 1.0, (3, 0, 0): 1.0, (0, 1, 1): 2j})
    est = coeffs({(1, 0, 0): 1.0, (3, 0, 0): 1.0, (0, 2, 0): 0.5})
    assert metrics.support_precision_recall(est, ref) == (pytest.approx(2 / 3), pytest.approx(2 / 3))
    assert metrics.support_precision_recall(np.zeros((0, 3)), ref) == (1.0, 0.0)
    assert metrics.coefficient_nmse(est, ref) == pytest.approx((4 + 0.25) / 6)
    assert metrics.coefficient_nmse(ref, ref) == 0.0


def test_spectrum_summaries():
    c = coeffs({(0, 0, 0): 5.0, (1, 0, 0): 1.0, (3, 0, 0): 1.0, (0, 1, 1): 1j, (0, 3, 3): -1j, (1, 1, 1): 0.5})
    np.testing.assert_allclose(metrics.energy_per_order(c), [25, 2, 2, 0.25])
    assert metrics.variance(c) == pytest.approx(4.25)
    assert metrics.ruggedness(c) == pytest.approx((1 * 2 + 2 * 2 + 3 * 0.25) / 4.25)
    pure = metrics.pair_energy(c)
    assert pure[1, 2] == pure[2, 1] == pytest.approx(2.0) and pure[0, 1] == 0 and np.all(np.diag(pure) == 0)
    involved = metrics.pair_energy(c, include_higher=True)
    assert involved[1, 2] == pytest.approx(2.25) and involved[0, 1] == involved[0, 2] == pytest.approx(0.25)
    # sigma = sqrt(4.25) ~ 2.06, threshold sigma/5 ~ 0.41: the five non-constant terms are all above it;
    # frequencies of order 1..3 over Z_4^3: 3*3 + 3*9 + 27 = 63
    assert metrics.sparsity_s5(c) == pytest.approx(5 / 63)
    assert metrics.sparsity_s5(c, divisor=1.0) == 0.0
