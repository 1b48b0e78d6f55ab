"""Exact q-ary transform: conventions, round trip, brute force, sparse evaluation, orders."""

import numpy as np
import pytest

from plmscope.fourier import all_points, evaluate, forward_transform, inverse_transform, order
from plmscope.fourier.coefficients import FourierCoefficients
from plmscope.fourier.exact import ExactTransform
from plmscope.fourier.landscape import Landscape
from plmscope.fourier.metrics import energy_per_order
from plmscope.fourier.transform import dense_to_sparse


def brute_force(values: np.ndarray, q: int) -> np.ndarray:
    """F[k] = q^-n sum_x f(x) omega^(-<k,x>) by the definition."""
    n = values.ndim
    points = all_points(n, q)
    f = values.reshape(-1)
    omega = np.exp(2j * np.pi / q)
    out = np.array([np.sum(f * omega ** (-(points @ k))) for k in points]) / q**n
    return out.reshape((q,) * n)


@pytest.mark.parametrize("n, q", [(2, 3), (3, 4), (2, 5)])
def test_forward_matches_definition(n, q):
    values = np.random.default_rng(n * q).normal(size=(q,) * n)
    np.testing.assert_allclose(forward_transform(values), brute_force(values, q), atol=1e-12)


def test_round_trip_and_conjugate_symmetry():
    q, n = 20, 4
    values = np.random.default_rng(0).normal(size=(q,) * n)
    F = forward_transform(values)
    np.testing.assert_allclose(inverse_transform(F).real, values, atol=1e-9)
    assert np.abs(inverse_transform(F).imag).max() < 1e-9
    neg = F[tuple((-np.indices(F.shape)) % q)]
    np.testing.assert_allclose(F, np.conj(neg), atol=1e-12)


def test_all_points_is_c_order():
    pts = all_points(3, 4)
    assert pts.shape == (64, 3)
    assert pts[0].tolist() == [0, 0, 0] and pts[1].tolist() == [0, 0, 1] and pts[-1].tolist() == [3, 3, 3]


def test_sparse_evaluate_matches_dense_inverse():
    q, n = 5, 4
    values = np.random.default_rng(1).normal(size=(q,) * n)
    freqs, vals = dense_to_sparse(forward_transform(values))
    assert len(vals) == q**n
    np.testing.assert_allclose(evaluate(freqs, vals, all_points(n, q), q=q, real=True), values.ravel(), atol=1e-9)


def test_evaluate_high_order_terms_directly():
    # order-5 terms with q=20 (20^5 > table limit) go through the term-by-term path
    q, n = 20, 6
    rng = np.random.default_rng(2)
    K = np.array([[1, 2, 3, 4, 5, 0], [19, 18, 17, 16, 15, 0], [0, 0, 0, 0, 0, 7], [0, 0, 0, 0, 0, 0]])
    V = np.array([1 + 2j, 1 - 2j, 0.5j, 3.0])
    X = rng.integers(0, q, size=(300, n))
    expected = (np.exp(2j * np.pi * (X @ K.T) / q) @ V)
    np.testing.assert_allclose(evaluate(K, V, X, q=q), expected, atol=1e-10)
    np.testing.assert_allclose(evaluate(K, V, X, q=q, real=True), expected.real, atol=1e-10)


def test_order():
    assert order(np.array([0, 3, 0, 1])) == 2
    assert order(np.array([[0, 0], [1, 0], [2, 5]])).tolist() == [0, 1, 2]


def test_exact_estimator_recovers_known_function():
    q, n = 20, 3
    f = lambda X: 2.0 + np.cos(2 * np.pi * X[:, 0] / q) + 0.5 * (X[:, 1] == X[:, 2])  # noqa: E731
    coeffs = ExactTransform().fit(Landscape(f, n, q))
    d = coeffs.as_dict()
    assert coeffs.queries == q**n and coeffs.method == "exact"
    assert d[(1, 0, 0)] == pytest.approx(0.5) and d[(19, 0, 0)] == pytest.approx(0.5)
    assert d[(0, 0, 0)] == pytest.approx(2.0 + 0.5 / q)
    # [x1 == x2] = (1/q) sum_v omega^(v (x1 - x2)): coefficients 0.5/q at (0, v, -v)
    assert d[(0, 3, 17)] == pytest.approx(0.5 / q)
    X = np.random.default_rng(0).integers(0, q, size=(200, n))
    np.testing.assert_allclose(coeffs.predict(X), f(X), atol=1e-9)


def test_additive_function_has_no_energy_above_order_one():
    q, n = 20, 4
    tables = np.random.default_rng(3).normal(size=(n, q))
    f = lambda X: tables[np.arange(n), X].sum(axis=1)  # noqa: E731
    energy = energy_per_order(ExactTransform().fit(Landscape(f, n, q)))
    assert energy[1] > 1.0
    assert energy[2:].sum() < 1e-20


def test_exact_refuses_large_spaces_and_small_budgets():
    from plmscope.errors import PlmscopeError

    with pytest.raises(PlmscopeError, match="max_points"):
        ExactTransform().fit(Landscape(lambda X: X.sum(axis=1), 10, 20))
    with pytest.raises(PlmscopeError, match="budget"):
        ExactTransform().fit(Landscape(lambda X: X.sum(axis=1), 2, 20), budget=100)


def test_coefficients_round_trip_parquet(tmp_path):
    K = np.array([[0, 1, 2], [0, 19, 18], [3, 0, 0]])
    c = FourierCoefficients(K, [1 + 1j, 1 - 1j, 0.25], q=20, n=3, queries=42, method="qsft")
    c.save(tmp_path / "c.parquet")
    back = FourierCoefficients.load(tmp_path / "c.parquet")
    assert back.as_dict() == pytest.approx(c.as_dict()) and back.as_dict().keys() == c.as_dict().keys()
    assert (back.q, back.n, back.queries, back.method) == (20, 3, 42, "qsft")
    table = c.to_table()
    assert list(table.columns) == ["k_0", "k_1", "k_2", "order", "real", "imag", "magnitude"]
    assert table["order"].tolist() == [2, 2, 1]
