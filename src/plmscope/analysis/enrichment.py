"""Attention enrichment per head: the share of thresholded attention that lands on a feature (Vig et al. 2021)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from plmscope.analysis.features import (
    PAIR_FEATURES,
    TOKEN_GROUPS,
    FeatureArrays,
    check_contact_options,
    check_features,
    pair_values,
    token_group,
)
from plmscope.analysis.stats import CiMethod, bonferroni, proportion_ci, ztest_against
from plmscope.errors import PlmscopeError
from plmscope.options import CONTACT_CUTOFF, CONTACT_MIN_SEPARATION

ATTENTION_COLUMNS: tuple[str, ...] = ("protein_id", "layer", "head", "i", "j")
"""Columns of the attention rows that the enrichment reads (``weight`` is not needed)."""

TABLE_COLUMNS: tuple[str, ...] = (
    "feature", "layer", "head", "label", "n_attention", "n_feature", "proportion", "ci_low", "ci_high",
    "background", "enrichment", "z", "p_value", "p_adjusted", "masked", "rank", "n_tests",
)  # fmt: skip
"""Columns of the enrichment table returned by :func:`summarise`."""


@dataclass(frozen=True)
class EnrichmentCounts:
    """Thresholded-attention counts per feature and head, summed over all proteins.

    Attributes:
        features: feature names, ``(F,)``.
        n_attention: ``(F, layers, heads)`` int64, thresholded weights on the feature's eligible
            pairs (the denominator of p_lh(f)).
        n_feature: ``(F, layers, heads)`` int64, those on pairs with the feature (the numerator).
        n_rows: ``(layers, heads)`` int64, all thresholded weights read.
    """

    features: tuple[str, ...]
    n_attention: np.ndarray
    n_feature: np.ndarray
    n_rows: np.ndarray

    @property
    def num_layers(self) -> int:
        """Number of layers."""
        return self.n_rows.shape[0]

    @property
    def num_heads(self) -> int:
        """Heads per layer."""
        return self.n_rows.shape[1]


class AttentionRowCounter(ABC):
    """Shared part of the counters of attention rows: checked options and decoded batches.

    Subclasses create their count arrays in :meth:`_allocate` (called at the end of ``__init__``)
    and count the rows that :meth:`_decode` returns.

    Args:
        arrays: the analysed proteins (:func:`plmscope.analysis.features.feature_arrays`).
        num_layers: layers of the model.
        num_heads: heads per layer.
        features: names to count; None for all.
        cutoff: contact CA-CA distance in Å.
        min_separation: minimum ``|i - j|`` of a contact.
    """

    def __init__(
        self,
        arrays: FeatureArrays,
        *,
        num_layers: int,
        num_heads: int,
        features: Iterable[str] | None = None,
        cutoff: float = CONTACT_CUTOFF,
        min_separation: int = CONTACT_MIN_SEPARATION,
    ):
        if num_layers < 1 or num_heads < 1:
            raise PlmscopeError(f"attention: need at least one layer and head, got {num_layers} x {num_heads}")
        check_contact_options(cutoff, min_separation)
        self.arrays = arrays
        self.num_layers = int(num_layers)
        self.num_heads = int(num_heads)
        self.features = check_features(features)
        self.cutoff = float(cutoff)
        self.min_separation = int(min_separation)
        self._ids = pa.array(arrays.ids, type=pa.string())
        self._allocate()

    @abstractmethod
    def _allocate(self) -> None:
        """Create the count arrays."""

    @abstractmethod
    def add(self, batch: pa.RecordBatch | pa.Table | Mapping[str, Any]) -> None:
        """Count one batch of attention rows (columns protein_id, layer, head, i, j)."""

    def _decode(
        self, batch: pa.RecordBatch | pa.Table | Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """Protein positions in ``arrays``, layer, head, i and j of a batch as int64 ``(rows,)``; None if empty.

        Raises:
            PlmscopeError: a column is missing, an index is null, or a protein id is not analysed.
        """
        if isinstance(batch, Mapping):
            batch = pa.table({name: batch[name] for name in ATTENTION_COLUMNS if name in batch})
        missing = [name for name in ATTENTION_COLUMNS if name not in batch.schema.names]
        if missing:
            raise PlmscopeError(f"attention rows lack column(s) {missing}")
        if batch.num_rows == 0:
            return None
        protein = self._protein_positions(batch.column("protein_id"))
        layer, head, i, j = (_ints(batch.column(name)) for name in ("layer", "head", "i", "j"))
        return protein, layer, head, i, j

    def _protein_positions(self, column: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Map protein id strings to positions in ``arrays`` (vectorised through Arrow)."""
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if pa.types.is_dictionary(column.type):
            positions = pc.take(pc.index_in(column.dictionary.cast(pa.string()), value_set=self._ids), column.indices)
        else:
            positions = pc.index_in(column.cast(pa.string()), value_set=self._ids)
        if positions.null_count:
            unknown = pc.filter(column, pc.is_null(positions))
            first = unknown[0].as_py()
            raise PlmscopeError(f"attention rows name protein id {first!r}, which is not among the analysed proteins")
        return positions.to_numpy(zero_copy_only=False).astype(np.int64)


class EnrichmentCounter(AttentionRowCounter):
    """Accumulate :class:`EnrichmentCounts` over batches of attention rows (memory bounded by a batch).

    Arguments as :class:`AttentionRowCounter`.
    """

    def _allocate(self) -> None:
        """Group the token features by annotation; zero the per-head counts."""
        self._groups: dict[str, list[tuple[int, int]]] = {}
        for f, feature in enumerate(self.features):
            if feature not in PAIR_FEATURES:
                group, code = token_group(feature)
                self._groups.setdefault(group, []).append((f, code))
        size = self.num_layers * self.num_heads
        self._n_attention = np.zeros((len(self.features), size), dtype=np.int64)
        self._n_feature = np.zeros((len(self.features), size), dtype=np.int64)
        self._n_rows = np.zeros(size, dtype=np.int64)

    def add(self, batch: pa.RecordBatch | pa.Table | Mapping[str, Any]) -> None:
        """Count one batch of attention rows (columns protein_id, layer, head, i, j).

        Raises:
            PlmscopeError: a column is missing, a protein id is not among the analysed proteins,
                or a layer, head or residue index is out of range.
        """
        decoded = self._decode(batch)
        if decoded is None:
            return
        protein, layer, head, i, j = decoded
        for name, values, limit in (("layer", layer, self.num_layers), ("head", head, self.num_heads)):
            bad = (values < 0) | (values >= limit)
            if bad.any():
                raise PlmscopeError(f"attention {name} {int(values[bad][0])} outside 0..{limit - 1}")
        length = self.arrays.lengths[protein]
        for name, values in (("i", i), ("j", j)):
            bad = (values < 0) | (values >= length)
            if bad.any():
                k = int(np.flatnonzero(bad)[0])
                raise PlmscopeError(
                    f"attention residue {name}={int(values[k])} outside the {int(length[k])} analysed residues "
                    f"of protein {self.arrays.ids[protein[k]]!r}"
                )
        key = layer * self.num_heads + head
        size = self._n_rows.size
        self._n_rows += np.bincount(key, minlength=size)
        for f, feature in enumerate(self.features):
            if feature in PAIR_FEATURES:
                eligible, value = pair_values(
                    self.arrays, feature, protein, i, j, cutoff=self.cutoff, min_separation=self.min_separation
                )
                self._n_attention[f] += np.bincount(key[eligible], minlength=size)
                self._n_feature[f] += np.bincount(key[eligible & value], minlength=size)
        # Token features: one pass per group; a 2-D histogram (head, code) serves all its members.
        residue = self.arrays.offsets[protein] + j
        for group, members in self._groups.items():
            eligible = self.arrays.annotated[group][protein]
            group_key, code = (key, residue) if eligible.all() else (key[eligible], residue[eligible])
            code = self.arrays.codes[group][code].astype(np.int64)
            n_attention = np.bincount(group_key, minlength=size)
            hit = code >= 0
            width = len(TOKEN_GROUPS[group])
            hist = np.bincount(group_key[hit] * width + code[hit], minlength=size * width).reshape(size, width)
            for f, k in members:
                self._n_attention[f] += n_attention
                self._n_feature[f] += hist[:, k]

    def counts(self) -> EnrichmentCounts:
        """The counts accumulated so far."""
        shape = (len(self.features), self.num_layers, self.num_heads)
        return EnrichmentCounts(
            features=self.features,
            n_attention=self._n_attention.reshape(shape).copy(),
            n_feature=self._n_feature.reshape(shape).copy(),
            n_rows=self._n_rows.reshape(shape[1:]).copy(),
        )


def _ints(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An integer Arrow column as an int64 numpy array."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if column.null_count:
        raise PlmscopeError("attention rows hold null indices")
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.int64)


def enrichment(
    batches: Iterable[pa.RecordBatch | pa.Table | Mapping[str, Any]],
    arrays: FeatureArrays,
    *,
    num_layers: int,
    num_heads: int,
    features: Iterable[str] | None = None,
    cutoff: float = CONTACT_CUTOFF,
    min_separation: int = CONTACT_MIN_SEPARATION,
) -> EnrichmentCounts:
    """Count thresholded attention on each feature, per head, over all proteins (micro-average).

    Args:
        batches: attention rows (protein_id, layer, head, i, j), one row per weight >= theta.
        arrays: the analysed proteins.
        num_layers: layers of the model.
        num_heads: heads per layer.
        features: names to count; None for all.
        cutoff: contact CA-CA distance in Å.
        min_separation: minimum ``|i - j|`` of a contact.

    Returns:
        The summed counts.
    """
    counter = EnrichmentCounter(
        arrays, num_layers=num_layers, num_heads=num_heads, features=features, cutoff=cutoff,
        min_separation=min_separation,
    )  # fmt: skip
    for batch in batches:
        counter.add(batch)
    return counter.counts()


def summarise(
    counts: EnrichmentCounts,
    backgrounds: pd.DataFrame,
    *,
    min_count: int = 100,
    alpha: float = 0.05,
    ci_method: CiMethod = "wilson",
) -> pd.DataFrame:
    """Turn counts into the tidy enrichment table, one row per (feature, layer, head).

    A head is masked for a feature when fewer than ``min_count`` of its thresholded weights fall
    on the feature's eligible pairs: it keeps its counts but gets NaN statistics and no rank. The
    other heads of the feature form the family of ``n_tests`` tests: confidence intervals have
    level ``1 - alpha / n_tests`` and p-values are Bonferroni-adjusted over them.

    Args:
        counts: from :func:`enrichment`.
        backgrounds: from :func:`plmscope.analysis.features.backgrounds` (feature, n_eligible,
            n_feature, background).
        min_count: minimum denominator of a head to be tested.
        alpha: family-wise error rate.
        ci_method: confidence interval method.

    Returns:
        A DataFrame with :data:`TABLE_COLUMNS`: layer and head 0-based, ``label`` "L-H" 1-based,
        ``enrichment`` = proportion / background, ``z`` > 0 when above background, ``rank`` 1 for
        the highest proportion among unmasked heads (ties by layer, then head).
    """
    if not 0 < alpha < 1:
        raise PlmscopeError(f"alpha: must lie in (0, 1), got {alpha}")
    bg = backgrounds.set_index("feature")
    layers, heads = np.meshgrid(np.arange(counts.num_layers), np.arange(counts.num_heads), indexing="ij")
    layers, heads = layers.ravel(), heads.ravel()
    labels = [f"{l + 1}-{h + 1}" for l, h in zip(layers, heads)]
    tables = []
    for f, feature in enumerate(counts.features):
        n_att = counts.n_attention[f].ravel()
        n_feat = counts.n_feature[f].ravel()
        masked = n_att < max(int(min_count), 1)
        tested = ~masked
        n_tests = int(tested.sum())
        proportion = np.full(n_att.shape, np.nan)
        proportion[tested] = n_feat[tested] / n_att[tested]
        low, high = proportion_ci(
            np.where(tested, n_feat, 0), np.where(tested, n_att, 0), alpha=alpha, n_tests=n_tests, method=ci_method
        )
        if feature in bg.index and bg.at[feature, "n_eligible"] > 0:
            ref_count, ref_nobs = int(bg.at[feature, "n_feature"]), int(bg.at[feature, "n_eligible"])
            background = ref_count / ref_nobs
        else:
            ref_count, ref_nobs, background = 0, 0, np.nan
        z, p = ztest_against(np.where(tested, n_feat, 0), np.where(tested, n_att, 0), ref_count, ref_nobs)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = proportion / background if background > 0 else np.full(n_att.shape, np.nan)
        order = np.lexsort((heads, layers, -np.nan_to_num(proportion, nan=-1.0)))
        rank = np.empty(n_att.shape, dtype=np.int64)
        rank[order] = np.arange(1, len(order) + 1)
        tables.append(
            pd.DataFrame(
                {
                    "feature": feature,
                    "layer": layers,
                    "head": heads,
                    "label": labels,
                    "n_attention": n_att,
                    "n_feature": n_feat,
                    "proportion": proportion,
                    "ci_low": low,
                    "ci_high": high,
                    "background": background,
                    "enrichment": ratio,
                    "z": z,
                    "p_value": p,
                    "p_adjusted": bonferroni(p),
                    "masked": masked,
                    "rank": pd.arrays.IntegerArray(rank, masked),
                    "n_tests": n_tests,
                }
            )
        )
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=list(TABLE_COLUMNS))
    return table.astype({"layer": "int64", "head": "int64", "n_attention": "int64", "n_feature": "int64"})


def top_heads(table: pd.DataFrame, *, top_k: int = 10) -> pd.DataFrame:
    """The ``top_k`` unmasked heads of each feature by proportion, in feature order then rank.

    Args:
        table: from :func:`summarise`.
        top_k: heads kept per feature.
    """
    if top_k < 1:
        raise PlmscopeError(f"top_k: must be at least 1, got {top_k}")
    keep = ~table["masked"] & (table["rank"] <= top_k).fillna(False)
    out = table[keep].copy()
    order = {f: k for k, f in enumerate(pd.unique(table["feature"]))}
    out["_order"] = out["feature"].map(order)
    return out.sort_values(["_order", "rank"]).drop(columns="_order").reset_index(drop=True)
