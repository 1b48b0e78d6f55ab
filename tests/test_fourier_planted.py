"""Planted sparse functions: real, conjugate-symmetric, exact sparsity and orders, seeded noise."""

import numpy as np
import pytest

from plmscope.errors import PlmscopeError
from plmscope.fourier import Landscape, planted_sparse_function
from plmscope.fourier.exact import ExactTransform
from plmscope.fourier.metrics import support_precision_recall


@pytest.mark.parametrize("sparsity", [20, 21])
def test_spectrum_is_what_was_planted(sparsity):
    n, q = 4, 20
    f = planted_sparse_function(n, q, sparsity, max_order=3, seed=1)
    c = f.coefficients
    assert len(c) == sparsity and len(c.as_dict()) == sparsity
    assert c.orders.max() <= 3 and (c.orders == 0).sum() == sparsity % 2
    d = c.as_dict()
    for k, v in d.items():
        assert d[tuple((-np.array(k)) % q)] == pytest.approx(np.conj(v))
    assert np.all(np.abs(c.values) >= 0.5) and np.all(np.abs(c.values) <= 1.5)
    exact = ExactTransform().fit(Landscape(f, n, q))
    assert support_precision_recall(exact, c) == (1.0, 1.0)
    X = np.random.default_rng(0).integers(0, q, size=(100, n))
    assert f(X).dtype == np.float64 and np.allclose(f(X), f.true(X))


def test_noise_is_seeded_with_the_requested_sd():
    n, q = 5, 20
    X = np.random.default_rng(0).integers(0, q, size=(20000, n))
    f1 = planted_sparse_function(n, q, 10, seed=3, noise_sd=2.0)
    f2 = planted_sparse_function(n, q, 10, seed=3, noise_sd=2.0)
    y1 = f1(X)
    np.testing.assert_array_equal(y1, f2(X))
    assert np.std(y1 - f1.true(X)) == pytest.approx(2.0, rel=0.03)
    assert not np.array_equal(f1(X), y1)  # fresh noise on every evaluation


def test_variance_is_parseval():
    n, q = 3, 20
    f = planted_sparse_function(n, q, 12, seed=4)
    from plmscope.fourier import all_points

    assert np.var(f.true(all_points(n, q))) == pytest.approx(f.variance, rel=1e-9)


def test_impossible_requests():
    with pytest.raises(PlmscopeError, match="too dense"):
        planted_sparse_function(2, 3, 100, max_order=1)
    with pytest.raises(PlmscopeError, match="max_order"):
        planted_sparse_function(3, 20, 10, max_order=4)


def test_binary_alphabet_has_real_self_conjugate_coefficients():
    f = planted_sparse_function(12, 2, 15, seed=0)
    c = f.coefficients
    assert len(c.as_dict()) == 15 and np.all(c.values.imag == 0) and (c.orders == 0).sum() == 1
