"""Proxy trees: the extracted spectrum is exactly the ensemble's; planted landscapes; budget."""

import numpy as np
import pytest

from plmscope.errors import PlmscopeError
from plmscope.fourier import Landscape, all_points, metrics, planted_sparse_function
from plmscope.fourier.exact import ExactTransform
from plmscope.fourier.planted import planted_onehot_function
from plmscope.fourier.proxy import ProxyTrees


@pytest.mark.parametrize("learner", ["hist", "gbr"])
def test_extracted_spectrum_is_the_ensembles_exact_transform(learner):
    n, q = 4, 5
    f = planted_sparse_function(n, q, 10, max_order=3, seed=1)
    est = ProxyTrees(learner=learner, max_depth=3, max_iter=50, seed=0)
    coeffs = est.fit(Landscape(f, n, q), 400)
    X = all_points(n, q)
    features = X if learner == "hist" else np.eye(q)[X].reshape(X.shape[0], -1)
    model_values = est.fitted.predict(features)
    np.testing.assert_allclose(coeffs.predict(X), model_values, atol=1e-9)
    exact = ExactTransform().fit(Landscape(lambda Z: est.fitted.predict(
        Z if learner == "hist" else np.eye(q)[Z].reshape(Z.shape[0], -1)), n, q))
    got, ref = coeffs.as_dict(), exact.as_dict()
    assert max(abs(got.get(k, 0) - ref.get(k, 0)) for k in got.keys() | ref.keys()) < 1e-9
    assert coeffs.orders.max() <= 3


def test_recovers_a_planted_hierarchical_landscape_within_budget():
    n, q, budget = 5, 8, 6000
    f = planted_onehot_function(n, q, n_pairs=8, n_triples=2, seed=4)
    land = Landscape(f, n, q)
    coeffs = ProxyTrees(seed=0).fit(land, budget)
    assert coeffs.method == "proxy" and coeffs.queries == land.n_queries <= budget
    X = all_points(n, q)
    assert metrics.r2(f.true(X), coeffs.predict(X)) >= 0.99


def test_still_recovers_a_planted_sparse_fourier_spectrum():
    n, q = 4, 5
    f = planted_sparse_function(n, q, 8, max_order=2, seed=3)
    coeffs = ProxyTrees(max_depth=2, learning_rate=0.3, seed=0).fit(Landscape(f, n, q), q**n)
    X = all_points(n, q)
    assert metrics.r2(f.true(X), coeffs.predict(X)) >= 0.95


def test_options():
    with pytest.raises(PlmscopeError, match="option max_depth"):
        ProxyTrees(max_depth=6)
    with pytest.raises(PlmscopeError, match="option learner"):
        ProxyTrees(learner="forest")
    with pytest.raises(PlmscopeError, match="too small"):
        ProxyTrees().fit(Landscape(lambda X: X.sum(axis=1), 3, 4), 5)
