"""One-hot interaction models <-> q-ary Fourier spectra: exact against the dense FFT, both ways."""

from itertools import combinations

import numpy as np
import pytest

from plmscope.errors import PlmscopeError
from plmscope.fourier import Landscape, all_points, planted_sparse_function
from plmscope.fourier.exact import ExactTransform
from plmscope.fourier.landscape_spec import LandscapeSpec
from plmscope.fourier.onehot import (
    OneHotModel,
    TermIndex,
    merge_frequencies,
    sample_points,
)
from plmscope.fourier.planted import additive_pairwise_function, planted_onehot_function
from plmscope.fourier.tables import interaction_table

N, Q = 4, 5


def random_model(seed=0) -> OneHotModel:
    rng = np.random.default_rng(seed)
    terms = {}
    for r in (1, 2, 3):
        for S in combinations(range(N), r):
            if rng.random() < 0.6:
                m = int(rng.integers(1, 4))
                terms[S] = (rng.integers(0, Q, size=(m, r)), rng.normal(size=m))  # residue 0 included
    return OneHotModel(N, Q, 0.4, terms)


def assert_same_spectrum(a, b, atol=1e-12):
    da, db = a.as_dict(), b.as_dict()
    assert max(abs(da.get(k, 0) - db.get(k, 0)) for k in da.keys() | db.keys()) < atol


def test_model_to_fourier_matches_the_exact_fft():
    model = random_model()
    X = all_points(N, Q)
    exact = ExactTransform().fit(Landscape(model.predict, N, Q))
    assert_same_spectrum(model.to_fourier(), exact)
    np.testing.assert_allclose(model.to_fourier().predict(X), model.predict(X), atol=1e-12)
    assert model.to_fourier().orders.max() <= 3


def test_fourier_to_anchored_model_is_exact_and_gives_mixed_differences():
    f = planted_sparse_function(N, Q, 21, max_order=3, seed=4)
    model = OneHotModel.from_fourier(f.coefficients)
    X = all_points(N, Q)
    np.testing.assert_allclose(model.predict(X), f.true(X), atol=1e-12)
    assert all(res.min() >= 1 for res, _ in model.terms.values())  # wild-type anchored
    # order-2 weight = f(ab) - f(a) - f(b) + f(wt) at sites (0, 2), residues (3, 1)
    res, w = model.terms[(0, 2)]
    pick = np.flatnonzero((res == [3, 1]).all(axis=1))
    pts = np.array([[3, 0, 1, 0], [3, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]])
    fab, fa, fb, fwt = f.true(pts)
    expected = fab - fa - fb + fwt
    assert (w[pick][0] if pick.size else 0.0) == pytest.approx(expected, abs=1e-12)
    assert model.intercept == pytest.approx(fwt)
    # the round trip returns the same spectrum
    assert_same_spectrum(model.to_fourier(), f.coefficients)


def test_anchoring_keeps_the_function_and_removes_residue_zero():
    model = random_model(1)
    anchored = model.anchored()
    X = all_points(N, Q)
    np.testing.assert_allclose(anchored.predict(X), model.predict(X), atol=1e-12)
    assert all(res.min() >= 1 for res, _ in anchored.terms.values())
    again = OneHotModel.from_fourier(model.to_fourier())
    assert len(again) == len(anchored)
    np.testing.assert_allclose(again.predict(X), anchored.predict(X), atol=1e-12)


def test_table_matches_the_epistasis_interaction_table():
    spec = LandscapeSpec("p", "MKTAYIAKQR", (1, 3, 6, 8), q=20)
    f = planted_onehot_function(4, 20, n_pairs=6, n_triples=1, seed=2)
    ours = OneHotModel.from_fourier(f.coefficients).to_table(spec)
    theirs = interaction_table(f.coefficients, spec, max_order=3, top_k=100_000)
    assert list(ours.columns) == list(theirs.columns)
    theirs = theirs[theirs["magnitude"] > 1e-9]  # the run's table also lists rounding noise
    merged = ours.merge(theirs, on=["interaction_order", "mutations"], suffixes=("", "_ref"))
    assert len(merged) == len(theirs) == len(ours)
    np.testing.assert_allclose(merged["coefficient"], merged["coefficient_ref"], atol=1e-9)
    plain = f.one_hot.to_table()
    assert {"interaction_order", "sites", "residues", "coefficient"} <= set(plain.columns) and plain["interaction_order"].max() == 3


def test_design_columns_match_the_model():
    rng = np.random.default_rng(3)
    X = rng.integers(0, Q, size=(300, N))
    index = TermIndex(((0,), (1,), (0, 2), (1, 2, 3)), ((2,), (0,), (1, 4), (3, 3, 0)))
    D = index.design(X).toarray()
    assert D.shape == (300, 4)
    np.testing.assert_array_equal(D[:, 2], (X[:, 0] == 1) & (X[:, 2] == 4))
    np.testing.assert_array_equal(D[:, 3], (X[:, 1] == 3) & (X[:, 2] == 3) & (X[:, 3] == 0))
    w = np.array([1.0, -2.0, 0.5, 3.0])
    np.testing.assert_allclose(index.to_model(w, 0.1, N, Q).predict(X), D @ w + 0.1)
    assert len(TermIndex.all_singles(N, Q, anchored=True)) == N * (Q - 1)


def test_helpers():
    freqs, vals = merge_frequencies(np.array([[1, 0], [0, 2], [1, 0]]), np.array([1.0, 2.0, 3.0]), 3)
    assert dict(zip(map(tuple, freqs.tolist()), vals)) == {(1, 0): 4.0, (0, 2): 2.0}
    pts = sample_points(np.random.default_rng(0), 3, 4, 60)
    assert len({tuple(p) for p in pts.tolist()}) == 60  # distinct on a small space
    f = additive_pairwise_function()
    assert len(f.coefficients) == 16_436 and f.noise_sd > 0
    with pytest.raises(PlmscopeError, match="site set"):
        OneHotModel(3, 4, 0.0, {(2, 1): (np.array([[0, 0]]), np.array([1.0]))})
    with pytest.raises(PlmscopeError, match="n_pairs"):
        planted_onehot_function(5, 4, n_pairs=2, n_triples=1)
