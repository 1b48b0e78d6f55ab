"""Landscape: validation with one-line errors, caching, unique-query counting, budgets, persisted cache."""

import numpy as np
import pytest

from plmscope.errors import PlmscopeError
from plmscope.fourier import Landscape, QueryCache


class Counting:
    """f(x) = sum of entries, recording how many rows it was asked for."""

    def __init__(self):
        self.rows = 0
        self.calls = 0

    def __call__(self, X):
        self.rows += X.shape[0]
        self.calls += 1
        return X.sum(axis=1).astype(float)


def one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


def test_counts_unique_queries_and_caches():
    func = Counting()
    land = Landscape(func, 3, 4)
    X = np.array([[0, 1, 2], [0, 1, 2], [3, 3, 3]])
    np.testing.assert_array_equal(land(X), [3.0, 3.0, 9.0])
    assert land.n_queries == 2 and func.rows == 2
    np.testing.assert_array_equal(land(np.array([[3, 3, 3], [1, 1, 1]])), [9.0, 3.0])
    assert land.n_queries == 3 and land.n_evaluations == 3 and func.rows == 3
    land(X)  # all known: the function is not called again
    assert func.calls == 2
    Xq, yq = land.queries()
    assert Xq.tolist() == [[0, 1, 2], [3, 3, 3], [1, 1, 1]] and yq.tolist() == [3.0, 9.0, 3.0]


def test_single_point_and_batching():
    func = Counting()
    land = Landscape(func, 2, 5, batch_size=3)
    assert land(np.array([4, 4])).tolist() == [8.0]
    land(np.array([[a, b] for a in range(5) for b in range(5)]))
    assert land.n_queries == 25 and func.calls == 1 + 8  # 24 new points in batches of at most 3


@pytest.mark.parametrize(
    "X, match",
    [
        (np.zeros((2, 4), dtype=int), r"shape \(m, 3\)"),
        (np.array([[0, 1, 5]]), r"0\.\.3"),
        (np.array([[0, -1, 2]]), r"0\.\.3"),
        (np.array([[0.5, 1, 2]]), "integers"),
        (np.array([["a", "b", "c"]]), "integer array"),
    ],
)
def test_rejects_bad_points(X, match):
    land = Landscape(Counting(), 3, 4)
    with pytest.raises(PlmscopeError, match=match) as err:
        land(X)
    one_line(err)
    assert land.n_queries == 0


@pytest.mark.parametrize(
    "func, match",
    [
        (lambda X: np.full(X.shape[0], np.nan), "finite"),
        (lambda X: np.zeros(X.shape[0] + 1), "shape"),
        (lambda X: np.zeros((X.shape[0], 2)), "shape"),
        (lambda X: np.zeros(X.shape[0], dtype=complex), "real"),
        (lambda X: np.array(["x"] * X.shape[0]), "numbers"),
    ],
)
def test_rejects_bad_outputs(func, match):
    with pytest.raises(PlmscopeError, match=match) as err:
        Landscape(func, 3, 4)(np.array([[0, 1, 2]]))
    one_line(err)


def test_rejects_bad_construction():
    with pytest.raises(PlmscopeError, match="callable"):
        Landscape(3, 2, 2)
    with pytest.raises(PlmscopeError, match="q must be"):
        Landscape(Counting(), 2, 1)
    with pytest.raises(PlmscopeError, match="n must be"):
        Landscape(Counting(), 0, 4)


def test_limit_enforces_budget():
    land = Landscape(Counting(), 2, 10)
    land(np.array([[0, 0]]))
    with land.limit(3):
        land(np.array([[1, 1], [2, 2], [0, 0]]))  # 2 new
        land(np.array([[3, 3]]))  # 3rd new
        with pytest.raises(PlmscopeError, match="budget of 4 exceeded"):
            land(np.array([[4, 4]]))
        land(np.array([[1, 1]]))  # known points stay free
    land(np.array([[4, 4]]))
    assert land.n_queries == 5


def test_large_space_uses_byte_keys():
    n, q = 30, 20  # 20^30 does not fit in int64
    func = Counting()
    land = Landscape(func, n, q)
    X = np.random.default_rng(0).integers(0, q, size=(50, n))
    y = land(np.concatenate([X, X[:10]]))
    np.testing.assert_array_equal(y, np.concatenate([X, X[:10]]).sum(axis=1))
    assert land.n_queries == 50 and func.rows == 50


def test_query_cache_resumes(tmp_path):
    path = tmp_path / "cache.parquet"
    first = Counting()
    land = Landscape(first, 3, 4, cache=QueryCache(path))
    land(np.array([[0, 1, 2], [1, 1, 1]]))
    land.cache.save()
    second = Counting()
    resumed = Landscape(second, 3, 4, cache=QueryCache(path))
    np.testing.assert_array_equal(resumed(np.array([[1, 1, 1], [2, 2, 2], [0, 1, 2]])), [3.0, 6.0, 3.0])
    assert resumed.n_queries == 3 and resumed.n_evaluations == 1 and second.rows == 1
    resumed.cache.save()
    assert len(QueryCache(path).y) == 3
    with pytest.raises(PlmscopeError, match="n=3, q=4") as err:
        Landscape(Counting(), 3, 5, cache=QueryCache(path))
    assert str(path) in one_line(err)


def test_query_cache_rejects_foreign_file(tmp_path):
    bad = tmp_path / "x.parquet"
    bad.write_text("not parquet")
    with pytest.raises(PlmscopeError, match="cannot read query cache"):
        QueryCache(bad)
