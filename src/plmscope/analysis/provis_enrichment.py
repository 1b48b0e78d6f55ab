"""Attention enrichment under the authors' definitions (salesforce/provis), for reproducing the paper's numbers.

plmscope's own enrichment (:mod:`plmscope.analysis.enrichment`) corrects several choices of the
authors' code; this module reproduces that code's definitions instead (issue #11), from the same
attention rows and protein table:

1. **Weighted sums, strict threshold.** provis zeroes every weight ``<= theta``
   (``(attn > min_attn) * attn``) and sums the *remaining weights*: a head's denominator
   ``weight_total`` is the sum of its thresholded weights, the numerator the sum of those on
   pairs with the feature. (The paper's Eq. 1 counts indicators; the released numbers come from
   the code.) Rows are kept when ``weight > float32(theta)``, as torch compares a float32 tensor
   with a Python float.
2. **Contacts: every pair counts.** The denominator covers every thresholded pair of a protein
   with a structure, including pairs with a residue lacking coordinates, i = j, and
   ``|i - j| < 6``; such pairs are simply not contacts (TAPE's contact map holds -1 there and
   provis tests ``== 1``). A contact is CA-CA ``< 8`` Å with ``|i - j| >= 6``, both residues
   with coordinates.
3. **Token features** (binding site, PTM, secondary structure, amino acid of the attended-to
   residue j): every thresholded pair of a protein carrying the annotation (provis ran each
   feature on its own dataset, where every protein carries it).
4. **Backgrounds** (:func:`provis_backgrounds`, ``attention_analysis/background.py``): over the
   whole split, not the analysed sample. Contact: contacts over valid pairs with
   ``|i - j| >= 6`` among the first ``max_seq_len`` (512) residues of each chain (the contact map
   is cropped ``[:512, :512]`` and has no special-token rows). Binding sites / PTMs: the first
   ``max_seq_len - 1`` (511) residues (the label vector is padded with -1 for <cls> before it is
   cut to 512 entries). provis has no background for secondary structure or amino acids; here
   they use the residues analysed (``max_seq_len - 2``).
5. **Statistics** (:func:`provis_summarise`, ``report_top_heads.py``): a head is scored when
   ``weight_total > min_total`` (strict, 100); the proportion is ``weight_feature /
   weight_total``; its interval is statsmodels ``proportion_confint(int(weight_feature),
   int(weight_total), alpha / m, method="normal")`` with m the number of scored heads (unclipped,
   from the truncated sums, as provis passes them); the z-test is ``proportions_ztest`` of the
   truncated sums against the background counts. Heads rank by proportion, ties to the later
   layer then head (``sorted(..., reverse=True)`` on ``(score, layer, head)``).

The center of gravity under these definitions is :func:`provis_gravity_table`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from plmscope.analysis.enrichment import (
    ATTENTION_COLUMNS,
    TABLE_COLUMNS,
    AttentionRowCounter,
)
from plmscope.analysis.features import (
    PAIR_FEATURES,
    FeatureArrays,
    check_contact_options,
    check_features,
    feature_arrays,
    token_group,
)
from plmscope.analysis.stats import bonferroni, ztest_against
from plmscope.data.table import ProteinRecord
from plmscope.errors import PlmscopeError

PROVIS_MAX_SEQ_LEN = 512
"""provis's ``--max-seq-len``: BERT tokens per sequence, so 510 residues are analysed."""

PROVIS_MIN_TOTAL = 100
"""provis's ``--min_total``: a head is scored when its thresholded weight sum exceeds this (strictly)."""

PROVIS_TABLE_COLUMNS: tuple[str, ...] = (*TABLE_COLUMNS, "weight_total", "weight_feature", "n_rows")
"""Columns of :func:`provis_summarise`: the plmscope table's, then the weight sums and row counts.

``n_attention``/``n_feature`` hold ``int(weight_total)``/``int(weight_feature)``, the truncated
sums provis feeds to its interval and test as if they were counts; ``n_rows`` is the number of
thresholded weights on the feature's eligible pairs."""


def provis_keep(weight: np.ndarray, theta: float) -> np.ndarray:
    """``(R,)`` bool: the weights provis keeps, ``weight > float32(theta)`` (float32 comparison)."""
    return np.asarray(weight, dtype=np.float32) > np.float32(theta)


def residue_limits(max_seq_len: int = PROVIS_MAX_SEQ_LEN) -> dict[str, int]:
    """Residues per chain each provis quantity reads, from the model's ``max_seq_len`` tokens.

    Returns:
        ``attention``: residues analysed (``max_seq_len - 2``: <cls> and <sep> take two tokens);
        ``contact_background``: residues of the contact background (``max_seq_len``: the contact
        map has no special-token rows); ``label_background``: residues of the binding-site and
        PTM backgrounds (``max_seq_len - 1``: the -1 pad of <cls> takes the first of the
        ``max_seq_len`` label entries kept).
    """
    if int(max_seq_len) < 3:
        raise PlmscopeError(f"max_seq_len: need at least 3 tokens, got {max_seq_len}")
    n = int(max_seq_len)
    return {"attention": n - 2, "contact_background": n, "label_background": n - 1}


@dataclass(frozen=True)
class ProvisEnrichmentSums:
    """Thresholded attention weight sums per feature and head (provis definitions), summed over proteins.

    Attributes:
        features: feature names, ``(F,)``.
        weight_total: ``(F, layers, heads)`` float64, sum of thresholded weights on the feature's
            eligible pairs (all pairs of proteins annotated for the feature).
        weight_feature: ``(F, layers, heads)`` float64, the part on pairs with the feature.
        n_rows: ``(F, layers, heads)`` int64, thresholded weights on eligible pairs.
        n_feature_rows: ``(F, layers, heads)`` int64, those on pairs with the feature.
    """

    features: tuple[str, ...]
    weight_total: np.ndarray
    weight_feature: np.ndarray
    n_rows: np.ndarray
    n_feature_rows: np.ndarray

    @property
    def num_layers(self) -> int:
        """Number of layers."""
        return self.weight_total.shape[1]

    @property
    def num_heads(self) -> int:
        """Heads per layer."""
        return self.weight_total.shape[2]


class ProvisEnrichmentCounter(AttentionRowCounter):
    """Accumulate :class:`ProvisEnrichmentSums` over batches of attention rows (with ``weight``).

    Args:
        arrays, num_layers, num_heads, features, cutoff, min_separation: as
            :class:`plmscope.analysis.enrichment.AttentionRowCounter`.
        theta: provis's ``min_attn``; rows with ``weight <= theta`` (float32) are dropped. The
            attention rows must have been thresholded at ``theta`` or below.
    """

    def __init__(self, arrays: FeatureArrays, *, theta: float = 0.3, **kwargs: Any):
        self.theta = float(theta)
        super().__init__(arrays, **kwargs)

    def _allocate(self) -> None:
        size = self.num_layers * self.num_heads
        n = len(self.features)
        self._w_total = np.zeros((n, size), dtype=np.float64)
        self._w_feature = np.zeros((n, size), dtype=np.float64)
        self._n_rows = np.zeros((n, size), dtype=np.int64)
        self._n_feature = np.zeros((n, size), dtype=np.int64)

    def add(self, batch: pa.RecordBatch | pa.Table | Mapping[str, Any]) -> None:
        """Add one batch of attention rows (columns protein_id, layer, head, i, j, weight).

        Raises:
            PlmscopeError: a column is missing, a protein id is not analysed, or an index is out of range.
        """
        if isinstance(batch, Mapping):
            batch = pa.table({name: batch[name] for name in (*ATTENTION_COLUMNS, "weight") if name in batch})
        if "weight" not in batch.schema.names:
            raise PlmscopeError("attention rows lack column 'weight' (provis semantics sums the weights)")
        decoded = self._decode(batch)
        if decoded is None:
            return
        protein, layer, head, i, j = decoded
        weight_col = batch.column("weight")
        if isinstance(weight_col, pa.ChunkedArray):
            weight_col = weight_col.combine_chunks()
        weight = np.asarray(weight_col.to_numpy(zero_copy_only=False), dtype=np.float32)
        keep = provis_keep(weight, self.theta)
        if not keep.all():
            protein, layer, head, i, j, weight = (a[keep] for a in (protein, layer, head, i, j, weight))
        for name, values, limit in (("layer", layer, self.num_layers), ("head", head, self.num_heads)):
            if ((values < 0) | (values >= limit)).any():
                raise PlmscopeError(f"attention {name} outside 0..{limit - 1}")
        length = self.arrays.lengths[protein]
        if ((i < 0) | (i >= length) | (j < 0) | (j >= length)).any():
            raise PlmscopeError("attention residue index outside the analysed residues of its protein")
        size = self.num_layers * self.num_heads
        key = layer * self.num_heads + head
        w = weight.astype(np.float64)
        start = self.arrays.offsets[protein]
        contact = None
        for f, feature in enumerate(self.features):
            if feature in PAIR_FEATURES:
                eligible = self.arrays.annotated["contact"][protein]
                if contact is None:
                    contact = _provis_contacts(self.arrays, start + i, start + j, self.cutoff, self.min_separation)
                value = contact & eligible
            else:
                group, code = token_group(feature)
                eligible = self.arrays.annotated[group][protein]
                value = (self.arrays.codes[group][start + j] == code) & eligible
            self._w_total[f] += np.bincount(key[eligible], weights=w[eligible], minlength=size)
            self._w_feature[f] += np.bincount(key[value], weights=w[value], minlength=size)
            self._n_rows[f] += np.bincount(key[eligible], minlength=size)
            self._n_feature[f] += np.bincount(key[value], minlength=size)

    def sums(self) -> ProvisEnrichmentSums:
        """The sums accumulated so far."""
        shape = (len(self.features), self.num_layers, self.num_heads)
        return ProvisEnrichmentSums(
            features=self.features,
            weight_total=self._w_total.reshape(shape).copy(),
            weight_feature=self._w_feature.reshape(shape).copy(),
            n_rows=self._n_rows.reshape(shape).copy(),
            n_feature_rows=self._n_feature.reshape(shape).copy(),
        )


def _provis_contacts(
    arrays: FeatureArrays, a: np.ndarray, b: np.ndarray, cutoff: float, min_separation: int
) -> np.ndarray:
    """TAPE's contact test on global residue positions: both valid, ``|a - b| >= min_separation``, distance ``< cutoff``."""
    ca = arrays.ca.astype(np.float64)
    both = arrays.valid[a] & arrays.valid[b]
    with np.errstate(invalid="ignore"):
        dist = np.sqrt(np.sum((ca[a] - ca[b]) ** 2, axis=-1))
        close = dist < cutoff
    return both & close & (np.abs(a - b) >= min_separation)


def provis_enrichment(
    batches: Iterable[pa.RecordBatch | pa.Table | Mapping[str, Any]],
    arrays: FeatureArrays,
    *,
    num_layers: int,
    num_heads: int,
    theta: float = 0.3,
    features: Iterable[str] | None = None,
    cutoff: float = 8.0,
    min_separation: int = 6,
) -> ProvisEnrichmentSums:
    """Sum thresholded attention weights on each feature, per head, over all proteins (provis definitions).

    Args:
        batches: attention rows (protein_id, layer, head, i, j, weight) thresholded at ``theta``
            or below.
        arrays: the analysed proteins (the provis sample, cut to ``max_seq_len - 2`` residues).
        num_layers, num_heads: the model's shape.
        theta: provis's ``min_attn`` (weights ``> theta`` are kept).
        features: names to sum; None for all.
        cutoff: contact CA-CA distance in Å (strictly less than).
        min_separation: minimum ``|i - j|`` of a contact.
    """
    counter = ProvisEnrichmentCounter(
        arrays, theta=theta, num_layers=num_layers, num_heads=num_heads, features=features, cutoff=cutoff,
        min_separation=min_separation,
    )  # fmt: skip
    for batch in batches:
        counter.add(batch)
    return counter.sums()


def provis_backgrounds(
    records: Sequence[ProteinRecord],
    *,
    features: Iterable[str] | None = None,
    max_seq_len: int = PROVIS_MAX_SEQ_LEN,
    cutoff: float = 8.0,
    min_separation: int = 6,
) -> pd.DataFrame:
    """Background frequency of each feature as provis computes it (``attention_analysis/background.py``).

    Args:
        records: every protein of the split the background is taken over (provis: the whole
            training split, not the 5,000-protein sample).
        features: names; None for all.
        max_seq_len: provis's ``--max-seq-len``; sets the residues read (:func:`residue_limits`).
        cutoff: contact distance in Å (strictly less than).
        min_separation: minimum ``|i - j|`` of a contact and of a counted pair.

    Returns:
        DataFrame feature, n_eligible, n_feature, background, n_residues_max (residues per chain
        read). Contact: ordered pairs of valid residues with ``|i - j| >= min_separation`` among
        the first ``max_seq_len`` residues; binding_site/ptm: residues among the first
        ``max_seq_len - 1`` of annotated chains; other token features: the first
        ``max_seq_len - 2`` (provis has no background for them).
    """
    check_contact_options(cutoff, min_separation)
    limits = residue_limits(max_seq_len)
    chosen = check_features(features)
    rows = []
    cache: dict[int, FeatureArrays] = {}

    def arrays_for(limit: int) -> FeatureArrays:
        if limit not in cache:
            cache[limit] = feature_arrays(records, {r.id: min(len(r.sequence), limit) for r in records})
        return cache[limit]

    for feature in chosen:
        if feature in PAIR_FEATURES:
            limit = limits["contact_background"]
            n_eligible, n_feature = _contact_background(arrays_for(limit), cutoff, min_separation)
        else:
            group, _ = token_group(feature)
            limit = limits["label_background"] if group in ("binding_site", "ptm") else limits["attention"]
            arrays = arrays_for(limit)
            residues = np.repeat(arrays.annotated_for(feature), arrays.lengths)
            n_eligible = int(residues.sum())
            n_feature = int((arrays.has(feature) & residues).sum())
        rows.append({
            "feature": feature, "n_eligible": n_eligible, "n_feature": n_feature,
            "background": n_feature / n_eligible if n_eligible else np.nan, "n_residues_max": limit,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=["feature", "n_eligible", "n_feature", "background", "n_residues_max"]).astype(
        {"n_eligible": "int64", "n_feature": "int64", "background": "float64", "n_residues_max": "int64"}
    )


def _contact_background(arrays: FeatureArrays, cutoff: float, min_separation: int) -> tuple[int, int]:
    """Ordered valid pairs with ``|i - j| >= min_separation`` and the contacts among them, chain by chain."""
    from plmscope.data.contacts import contact_pairs, count_valid_pairs

    n_eligible = n_feature = 0
    for p in np.flatnonzero(arrays.annotated["contact"]):
        part = slice(int(arrays.offsets[p]), int(arrays.offsets[p + 1]))
        ca, valid = arrays.ca[part], arrays.valid[part]
        n_eligible += count_valid_pairs(valid, min_separation=min_separation)
        n_feature += len(contact_pairs(ca, valid, cutoff=cutoff, min_separation=min_separation)[0])
    return n_eligible, n_feature


def provis_summarise(
    sums: ProvisEnrichmentSums,
    backgrounds: pd.DataFrame,
    *,
    min_total: float = PROVIS_MIN_TOTAL,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """The enrichment table under provis's statistics (``report_top_heads.py``), one row per (feature, layer, head).

    Args:
        sums: from :func:`provis_enrichment`.
        backgrounds: from :func:`provis_backgrounds` (feature, n_eligible, n_feature, background).
        min_total: a head is scored when its ``weight_total > min_total``.
        alpha: family-wise level; each interval has level ``1 - alpha / m``, m = scored heads.

    Returns:
        A DataFrame with :data:`PROVIS_TABLE_COLUMNS`. ``masked`` = not scored; masked heads keep
        their sums but get NaN statistics and no rank. ``z`` > 0 when above background (provis
        prints the opposite sign), ``p_value`` two-sided, ``p_adjusted`` Bonferroni over the
        scored heads (provis prints only the raw p).
    """
    from statsmodels.stats.proportion import proportion_confint

    if not 0 < alpha < 1:
        raise PlmscopeError(f"alpha: must lie in (0, 1), got {alpha}")
    bg = backgrounds.set_index("feature")
    layers, heads = np.meshgrid(np.arange(sums.num_layers), np.arange(sums.num_heads), indexing="ij")
    layers, heads = layers.ravel(), heads.ravel()
    labels = [f"{l + 1}-{h + 1}" for l, h in zip(layers, heads)]
    tables = []
    for f, feature in enumerate(sums.features):
        w_tot = sums.weight_total[f].ravel()
        w_feat = sums.weight_feature[f].ravel()
        scored = w_tot > min_total
        m = int(scored.sum())
        num_pos = np.trunc(w_feat).astype(np.int64)
        num_total = np.trunc(w_tot).astype(np.int64)
        proportion = np.full(w_tot.shape, np.nan)
        proportion[scored] = w_feat[scored] / w_tot[scored]
        low = np.full(w_tot.shape, np.nan)
        high = np.full(w_tot.shape, np.nan)
        if m:
            lo, hi = proportion_confint(num_pos[scored], num_total[scored], alpha=alpha / m, method="normal")
            low[scored], high[scored] = lo, hi
        if feature in bg.index and bg.at[feature, "n_eligible"] > 0:
            ref_count, ref_nobs = int(bg.at[feature, "n_feature"]), int(bg.at[feature, "n_eligible"])
            background = ref_count / ref_nobs
        else:
            ref_count, ref_nobs, background = 0, 0, np.nan
        z, p = ztest_against(np.where(scored, num_pos, 0), np.where(scored, num_total, 0), ref_count, ref_nobs)
        z[~scored], p[~scored] = np.nan, np.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = proportion / background if background > 0 else np.full(w_tot.shape, np.nan)
        # sorted(((score, layer, head)), reverse=True): highest score, ties to the later layer, then head
        order = np.lexsort((-heads, -layers, -np.where(scored, proportion, -np.inf)))
        rank = np.empty(w_tot.shape, dtype=np.int64)
        rank[order] = np.arange(1, len(order) + 1)
        tables.append(pd.DataFrame({
            "feature": feature, "layer": layers, "head": heads, "label": labels,
            "n_attention": num_total, "n_feature": num_pos, "proportion": proportion, "ci_low": low,
            "ci_high": high, "background": background, "enrichment": ratio, "z": z, "p_value": p,
            "p_adjusted": bonferroni(p), "masked": ~scored, "rank": pd.arrays.IntegerArray(rank, ~scored),
            "n_tests": m, "weight_total": w_tot, "weight_feature": w_feat, "n_rows": sums.n_rows[f].ravel(),
        }))  # fmt: skip
    if not tables:
        return pd.DataFrame(columns=list(PROVIS_TABLE_COLUMNS))
    table = pd.concat(tables, ignore_index=True)
    return table.astype({"layer": "int64", "head": "int64", "n_attention": "int64", "n_feature": "int64"})


def provis_top_heads(table: pd.DataFrame, *, top_k: int = 10) -> pd.DataFrame:
    """The ``top_k`` scored heads of each feature of :func:`provis_summarise`, in feature then rank order."""
    from plmscope.analysis.enrichment import top_heads

    return top_heads(table, top_k=top_k)


def provis_layer_means(table: pd.DataFrame, feature: str, *, min_total: float = PROVIS_MIN_TOTAL) -> np.ndarray:
    """``(layers,)`` provis's per-layer macro average of a feature: the mean head proportion over heads
    with ``weight_total >= min_total`` (``report_edge_features*.py`` mask ``weight_total < min_total``,
    not the strict ``>`` of the top heads); NaN for a layer without such a head."""
    rows = table[table["feature"] == feature]
    if rows.empty:
        raise PlmscopeError(f"enrichment table has no rows for feature {feature!r}")
    num_layers = int(table["layer"].max()) + 1
    w_tot = rows["weight_total"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        proportion = rows["weight_feature"].to_numpy(dtype=float) / w_tot
    keep = w_tot >= min_total
    out = np.full(num_layers, np.nan)
    layer = rows["layer"].to_numpy()
    for lay in range(num_layers):
        sel = keep & (layer == lay)
        if sel.any():
            out[lay] = proportion[sel].mean()
    return out


def provis_center_of_gravity(profile: np.ndarray) -> float:
    """provis's center of gravity ``sum_l l p_l / sum_l p_l`` with **0-based** layer indices l.

    Undefined (NaN) when any layer's value is undefined (a layer with no unmasked head: provis's
    masked sum propagates) or when the values do not sum to a positive number. Add 1 for the
    1-based layer numbers of provis's plot labels.
    """
    p = np.asarray(profile, dtype=float)
    if p.size == 0 or not np.isfinite(p).all() or p.sum() <= 0:
        return float("nan")
    return float((np.arange(len(p)) * (p / p.sum())).sum())


def provis_gravity_table(
    table: pd.DataFrame, *, features: Iterable[str] | None = None, min_total: float = PROVIS_MIN_TOTAL
) -> pd.DataFrame:
    """Center of gravity of each feature of a :func:`provis_summarise` table (provis definitions).

    Returns:
        DataFrame feature, center_of_gravity (0-based layer index, NaN when undefined),
        center_of_gravity_layer_number (the same + 1, provis's plot numbering), n_layers (layers
        with a head at or above ``min_total``); lowest first, undefined last.
    """
    if "weight_total" not in table.columns:
        raise PlmscopeError("provis gravity needs a provis enrichment table (column weight_total)")
    chosen = list(pd.unique(table["feature"])) if features is None else list(features)
    rows = []
    for feature in chosen:
        means = provis_layer_means(table, feature, min_total=min_total)
        cog = provis_center_of_gravity(means)
        rows.append({
            "feature": feature, "center_of_gravity": cog, "center_of_gravity_layer_number": cog + 1,
            "n_layers": int(np.isfinite(means).sum()),
        })  # fmt: skip
    out = pd.DataFrame(rows, columns=["feature", "center_of_gravity", "center_of_gravity_layer_number", "n_layers"])
    return out.sort_values("center_of_gravity", kind="stable", na_position="last").reset_index(drop=True)


__all__ = [
    "PROVIS_MAX_SEQ_LEN", "PROVIS_MIN_TOTAL", "PROVIS_TABLE_COLUMNS", "ProvisEnrichmentCounter",
    "ProvisEnrichmentSums", "provis_backgrounds", "provis_center_of_gravity", "provis_enrichment",
    "provis_gravity_table", "provis_keep", "provis_layer_means", "provis_summarise", "provis_top_heads",
    "residue_limits",
]  # fmt: skip
