"""Attention similarity between amino acids, compared with BLOSUM62 (Vig et al. 2021, Sec. 4.4, Fig. 7)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from plmscope.analysis.features import AMINO_ACID_FEATURES
from plmscope.data.residues import STANDARD_AA
from plmscope.errors import PlmscopeError

MIN_HEADS = 3
"""Fewest heads (unmasked for every amino acid) for a correlation across heads to mean anything."""


@dataclass(frozen=True)
class BlosumComparison:
    """The attention similarity matrix of a model beside BLOSUM62.

    Attributes:
        similarity: ``(A, A)`` Pearson correlation, across heads, between the proportions of
            attention to amino acids a and b (index and columns the one-letter codes; NaN diagonal,
            NaN where a proportion is constant over the heads).
        blosum: ``(A, A)`` BLOSUM62 scores of the same amino acids (NaN diagonal).
        r: Pearson correlation between the off-diagonal entries of the two (each unordered pair
            once), NaN with fewer than 3 usable pairs.
        n_pairs: amino-acid pairs used for ``r``.
        n_heads: heads the similarity was computed over.
    """

    similarity: pd.DataFrame
    blosum: pd.DataFrame
    r: float
    n_pairs: int
    n_heads: int


def load_blosum(alphabet: str = STANDARD_AA, *, name: str = "BLOSUM62") -> pd.DataFrame:
    """A substitution matrix from Biopython, restricted to ``alphabet``.

    Returns:
        ``(A, A)`` float DataFrame indexed by the letters of ``alphabet`` in order.
    """
    from Bio.Align import substitution_matrices

    matrix = substitution_matrices.load(name)
    missing = [a for a in alphabet if a not in matrix.alphabet]
    if missing:
        raise PlmscopeError(f"substitution matrix {name} has no entries for {missing}")
    letters = list(alphabet)
    values = np.array([[matrix[a, b] for b in letters] for a in letters], dtype=float)
    return pd.DataFrame(values, index=letters, columns=letters)


def head_proportions(table: pd.DataFrame) -> pd.DataFrame:
    """Proportion of each head's attention that goes to each amino acid.

    Args:
        table: the enrichment table with the ``aa_*`` features.

    Returns:
        ``(heads, A)`` DataFrame indexed by head label ("L-H"), columns the one-letter codes of the
        amino-acid features present (alphabetical); only heads unmasked for every one of them.

    Raises:
        PlmscopeError: no amino-acid feature in the table.
    """
    aa = table[table["feature"].isin(AMINO_ACID_FEATURES)]
    if aa.empty:
        raise PlmscopeError("enrichment table has no amino-acid features (aa_*)")
    index = ["layer", "head", "label"]
    wide = aa.pivot(index=index, columns="feature", values="proportion").astype(float)
    masked = aa.pivot(index=index, columns="feature", values="masked").fillna(True)
    keep = ~masked.astype(bool).any(axis=1) & wide.notna().all(axis=1)
    wide = wide[keep].sort_index()
    wide.index = wide.index.get_level_values("label")
    wide.columns = [c[-1] for c in wide.columns]
    return wide[sorted(wide.columns)].astype(float)


def attention_similarity(proportions: pd.DataFrame) -> pd.DataFrame:
    """Pearson correlation between amino acids of their per-head attention proportions.

    Args:
        proportions: ``(heads, A)`` from :func:`head_proportions`.

    Returns:
        ``(A, A)`` correlation matrix with a NaN diagonal; rows and columns of an amino acid whose
        proportion is constant over the heads are NaN.
    """
    x = proportions.to_numpy(dtype=float)
    centred = x - x.mean(axis=0)
    norm = np.sqrt((centred**2).sum(axis=0))
    varies = np.ptp(x, axis=0) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = np.where(varies & (norm > 0), centred / norm, np.nan)
    corr = np.clip(unit.T @ unit, -1.0, 1.0)
    np.fill_diagonal(corr, np.nan)
    return pd.DataFrame(corr, index=proportions.columns, columns=proportions.columns)


def off_diagonal_r(a: pd.DataFrame, b: pd.DataFrame) -> tuple[float, int]:
    """Pearson r between the strictly-lower-triangle entries of two matrices over the same letters.

    Returns:
        ``(r, n)``: the correlation over the ``n`` pairs finite in both (NaN when n < 3 or an
        input is constant).
    """
    letters = list(a.index)
    b = b.loc[letters, letters]
    rows, cols = np.tril_indices(len(letters), k=-1)
    x = a.to_numpy(dtype=float)[rows, cols]
    y = b.to_numpy(dtype=float)[rows, cols]
    ok = np.isfinite(x) & np.isfinite(y)
    n = int(ok.sum())
    if n < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return float("nan"), n
    return float(np.corrcoef(x[ok], y[ok])[0, 1]), n


def compare_with_blosum(table: pd.DataFrame, *, blosum: pd.DataFrame | None = None) -> BlosumComparison:
    """Similarity of amino acids by the attention they receive, and its correlation with BLOSUM62.

    For each pair of amino acids (a, b) the similarity is the Pearson correlation, over all heads
    unmasked for every amino acid, between the head's proportion of attention to a and to b
    (Vig et al. 2021, Fig. 7); ``r`` is the Pearson correlation between these similarities and the
    BLOSUM62 scores over the off-diagonal pairs.

    Args:
        table: the enrichment table with ``aa_*`` features.
        blosum: substitution matrix to compare with (default :func:`load_blosum`).

    Raises:
        PlmscopeError: no amino-acid features, or fewer than :data:`MIN_HEADS` usable heads.
    """
    proportions = head_proportions(table)
    if len(proportions) < MIN_HEADS:
        raise PlmscopeError(
            f"only {len(proportions)} head(s) are unmasked for every amino acid; the attention similarity "
            f"needs at least {MIN_HEADS} (lower min_count or analyse more proteins)"
        )
    similarity = attention_similarity(proportions)
    reference = load_blosum("".join(similarity.index)) if blosum is None else blosum
    missing = [a for a in similarity.index if a not in reference.index or a not in reference.columns]
    if missing:
        raise PlmscopeError(f"substitution matrix lacks amino acid(s) {missing}")
    reference = reference.loc[similarity.index, similarity.columns].astype(float).copy()
    values = reference.to_numpy(copy=True)
    np.fill_diagonal(values, np.nan)
    reference = pd.DataFrame(values, index=similarity.index, columns=similarity.columns)
    r, n = off_diagonal_r(similarity, reference)
    return BlosumComparison(similarity=similarity, blosum=reference, r=r, n_pairs=n, n_heads=len(proportions))
