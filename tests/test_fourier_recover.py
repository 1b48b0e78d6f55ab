"""Public entry point and registry: recover() on user functions, METHODS, saving results."""

import inspect

import numpy as np
import pytest

from plmscope import fourier
from plmscope.errors import PlmscopeError
from plmscope.fourier import METHODS, FourierCoefficients, Landscape, metrics, recover
from plmscope.fourier.base import Estimator


Q2_ONLY = ("spex", "proxyspex")


def concrete_subclasses(cls):
    for sub in cls.__subclasses__():
        if not inspect.isabstract(sub) and not sub.__name__.startswith("_"):
            yield sub
        yield from concrete_subclasses(sub)


def test_every_estimator_is_registered():
    found = set(concrete_subclasses(Estimator))
    assert found and found <= set(METHODS.values())
    assert set(METHODS) == {"exact", "qsft", "qsft_paper", "lasso", "ridge", "hierarchical", "proxy", "residual",
                            "spex", "proxyspex"}
    for name, cls in METHODS.items():
        assert cls.name == name
        assert isinstance(cls(seed=1), Estimator)


def test_recover_on_a_user_lambda():
    q, n = 20, 6
    # one main effect and one pairwise interaction: 2 cos(2 pi x0 / q) + cos(2 pi (3 x2 + 5 x4) / q)
    def f(X):
        return 2 * np.cos(2 * np.pi * X[:, 0] / q) + np.cos(2 * np.pi * (3 * X[:, 2] + 5 * X[:, 4]) / q)

    rec = recover(f, n, q, budget=20_000, seed=3)
    got = {k: round(abs(v), 9) for k, v in rec.coefficients.as_dict().items()}
    expected = {(1, 0, 0, 0, 0, 0): 1.0, (19, 0, 0, 0, 0, 0): 1.0, (0, 0, 3, 0, 5, 0): 0.5, (0, 0, 17, 0, 15, 0): 0.5}
    assert got == expected
    assert rec.queries == rec.coefficients.queries <= 20_000
    assert rec.X.shape == (rec.queries, n) and np.allclose(f(rec.X.astype(int)), rec.y)
    assert rec.table["order"].tolist()[:2] == [1, 1]


@pytest.mark.parametrize("method", sorted(METHODS))
def test_recover_runs_every_method(method):
    q, n = 5, 4
    f = fourier.planted_sparse_function(n, q, 6, max_order=2, seed=1)
    if method in Q2_ONLY:  # coalition methods (their recovery on q = 2: tests/test_fourier_shapiq.py)
        with pytest.raises(PlmscopeError, match="only q = 2"):
            recover(f, n, q, method=method, budget=q**n)
        return
    rec = recover(f, n, q, method=method, budget=q**n)
    assert rec.coefficients.method == method and rec.queries <= q**n
    X = fourier.all_points(n, q)
    assert metrics.r2(f.true(X), rec.coefficients.predict(X)) > 0.9


def test_recover_errors():
    f = lambda X: X.sum(axis=1)  # noqa: E731
    with pytest.raises(PlmscopeError, match="unknown method 'fft'"):
        recover(f, 3, 4, method="fft")
    with pytest.raises(PlmscopeError, match="bad options for method 'qsft'"):
        recover(f, 3, 4, colour="red")
    with pytest.raises(PlmscopeError, match="landscape has n=3"):
        recover(Landscape(f, 3, 4), 4, 4)


def test_recover_accepts_a_landscape_and_reports_only_its_own_queries():
    land = Landscape(lambda X: X[:, 0].astype(float), 3, 4)
    land(np.array([[3, 3, 3]]))
    rec = recover(land, 3, 4, method="exact")
    assert rec.queries == 63 and land.n_queries == 64 and rec.coefficients.queries == 63


def test_saved_coefficients_load_back(tmp_path):
    rec = recover(lambda X: np.cos(2 * np.pi * X[:, 1] / 4), 2, 4, method="exact")
    path = tmp_path / "out" / "coefficients.parquet"
    rec.coefficients.save(path)
    back = FourierCoefficients.load(path)
    assert back.as_dict() == pytest.approx(rec.coefficients.as_dict())
    (tmp_path / "junk.parquet").write_bytes(b"junk")
    with pytest.raises(PlmscopeError, match="junk.parquet"):
        FourierCoefficients.load(tmp_path / "junk.parquet")
