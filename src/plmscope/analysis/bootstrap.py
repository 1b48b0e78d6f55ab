"""Per-protein attention counts and protein-level bootstrap confidence intervals for head proportions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa

from plmscope.analysis.enrichment import AttentionRowCounter
from plmscope.analysis.features import pair_values
from plmscope.errors import PlmscopeError

BOOTSTRAP_COLUMNS: tuple[str, ...] = (
    "feature", "layer", "head", "label", "n_attention", "n_feature", "proportion", "ci_low", "ci_high", "se",
    "n_proteins", "n_boot",
)  # fmt: skip
"""Columns of :func:`bootstrap_heads`."""


@dataclass(frozen=True)
class ProteinCounts:
    """Thresholded-attention counts per feature, protein and head.

    Summed over proteins they equal :class:`plmscope.analysis.enrichment.EnrichmentCounts`.

    Attributes:
        features: feature names ``(F,)``.
        ids: protein ids ``(P,)``, in the order of the feature arrays.
        n_attention: ``(F, P, layers, heads)`` int64, weights on the feature's eligible pairs.
        n_feature: ``(F, P, layers, heads)`` int64, those on pairs with the feature.
        annotated: ``(F, P)`` bool, the protein carries the feature's annotation.
    """

    features: tuple[str, ...]
    ids: tuple[str, ...]
    n_attention: np.ndarray
    n_feature: np.ndarray
    annotated: np.ndarray


class ProteinCounter(AttentionRowCounter):
    """Accumulate :class:`ProteinCounts` over batches of attention rows (one ``bincount`` per feature).

    Arguments as :class:`plmscope.analysis.enrichment.AttentionRowCounter`.
    """

    def _allocate(self) -> None:
        """Zero the per-protein, per-head counts."""
        self._size = len(self.arrays.ids) * self.num_layers * self.num_heads
        self._n_attention = np.zeros((len(self.features), self._size), dtype=np.int64)
        self._n_feature = np.zeros((len(self.features), self._size), dtype=np.int64)

    def add(self, batch: pa.RecordBatch | pa.Table | Mapping[str, Any]) -> None:
        """Count one batch of attention rows (columns protein_id, layer, head, i, j).

        Raises:
            PlmscopeError: a column is missing, a protein id is not analysed, or an index is out of range.
        """
        decoded = self._decode(batch)
        if decoded is None:
            return
        protein, layer, head, i, j = decoded
        length = self.arrays.lengths[protein]
        bad = (layer < 0) | (layer >= self.num_layers) | (head < 0) | (head >= self.num_heads)
        bad |= (i < 0) | (i >= length) | (j < 0) | (j >= length)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise PlmscopeError(
                f"attention row (layer {int(layer[k])}, head {int(head[k])}, i {int(i[k])}, j {int(j[k])}) of protein "
                f"{self.arrays.ids[protein[k]]!r} is outside {self.num_layers} layers x {self.num_heads} heads x "
                f"{int(length[k])} residues"
            )
        key = (protein * self.num_layers + layer) * self.num_heads + head
        for f, feature in enumerate(self.features):
            eligible, value = pair_values(
                self.arrays, feature, protein, i, j, cutoff=self.cutoff, min_separation=self.min_separation
            )
            self._n_attention[f] += np.bincount(key[eligible], minlength=self._size)
            self._n_feature[f] += np.bincount(key[eligible & value], minlength=self._size)

    def counts(self) -> ProteinCounts:
        """The counts accumulated so far."""
        shape = (len(self.features), len(self.arrays.ids), self.num_layers, self.num_heads)
        return ProteinCounts(
            features=self.features,
            ids=tuple(self.arrays.ids),
            n_attention=self._n_attention.reshape(shape).copy(),
            n_feature=self._n_feature.reshape(shape).copy(),
            annotated=np.stack([self.arrays.annotated_for(f) for f in self.features]).astype(bool),
        )


def bootstrap_ratio(
    numerator: np.ndarray,
    denominator: np.ndarray,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Percentile bootstrap of ratios of sums, resampling the rows (proteins) with replacement.

    Replicate b draws P proteins with replacement (multinomial weights ``w_b``) and computes
    ``sum_p w_bp num_pk / sum_p w_bp den_pk`` for every column k at once (two matrix products).

    Args:
        numerator: ``(P, K)`` per-protein numerators (thresholded weights on the feature).
        denominator: ``(P, K)`` per-protein denominators (thresholded weights on eligible pairs).
        n_boot: replicates B.
        seed: seed of :func:`numpy.random.default_rng`.
        alpha: the interval is the ``[alpha/2, 1 - alpha/2]`` percentile range.

    Returns:
        ``(estimate, low, high, se)``, four ``(K,)`` float arrays: the full-sample ratio, the
        percentile bounds, and the standard deviation of the replicates. Replicates with a zero
        denominator are left out; a column whose denominator is zero overall is NaN throughout.

    Raises:
        PlmscopeError: shapes differ, no protein, or a bad ``n_boot`` / ``alpha``.
    """
    num = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    if num.ndim != 2 or num.shape != den.shape:
        raise PlmscopeError(f"bootstrap: numerator {num.shape} and denominator {den.shape} must both be (P, K)")
    if num.shape[0] == 0:
        raise PlmscopeError("bootstrap: no protein to resample")
    if isinstance(n_boot, bool) or int(n_boot) != n_boot or n_boot < 1:
        raise PlmscopeError(f"bootstrap n_boot: must be a positive integer, got {n_boot!r}")
    if not 0 < alpha < 1:
        raise PlmscopeError(f"bootstrap alpha: must lie in (0, 1), got {alpha}")
    n = num.shape[0]
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=int(n_boot)).astype(np.float64)  # (B, P)
    rep_num, rep_den = weights @ num, weights @ den
    with np.errstate(divide="ignore", invalid="ignore"):
        replicates = np.where(rep_den > 0, rep_num / rep_den, np.nan)
        total = den.sum(axis=0)
        estimate = np.where(total > 0, num.sum(axis=0) / np.where(total > 0, total, 1), np.nan)
    k = num.shape[1]
    low, high, se = np.full(k, np.nan), np.full(k, np.nan), np.full(k, np.nan)
    seen = (~np.isnan(replicates)).sum(axis=0)
    ok = seen > 0
    if ok.any():
        low[ok], high[ok] = np.nanpercentile(replicates[:, ok], [100 * alpha / 2, 100 * (1 - alpha / 2)], axis=0)
        two = seen > 1
        se[two] = np.nanstd(replicates[:, two], axis=0, ddof=1)
    return estimate, low, high, se


def bootstrap_heads(
    counts: ProteinCounts,
    heads: pd.DataFrame,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Protein-level bootstrap intervals for the proportion of chosen heads on their features.

    For each feature the proteins annotated for it are resampled with replacement (B times,
    the same seed for every feature); a replicate's proportion is the sum of its proteins'
    numerators over the sum of their denominators, as in the micro-averaged enrichment.

    Args:
        counts: per-protein counts (:class:`ProteinCounter`).
        heads: rows with feature, layer, head (0-based), e.g. the top heads of the enrichment.
        n_boot: replicates per feature.
        seed: seed of the resampling.
        alpha: two-sided level of the percentile interval.

    Returns:
        One row per head of ``heads`` with :data:`BOOTSTRAP_COLUMNS` (``label`` 1-based "L-H").

    Raises:
        PlmscopeError: a feature of ``heads`` is not in ``counts``, or a layer/head is out of range.
    """
    missing = [c for c in ("feature", "layer", "head") if c not in heads.columns]
    if missing:
        raise PlmscopeError(f"bootstrap: head table lacks columns {missing}")
    num_layers, num_heads = counts.n_attention.shape[2:]
    rows = []
    for feature, group in heads.groupby("feature", sort=False):
        if feature not in counts.features:
            raise PlmscopeError(f"bootstrap: feature {feature!r} was not counted; counted {list(counts.features)}")
        layer = group["layer"].to_numpy(dtype=np.int64)
        head = group["head"].to_numpy(dtype=np.int64)
        if ((layer < 0) | (layer >= num_layers) | (head < 0) | (head >= num_heads)).any():
            raise PlmscopeError(f"bootstrap: a head of feature {feature!r} is outside {num_layers} x {num_heads}")
        f = counts.features.index(feature)
        proteins = np.flatnonzero(counts.annotated[f])
        num = counts.n_feature[f][proteins][:, layer, head]
        den = counts.n_attention[f][proteins][:, layer, head]
        if len(proteins):
            estimate, low, high, se = bootstrap_ratio(num, den, n_boot=n_boot, seed=seed, alpha=alpha)
        else:
            estimate = low = high = se = np.full(len(layer), np.nan)
        rows.append(
            pd.DataFrame(
                {
                    "feature": feature,
                    "layer": layer,
                    "head": head,
                    "label": [f"{a + 1}-{b + 1}" for a, b in zip(layer, head)],
                    "n_attention": den.sum(axis=0).astype(np.int64),
                    "n_feature": num.sum(axis=0).astype(np.int64),
                    "proportion": estimate,
                    "ci_low": low,
                    "ci_high": high,
                    "se": se,
                    "n_proteins": len(proteins),
                    "n_boot": int(n_boot),
                }
            )
        )
    if not rows:
        return pd.DataFrame(columns=list(BOOTSTRAP_COLUMNS))
    return pd.concat(rows, ignore_index=True)[list(BOOTSTRAP_COLUMNS)]
