"""shapiq's SPEX / ProxySPEX wrapped as q = 2 Fourier estimators, and the Möbius -> Fourier conversion."""

import numpy as np
import pytest

from plmscope.errors import PlmscopeError
from plmscope.fourier import METHODS, FourierCoefficients, Landscape, metrics, planted_sparse_function
from plmscope.fourier.shapiq_peers import moebius_to_fourier
from plmscope.fourier.transform import all_points


def test_moebius_to_fourier_is_exact():
    n = 5
    moebius = {(): 0.3, (1,): 1.0, (0, 2): -0.5, (1, 3, 4): 0.7}
    K, values = moebius_to_fourier(moebius, n)
    X = all_points(n, 2)
    direct = np.array([sum(v for S, v in moebius.items() if all(x[i] for i in S)) for x in X])
    np.testing.assert_allclose(FourierCoefficients(K, values, q=2, n=n).predict(X), direct, atol=1e-12)


@pytest.mark.parametrize("method, tolerance", [("spex", 1e-6), ("proxyspex", 0.15)])
def test_shapiq_peers_recover_a_planted_q2_function_within_budget(method, tolerance):
    n, budget = 10, 600
    f = planted_sparse_function(n, 2, 12, max_order=2, seed=3)
    land = Landscape(f, n, 2)
    coef = METHODS[method](seed=0).fit(land, budget)
    assert coef.method == method and coef.q == 2 and coef.n == n
    assert 0 < coef.queries <= budget and land.n_queries <= budget
    X = all_points(n, 2)
    assert metrics.r2(f.true(X), coef.predict(X)) > 1 - tolerance


@pytest.mark.parametrize("method", ["spex", "proxyspex"])
def test_shapiq_peers_refuse_q_above_2_in_one_line(method):
    f = planted_sparse_function(3, 20, 4, max_order=2, seed=0)
    with pytest.raises(PlmscopeError, match="only q = 2") as err:
        METHODS[method]().fit(Landscape(f, 3, 20), 100)
    assert "\n" not in str(err.value)


def test_qsft_paper_is_qsft_with_the_authors_settings():
    f = planted_sparse_function(6, 4, 8, max_order=2, seed=1)
    est = METHODS["qsft_paper"]()
    assert (est.C, est.delays, est.R) == (2, "random", 2)
    coef = est.fit(Landscape(f, 6, 4), 2000)
    assert coef.method == "qsft_paper" and coef.queries <= 2000
    X = all_points(6, 4)
    assert metrics.r2(f.true(X), coef.predict(X)) > 0.99
