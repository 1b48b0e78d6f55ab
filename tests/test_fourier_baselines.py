"""LASSO / ridge baselines on order-<=2 one-hot features, mapped back to Fourier coefficients."""

import numpy as np
import pytest

from plmscope.errors import PlmscopeError
from plmscope.fourier import Landscape, evaluate, metrics, planted_sparse_function
from plmscope.fourier.baselines import LassoFourier, RidgeFourier, design_to_fourier, interaction_design
from plmscope.fourier.qsft import QSFT

Q = 20


def test_design_and_fourier_mapping_agree():
    n, q = 4, 5
    rng = np.random.default_rng(0)
    X = rng.integers(0, q, size=(200, n))
    design = interaction_design(X, q)
    assert design.shape == (200, n * q + 6 * q * q)
    assert np.all(design.sum(axis=1) == n + 6)
    coef = rng.normal(size=design.shape[1])
    freqs, vals = design_to_fourier(coef, 0.7, n, q)
    assert freqs.shape[0] == 1 + n * (q - 1) + 6 * (q - 1) ** 2 and freqs.max() < q
    np.testing.assert_allclose(evaluate(freqs, vals, X, q=q), design @ coef + 0.7, atol=1e-12)
    # order-1 design only produces orders 0 and 1
    f1, _ = design_to_fourier(rng.normal(size=n * q), 0.0, n, q, max_order=1)
    assert set(np.count_nonzero(f1, axis=1).tolist()) == {0, 1}


@pytest.mark.parametrize("cls", [LassoFourier, RidgeFourier])
def test_fits_pairwise_function_at_budget(cls):
    n, budget = 4, 4000
    f = planted_sparse_function(n, Q, 16, max_order=2, seed=1)
    land = Landscape(f, n, Q)
    est = cls(seed=0)
    coeffs = est.fit(land, budget)
    assert coeffs.method == cls.name and coeffs.queries == land.n_queries <= budget
    assert coeffs.orders.max() <= 2
    X = np.random.default_rng(5).integers(0, Q, size=(2000, n))
    assert metrics.r2(f.true(X), coeffs.predict(X)) > 0.95
    assert len(est.alphas_tried) >= 5 and est.alpha_used in [a for a, _ in est.alphas_tried]


def test_same_budget_as_qsft_misses_third_order_terms():
    n = 5
    f = planted_sparse_function(n, Q, 40, max_order=3, seed=2)
    qsft = QSFT(b=2, C=3, seed=0).fit(Landscape(f, n, Q))
    lasso = LassoFourier(seed=0).fit(Landscape(f, n, Q), qsft.queries)
    assert lasso.queries <= qsft.queries
    X = np.random.default_rng(6).integers(0, Q, size=(2000, n))
    third = metrics.energy_per_order(f.coefficients)[3] / f.variance
    r2_lasso = metrics.r2(f.true(X), lasso.predict(X))
    assert metrics.r2(f.true(X), qsft.predict(X)) > 0.999
    assert third > 0.1 and r2_lasso < 1 - third + 0.02  # order-3 energy is out of its reach


def test_budget_and_option_errors():
    land = Landscape(lambda X: X.sum(axis=1), 3, Q)
    with pytest.raises(PlmscopeError, match="max_samples"):
        LassoFourier(max_samples=100).fit(land, 1000)
    with pytest.raises(PlmscopeError, match="too small"):
        RidgeFourier().fit(land, 5)
    with pytest.raises(PlmscopeError, match="option max_order"):
        LassoFourier(max_order=3)
    with pytest.raises(PlmscopeError, match="option alpha"):
        RidgeFourier(alpha=-1.0)
    with pytest.raises(PlmscopeError, match="validation_fraction"):
        RidgeFourier(validation_fraction=0.7)


def test_fixed_alpha_skips_selection():
    n = 3
    f = planted_sparse_function(n, Q, 8, max_order=1, seed=3)
    est = RidgeFourier(alpha=0.1, max_order=1)
    coeffs = est.fit(Landscape(f, n, Q), 3000)
    assert est.alphas_tried == [] and est.alpha_used == 0.1
    X = np.random.default_rng(1).integers(0, Q, size=(500, n))
    assert metrics.r2(f.true(X), coeffs.predict(X)) > 0.99
