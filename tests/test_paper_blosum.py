"""Attention similarity of amino acids vs BLOSUM62, on planted per-head proportions with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plmscope.analysis.blosum import (
    attention_similarity,
    compare_with_blosum,
    head_proportions,
    load_blosum,
    off_diagonal_r,
)
from plmscope.data.residues import STANDARD_AA
from plmscope.errors import PlmscopeError

LETTERS = list(STANDARD_AA)


def _with_exact_correlation(target: np.ndarray, n_heads: int, seed: int = 0) -> np.ndarray:
    """``(n_heads, A)`` data whose sample correlation matrix is exactly ``target`` (positive definite)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n_heads, target.shape[0]))
    z -= z.mean(axis=0)
    q, _ = np.linalg.qr(z)  # orthonormal, centred columns
    x = q @ np.linalg.cholesky(target).T
    # an affine map per column (positive scale) leaves correlations unchanged: make them proportions
    return 0.05 + 0.02 * x / np.abs(x).max()


def _planted_table(scale: float, offset: float, *, n_heads: int = 48, layers: int = 6) -> pd.DataFrame:
    """An enrichment table whose aa similarity is ``offset + scale * BLOSUM62`` off the diagonal."""
    blosum = load_blosum().to_numpy()
    target = offset + scale * blosum
    np.fill_diagonal(target, 1.0)
    assert np.linalg.eigvalsh(target).min() > 0
    proportions = _with_exact_correlation(target, n_heads)
    heads = n_heads // layers
    rows = []
    for k in range(n_heads):
        layer, head = divmod(k, heads)
        for a, letter in enumerate(LETTERS):
            rows.append({"feature": f"aa_{letter}", "layer": layer, "head": head, "label": f"{layer + 1}-{head + 1}",
                         "proportion": proportions[k, a], "masked": False})  # fmt: skip
    return pd.DataFrame(rows)


def test_blosum62_from_biopython():
    blosum = load_blosum()
    assert list(blosum.index) == LETTERS == list(blosum.columns)
    assert blosum.loc["A", "R"] == -1 and blosum.loc["W", "W"] == 11 and blosum.loc["I", "V"] == 3
    np.testing.assert_array_equal(blosum.to_numpy(), blosum.to_numpy().T)


@pytest.mark.parametrize(("scale", "expected"), [(0.01, 1.0), (-0.01, -1.0)])
def test_similarity_that_is_affine_in_blosum_gives_r_of_one(scale, expected):
    result = compare_with_blosum(_planted_table(scale, 0.02))
    assert result.r == pytest.approx(expected, abs=1e-9)
    assert result.n_pairs == 190 and result.n_heads == 48
    off = ~np.eye(20, dtype=bool)
    np.testing.assert_allclose(result.similarity.to_numpy()[off], (0.02 + scale * load_blosum().to_numpy())[off],
                               atol=1e-9)  # fmt: skip
    assert np.isnan(np.diag(result.similarity.to_numpy())).all()
    assert np.isnan(np.diag(result.blosum.to_numpy())).all()


def test_unrelated_proportions_give_small_r():
    rng = np.random.default_rng(1)
    table = _planted_table(0.01, 0.0)
    table["proportion"] = rng.uniform(0, 0.2, size=len(table))
    result = compare_with_blosum(table)
    assert abs(result.r) < 0.3


def test_masked_heads_are_left_out():
    table = _planted_table(0.01, 0.02)
    extra = table[table["label"] == "1-1"].copy()
    extra["layer"], extra["head"], extra["label"] = 9, 0, "10-1"
    extra["proportion"] = np.linspace(0.9, 0.1, len(extra))  # would wreck the correlation if used
    extra.loc[extra["feature"] == "aa_W", ["masked", "proportion"]] = [True, np.nan]
    proportions = head_proportions(pd.concat([table, extra], ignore_index=True))
    assert "10-1" not in proportions.index and len(proportions) == 48
    assert compare_with_blosum(pd.concat([table, extra], ignore_index=True)).r == pytest.approx(1.0, abs=1e-9)


def test_similarity_matches_numpy_corrcoef_and_constant_columns_are_nan():
    rng = np.random.default_rng(2)
    data = pd.DataFrame(rng.uniform(size=(30, 4)), columns=list("ACDE"))
    data["E"] = 0.3
    sim = attention_similarity(data)
    expected = np.corrcoef(data[list("ACD")].to_numpy().T)
    np.testing.assert_allclose(sim.loc[list("ACD"), list("ACD")].to_numpy()[~np.eye(3, dtype=bool)],
                               expected[~np.eye(3, dtype=bool)])  # fmt: skip
    assert sim["E"].isna().all() and sim.loc["E"].isna().all()


def test_off_diagonal_r_uses_each_pair_once():
    a = pd.DataFrame([[0, 1, 2], [1, 0, 3], [2, 3, 0]], index=list("ABC"), columns=list("ABC"), dtype=float)
    b = 2 * a + 1
    r, n = off_diagonal_r(a, b)
    assert r == pytest.approx(1.0) and n == 3


def test_too_few_heads_or_no_amino_acids_is_an_error():
    table = _planted_table(0.01, 0.02)
    with pytest.raises(PlmscopeError, match="at least 3"):
        compare_with_blosum(table[table["label"].isin(["1-1", "1-2"])])
    with pytest.raises(PlmscopeError, match="no amino-acid features"):
        compare_with_blosum(table.assign(feature="contact"))
