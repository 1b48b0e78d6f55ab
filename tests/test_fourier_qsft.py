"""q-SFT on planted sparse functions over Z_20^n: support, accuracy, query counts, budgets, noise."""

import numpy as np
import pytest

from plmscope.errors import PlmscopeError
from plmscope.fourier import Landscape, metrics, planted_sparse_function
from plmscope.fourier.exact import ExactTransform
from plmscope.fourier.qsft import QSFT

Q = 20


def held_out_r2(f, coeffs, n, m=3000, seed=123):
    X = np.random.default_rng(seed).integers(0, Q, size=(m, n))
    return metrics.r2(f.true(X), coeffs.predict(X))


def test_matches_exact_transform_at_small_n():
    n = 4
    f = planted_sparse_function(n, Q, 20, seed=11)
    reference = ExactTransform().fit(Landscape(f, n, Q))
    coeffs = QSFT(b=2, C=3, seed=1).fit(Landscape(f, n, Q))
    assert metrics.support_precision_recall(coeffs, reference) == (1.0, 1.0)
    assert metrics.coefficient_nmse(coeffs, reference) < 1e-18
    assert coeffs.queries < Q**n / 10


@pytest.mark.parametrize("n, sparsity", [(6, 40), (12, 101)])
def test_noiseless_recovery(n, sparsity):
    f = planted_sparse_function(n, Q, sparsity, max_order=3, seed=n)
    assert set(f.coefficients.orders.tolist()) >= {1, 2, 3}
    budget = 400_000
    land = Landscape(f, n, Q)
    coeffs = QSFT(b=3, C=3, seed=0).fit(land, budget)
    assert metrics.support_precision_recall(coeffs, f.coefficients) == (1.0, 1.0)
    assert held_out_r2(f, coeffs, n) > 0.9999
    assert metrics.coefficient_nmse(coeffs, f.coefficients) < 1e-12
    assert coeffs.queries == land.n_queries <= budget
    assert coeffs.queries < Q**n / 100


def test_noisy_recovery_with_random_delays():
    n = 8
    clean = planted_sparse_function(n, Q, 40, seed=5)
    sd = 0.5 * np.sqrt(clean.variance)  # noise variance = 1/4 of the signal variance
    f = planted_sparse_function(n, Q, 40, seed=5, noise_sd=sd)
    est = QSFT(b=3, C=3, delays="random", R=3, seed=2)
    coeffs = est.fit(Landscape(f, n, Q))
    assert held_out_r2(f, coeffs, n) >= 0.97
    precision, recall = metrics.support_precision_recall(coeffs, f.coefficients)
    assert precision == 1.0 and recall >= 0.9
    assert coeffs.queries < Q**n / 1000
    # the threshold was chosen on validation queries: several candidates were scored
    assert len(est.thresholds_tried) > 3 and max(r2 for _, r2, _ in est.thresholds_tried) > 0.5


def test_budget_picks_b_and_is_respected():
    n = 6
    f = planted_sparse_function(n, Q, 10, seed=3)
    est = QSFT(C=2, seed=0, noise_threshold=0.0)
    # b=2 needs 2 * 400 * 7 = 5600 queries, b=3 needs 112000
    land = Landscape(f, n, Q)
    coeffs = est.fit(land, budget=100_000)
    assert est.b_used == 2 and coeffs.queries <= 5600
    assert QSFT(C=2).planned_queries(n, Q, 3) == 2 * 8000 * 7 + 2000
    # b=1: 2 * 20 * 7 = 280 subsampling queries + 50 validation queries
    with pytest.raises(PlmscopeError, match=r"budget 300 is below .*330 queries"):
        QSFT(C=2).fit(Landscape(f, n, Q), budget=300)
    with pytest.raises(PlmscopeError, match="needs 114000 queries"):
        QSFT(b=3, C=2).fit(Landscape(f, n, Q), budget=50_000)
    with pytest.raises(PlmscopeError, match="exceeds the number of sites"):
        QSFT(b=7).fit(Landscape(f, n, Q))


def test_seeded_and_deterministic():
    n = 5
    f = planted_sparse_function(n, Q, 30, seed=4)
    a = QSFT(b=2, seed=7).fit(Landscape(f, n, Q))
    b = QSFT(b=2, seed=7).fit(Landscape(f, n, Q))
    assert a.as_dict() == b.as_dict()


@pytest.mark.parametrize(
    "options, match",
    [
        ({"b": 0}, "option b"),
        ({"C": 1.5}, "option C"),
        ({"delays": "shifted"}, "option delays"),
        ({"noise_threshold": -1.0}, "option noise_threshold"),
        ({"noise_threshold": "high"}, "option noise_threshold"),
        ({"seed": -3}, "option seed"),
    ],
)
def test_option_validation(options, match):
    with pytest.raises(PlmscopeError, match=match):
        QSFT(**options)


def test_real_output_has_conjugate_pairs():
    n = 6
    f = planted_sparse_function(n, Q, 24, seed=9)
    coeffs = QSFT(b=2, C=3, seed=3).fit(Landscape(f, n, Q))
    d = coeffs.as_dict()
    for k, v in d.items():
        partner = tuple((-np.array(k)) % Q)
        assert d[partner] == pytest.approx(np.conj(v))


@pytest.mark.parametrize("q, n, b", [(2, 14, 6), (3, 9, 4), (7, 7, 2)])
def test_other_alphabets(q, n, b):
    f = planted_sparse_function(n, q, 31, seed=q)
    coeffs = QSFT(b=b, seed=1).fit(Landscape(f, n, q))
    assert metrics.support_precision_recall(coeffs, f.coefficients) == (1.0, 1.0)
    assert coeffs.queries < q**n / 5


def test_subsampling_maps_are_one_to_one_for_composite_q():
    """For q = 20, l -> M l mod 20 must be injective on Z_20^b (rank b mod 2 and mod 5)."""
    import itertools

    from plmscope.fourier.qsft import QSFT, _rank_mod_p

    assert _rank_mod_p(np.array([[2, 4], [6, 8]]), 2) == 0
    assert _rank_mod_p(np.array([[1, 2], [3, 4]]), 5) == 2
    for seed in range(20):
        estimator = QSFT(C=2, seed=seed)
        for M in estimator._subsampling_matrices(3, 20, 2):
            grid = np.array(list(itertools.product(range(20), repeat=2)))
            points = (grid @ M.T) % 20
            assert len(np.unique(points, axis=0)) == len(grid), (seed, M)


def _cosine_pair(X):
    return 2 * np.cos(2 * np.pi * (5 * X[:, 0] + 5 * X[:, 1]) / 20)


@pytest.mark.parametrize("seed", range(40))
def test_even_q_conjugate_pair_recovered_for_every_seed(seed):
    """Issue #13: k = (5, 5, 0, 0) and -k share a bin of group c whenever 2 M_c^T k = 0 (mod 20);
    the matrices are drawn so that some group separates them (seeds 2, 19, 22, 24, 32, 35 lost the
    pair before)."""
    coeffs = QSFT(b=2, C=2, seed=seed).fit(Landscape(_cosine_pair, 4, Q))
    d = coeffs.as_dict()
    assert set(d) == {(5, 5, 0, 0), (15, 15, 0, 0)}
    assert all(v == pytest.approx(1.0, abs=1e-9) for v in d.values())


@pytest.mark.parametrize("n, b, C", [(4, 2, 2), (6, 2, 3), (10, 4, 2), (12, 3, 3)])
def test_stacked_matrices_separate_conjugate_pairs(n, b, C):
    """Every t rows of [M_1 ... M_C] are independent mod 2 and mod 5 (t = n when C*b >= n, else 3),
    so no k of order <= t with k != -k shares its bin with -k in every group."""
    import itertools

    from plmscope.fourier.qsft import _rank_mod_p

    t = n if C * b >= n else 3
    for seed in range(3):
        est = QSFT(b=b, C=C, seed=seed)
        stacked = np.concatenate(list(est._subsampling_matrices(n, Q, b)), axis=1)
        assert est.pair_safe_order == t
        for rows in itertools.combinations(range(n), t):
            assert all(_rank_mod_p(stacked[list(rows)], p) == t for p in (2, 5)), (seed, rows)


def test_noiseless_auto_threshold_peels_once_without_validation_queries():
    n, b, C = 6, 2, 3
    f = planted_sparse_function(n, Q, 40, seed=8)
    est = QSFT(b=b, C=C, seed=0)
    land = Landscape(f, n, Q)
    coeffs = est.fit(land)
    assert metrics.support_precision_recall(coeffs, f.coefficients) == (1.0, 1.0)
    assert len(est.thresholds_tried) == 1 and est.validation_used == 0
    assert coeffs.queries <= C * Q**b * (n + 1)  # subsampling queries only
    # with noise the threshold grid is still scored on validation queries
    noisy = planted_sparse_function(n, Q, 40, seed=8, noise_sd=0.3)
    est = QSFT(b=b, C=C, delays="random", R=2, seed=0)
    coeffs = est.fit(Landscape(noisy, n, Q))
    assert est.validation_used == est.validation_size(n, Q, b) > 0 and len(est.thresholds_tried) == len(
        set(t for t, _, _ in est.thresholds_tried)
    ) > 3


def test_planted_spectrum_recovered_with_paper_style_options():
    """Random delays (R = 2), C = 2, auto threshold, as in the paper configuration (at b = 3)."""
    n = 10
    f = planted_sparse_function(n, Q, 60, seed=21)
    coeffs = QSFT(b=3, C=2, delays="random", R=2, n_validation=2000, seed=0).fit(Landscape(f, n, Q))
    assert metrics.support_precision_recall(coeffs, f.coefficients) == (1.0, 1.0)
    assert metrics.coefficient_nmse(coeffs, f.coefficients) < 1e-12
