"""The ``semantics`` switch: the authors' definitions (``provis``) or plmscope's corrected ones (``plmscope``).

Every public function here takes ``semantics`` and dispatches to
:mod:`plmscope.analysis.provis_enrichment` / :mod:`plmscope.analysis.provis_probing` (provis) or
the existing plmscope functions, so a run or CLI verb wires the switch with one call per step.
The definitions of both sides are tabulated in the README ("Semantics: provis vs plmscope").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from plmscope import options as opt
from plmscope.analysis.features import FeatureArrays
from plmscope.data.table import ProteinRecord
from plmscope.errors import PlmscopeError

if TYPE_CHECKING:  # only in annotations: `plmscope attention` imports this module, and pandas costs ~0.2 s
    import pandas as pd

Semantics = opt.Semantics
"""``provis``: reproduce the authors' code (salesforce/provis on TAPE) exactly; ``plmscope``: the
corrected definitions (default of every plmscope verb; the ``paper`` target uses ``provis``)."""

SEMANTICS: tuple[str, ...] = opt.SEMANTICS_CHOICES

DEFAULT_SEMANTICS: Semantics = opt.SEMANTICS

PROVIS_DTYPE = "float32"
"""Model precision under provis semantics: provis ran the models in float32. plmscope's default
(float16 on CUDA) moves weights near theta across the threshold, so ``provis`` forces float32 on
every device (:func:`inference_dtype`)."""

PROVIS_THETA = 0.3
"""provis's ``--min-attn``."""


def check_semantics(semantics: str) -> Semantics:
    """Return ``semantics`` or raise naming the choices."""
    if semantics not in SEMANTICS:
        raise PlmscopeError(f"semantics: must be one of {list(SEMANTICS)}, got {semantics!r}")
    return semantics  # type: ignore[return-value]


def inference_dtype(semantics: Semantics, requested: str | None = None) -> str | None:
    """The model dtype a run must use: ``"float32"`` under provis (whatever was requested), else ``requested``.

    Args:
        semantics: the switch.
        requested: the dtype from the configuration / CLI (None: the adapter's device default,
            float16 on CUDA in plmscope).

    Raises:
        PlmscopeError: provis semantics with an explicitly requested dtype other than float32
            (refused rather than silently overridden).
    """
    if check_semantics(semantics) == "provis":
        if requested not in (None, "auto", PROVIS_DTYPE, "fp32", "float"):
            raise PlmscopeError(f"semantics 'provis' runs models in float32 (as provis did); got dtype {requested!r}")
        return PROVIS_DTYPE
    return requested


def sample_indices(n: int, k: int, seed: int, *, semantics: Semantics) -> np.ndarray:
    """Indices of the analysed subset of a split of ``n`` records.

    provis: ``torch.manual_seed(seed); torch.randperm(n)[:k]`` in that order
    (:func:`plmscope.data.sampling.provis_sample_indices`); plmscope: numpy draw, sorted.
    """
    from plmscope.data.sampling import plmscope_sample_indices, provis_sample_indices

    if check_semantics(semantics) == "provis":
        return np.asarray(provis_sample_indices(n, k, seed), dtype=np.int64)
    return plmscope_sample_indices(n, k, seed)


def enrichment_sums(
    batches: Iterable[pa.RecordBatch | pa.Table | Mapping[str, Any]],
    arrays: FeatureArrays,
    *,
    semantics: Semantics,
    num_layers: int,
    num_heads: int,
    theta: float = PROVIS_THETA,
    features: Iterable[str] | None = None,
    cutoff: float = opt.CONTACT_CUTOFF,
    min_separation: int = opt.CONTACT_MIN_SEPARATION,
):
    """Per-head attention on each feature: provis weight sums or plmscope row counts.

    Returns:
        :class:`plmscope.analysis.provis_enrichment.ProvisEnrichmentSums` (provis; rows need the
        ``weight`` column, ``theta`` drops weights ``<= theta``) or
        :class:`plmscope.analysis.enrichment.EnrichmentCounts` (plmscope; ``theta`` unused).
    """
    if check_semantics(semantics) == "provis":
        from plmscope.analysis.provis_enrichment import provis_enrichment

        return provis_enrichment(
            batches, arrays, num_layers=num_layers, num_heads=num_heads, theta=theta, features=features,
            cutoff=cutoff, min_separation=min_separation,
        )  # fmt: skip
    from plmscope.analysis.enrichment import enrichment

    return enrichment(
        batches, arrays, num_layers=num_layers, num_heads=num_heads, features=features, cutoff=cutoff,
        min_separation=min_separation,
    )  # fmt: skip


def enrichment_backgrounds(
    *,
    semantics: Semantics,
    arrays: FeatureArrays | None = None,
    records: Sequence[ProteinRecord] | None = None,
    max_seq_len: int = 512,
    features: Iterable[str] | None = None,
    cutoff: float = opt.CONTACT_CUTOFF,
    min_separation: int = opt.CONTACT_MIN_SEPARATION,
) -> pd.DataFrame:
    """Background frequencies.

    provis: from ``records`` (the whole split), with provis's residue limits from ``max_seq_len``
    (contact 512, binding site/PTM 511, others 510) and contact pairs ``|i - j| >= 6``.
    plmscope: from ``arrays`` (the analysed residues), contact over all valid ordered pairs.
    """
    if check_semantics(semantics) == "provis":
        from plmscope.analysis.provis_enrichment import provis_backgrounds

        if records is None:
            raise PlmscopeError("provis backgrounds need the protein records of the whole split")
        return provis_backgrounds(
            records, features=features, max_seq_len=max_seq_len, cutoff=cutoff, min_separation=min_separation
        )
    from plmscope.analysis.features import backgrounds

    if arrays is None:
        raise PlmscopeError("plmscope backgrounds need the feature arrays of the analysed proteins")
    return backgrounds(arrays, features=features, cutoff=cutoff, min_separation=min_separation)


def enrichment_table(
    sums: Any,
    backgrounds: pd.DataFrame,
    *,
    semantics: Semantics,
    min_count: float = 100,
    alpha: float = 0.05,
    ci_method: str = "wilson",
) -> pd.DataFrame:
    """The tidy enrichment table.

    provis: heads scored when ``weight_total > min_count``, normal intervals at alpha / m from the
    truncated weight sums, ties to the later head (``ci_method`` ignored). plmscope: masked when
    ``n_attention < min_count``, ``ci_method`` intervals (Wilson by default).
    """
    if check_semantics(semantics) == "provis":
        from plmscope.analysis.provis_enrichment import provis_summarise

        return provis_summarise(sums, backgrounds, min_total=min_count, alpha=alpha)
    from plmscope.analysis.enrichment import summarise

    return summarise(sums, backgrounds, min_count=int(min_count), alpha=alpha, ci_method=ci_method)  # type: ignore[arg-type]


def gravity(table: pd.DataFrame, *, semantics: Semantics, min_count: float = 100) -> pd.DataFrame:
    """Center of gravity per feature.

    provis: 0-based layer index (``center_of_gravity``; ``center_of_gravity_layer_number`` = +1),
    NaN when a layer has no head with ``weight_total >= min_count``. plmscope: 1-based layer
    numbers, layers without unmasked heads skipped (:func:`plmscope.analysis.gravity.gravity_table`).
    """
    if check_semantics(semantics) == "provis":
        from plmscope.analysis.provis_enrichment import provis_gravity_table

        return provis_gravity_table(table, min_total=min_count)
    from plmscope.analysis.gravity import gravity_table, layer_profiles

    return gravity_table(layer_profiles(table))


def probe_layers(num_layers: int, *, semantics: Semantics) -> list[int]:
    """Layers probed: provis the outputs of layers 1..N; plmscope also layer 0 (the embedding layer)."""
    first = 1 if check_semantics(semantics) == "provis" else 0
    return list(range(first, int(num_layers) + 1))


def probe_center_of_gravity(scores_by_layer: Mapping[int, float], *, semantics: Semantics) -> float:
    """Center of gravity of per-layer probe scores.

    provis (``probing/report.py``): over layers 1..N, 0-based index (layer 1 -> 0), a missing layer
    scores 0. plmscope: 1-based layer numbers over the layers given (layer 0 included when probed),
    NaN scores skipped.
    """
    if check_semantics(semantics) == "provis":
        from plmscope.analysis.provis_probing import provis_probe_center_of_gravity

        n = max((int(k) for k in scores_by_layer), default=0)
        return provis_probe_center_of_gravity([scores_by_layer.get(layer, 0.0) for layer in range(1, n + 1)])
    layers = np.array(sorted(scores_by_layer), dtype=float)
    s = np.array([scores_by_layer[int(k)] for k in layers], dtype=float)
    seen = np.isfinite(s)
    if not seen.any() or s[seen].sum() <= 0:
        return float("nan")
    return float((layers[seen] * s[seen]).sum() / s[seen].sum())
