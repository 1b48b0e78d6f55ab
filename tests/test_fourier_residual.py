"""Low-order regression + q-SFT on the residual: additive-plus-sparse landscapes, budget, query reuse."""

import numpy as np
import pytest

from plmscope.errors import PlmscopeError
from plmscope.fourier import (
    FourierCoefficients,
    Landscape,
    metrics,
    planted_sparse_function,
)
from plmscope.fourier.onehot import merge_frequencies
from plmscope.fourier.planted import PlantedFunction, planted_onehot_function
from plmscope.fourier.residual import ResidualQSFT

N, Q = 6, 20


def additive_plus_sparse(seed=0) -> PlantedFunction:
    """Residue effects at every site (dense in Fourier) plus a sparse spectrum of orders 2-3."""
    add = planted_onehot_function(N, Q, n_pairs=0, seed=seed).coefficients
    sparse = planted_sparse_function(N, Q, 30, max_order=3, seed=seed + 1).coefficients
    high = sparse.orders >= 2
    freqs, vals = merge_frequencies(
        np.concatenate([add.frequencies, sparse.frequencies[high]]), np.concatenate([add.values, sparse.values[high]]), Q
    )
    return PlantedFunction(FourierCoefficients(freqs, vals, q=Q, n=N, method="planted"))


@pytest.mark.parametrize("reuse", [True, False])
def test_recovers_additive_plus_sparse_within_budget(reuse):
    f = additive_plus_sparse()
    land = Landscape(f, N, Q)
    budget = 16_000
    est = ResidualQSFT(reuse_queries=reuse, seed=0)
    coeffs = est.fit(land, budget)
    assert coeffs.method == "residual" and coeffs.queries == land.n_queries <= budget
    assert est.qsft_b == 2 and est.low_model is not None
    X = np.random.default_rng(3).integers(0, Q, size=(4000, N))
    assert metrics.r2(f.true(X), coeffs.predict(X)) >= 0.99
    # every planted order-2/3 coefficient is found
    found = coeffs.as_dict()
    planted = {k: v for k, v in f.coefficients.as_dict().items() if sum(1 for x in k if x) >= 2}
    assert all(abs(found.get(k, 0) - v) < 1e-3 for k, v in planted.items())


def test_recovers_a_planted_hierarchical_landscape():
    n, q = 5, 20
    f = planted_onehot_function(n, q, n_pairs=20, seed=6)
    coeffs = ResidualQSFT(low_order=2, low_fraction=0.5, seed=0).fit(Landscape(f, n, q), 20_000)
    X = np.random.default_rng(4).integers(0, q, size=(4000, n))
    assert coeffs.queries <= 20_000
    assert metrics.r2(f.true(X), coeffs.predict(X)) >= 0.99


def test_options_and_budget_errors():
    with pytest.raises(PlmscopeError, match="option low_order"):
        ResidualQSFT(low_order=3)
    with pytest.raises(PlmscopeError, match="low_fraction"):
        ResidualQSFT(low_fraction=1.0)
    with pytest.raises(PlmscopeError, match="option delays"):
        ResidualQSFT(delays="sometimes")
    with pytest.raises(PlmscopeError, match="budget"):
        ResidualQSFT().fit(Landscape(lambda X: X.sum(axis=1), N, Q), 100)
