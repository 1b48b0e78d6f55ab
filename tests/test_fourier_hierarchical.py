"""Hierarchical one-hot LASSO: planted hierarchical landscapes, planted sparse spectra, budget, hierarchy."""

import numpy as np
import pytest

from plmscope.errors import PlmscopeError
from plmscope.fourier import Landscape, all_points, metrics, planted_sparse_function
from plmscope.fourier.hierarchical import HierarchicalOneHot
from plmscope.fourier.onehot import OneHotModel
from plmscope.fourier.planted import planted_onehot_function


def test_recovers_a_planted_hierarchical_landscape_within_budget():
    n, q, budget = 6, 20, 6000
    f = planted_onehot_function(n, q, n_pairs=25, n_triples=4, seed=3)
    land = Landscape(f, n, q)
    est = HierarchicalOneHot(seed=0)
    coeffs = est.fit(land, budget)
    assert coeffs.method == "hierarchical" and coeffs.queries == land.n_queries <= budget
    assert coeffs.orders.max() <= 3
    X = np.random.default_rng(1).integers(0, q, size=(4000, n))
    assert metrics.r2(f.true(X), coeffs.predict(X)) >= 0.99
    assert [s.order for s in est.stages] == [1, 2, 3]
    # the spectrum and the fitted one-hot model are the same function
    np.testing.assert_allclose(est.model.predict(X), coeffs.predict(X), atol=1e-9)


def test_strong_hierarchy_holds_in_the_fitted_model():
    n, q = 5, 20
    f = planted_onehot_function(n, q, n_pairs=15, n_triples=3, seed=5)
    est = HierarchicalOneHot(hierarchy="strong", seed=1)
    est.fit(Landscape(f, n, q), 5000)
    pairs = {}
    for S, (res, _) in est.model.terms.items():
        if len(S) == 2:
            pairs.setdefault(S, set()).update(map(tuple, res.tolist()))
    for S, (res, _) in est.model.terms.items():
        if len(S) == 3:
            for a in res.tolist():
                for u, v in ((0, 1), (0, 2), (1, 2)):
                    assert (a[u], a[v]) in pairs[(S[u], S[v])]


def test_still_recovers_a_planted_sparse_fourier_spectrum():
    n, q = 4, 5
    f = planted_sparse_function(n, q, 12, max_order=3, seed=2)
    coeffs = HierarchicalOneHot(seed=0).fit(Landscape(f, n, q), q**n)
    X = all_points(n, q)
    assert metrics.r2(f.true(X), coeffs.predict(X)) >= 0.99


def test_noisy_landscape_and_anchored_table():
    n, q = 5, 20
    f = planted_onehot_function(n, q, n_pairs=10, snr_db=10.0, seed=8)
    est = HierarchicalOneHot(max_order=2, seed=0)
    coeffs = est.fit(Landscape(f, n, q), 4000)
    X = np.random.default_rng(2).integers(0, q, size=(3000, n))
    assert metrics.r2(f.true(X), coeffs.predict(X)) >= 0.95
    table = OneHotModel.from_fourier(coeffs).to_table(top_k=5)
    assert set(table["interaction_order"]) == {1, 2}


def test_options_and_budget_errors():
    land = Landscape(lambda X: X.sum(axis=1), 3, 4)
    with pytest.raises(PlmscopeError, match="too small"):
        HierarchicalOneHot().fit(land, 5)
    with pytest.raises(PlmscopeError, match="option max_order"):
        HierarchicalOneHot(max_order=4)
    with pytest.raises(PlmscopeError, match="option relax"):
        HierarchicalOneHot(relax="sometimes")
    with pytest.raises(PlmscopeError, match="validation_fraction"):
        HierarchicalOneHot(validation_fraction=0.6)
