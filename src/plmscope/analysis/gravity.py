"""Cross-layer summaries of attention enrichment: layer profiles, center of gravity, per-amino-acid top heads."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from plmscope.analysis.features import AMINO_ACID_FEATURES
from plmscope.errors import PlmscopeError

PROFILE_COLUMNS: tuple[str, ...] = (
    "feature", "layer", "layer_number", "mean_proportion", "pooled_proportion", "max_proportion",
    "max_head", "n_heads",
)  # fmt: skip
"""Columns of :func:`layer_profiles`."""

GRAVITY_COLUMNS: tuple[str, ...] = (
    "feature", "center_of_gravity", "center_of_gravity_pooled", "peak_layer_number", "n_layers",
)  # fmt: skip
"""Columns of :func:`gravity_table`."""

TOP_HEAD_COLUMNS: tuple[str, ...] = (
    "amino_acid", "feature", "label", "layer", "head", "proportion", "ci_low", "ci_high", "background",
    "enrichment",
)  # fmt: skip
"""Columns of :func:`amino_acid_top_heads`."""

_NEEDED = ("feature", "layer", "head", "label", "n_attention", "n_feature", "proportion", "masked")


def _check_table(table: pd.DataFrame) -> None:
    missing = [c for c in _NEEDED if c not in table.columns]
    if missing:
        raise PlmscopeError(f"enrichment table lacks columns {missing}")
    if table.empty:
        raise PlmscopeError("enrichment table is empty")


def _features(table: pd.DataFrame, features: Iterable[str] | None) -> list[str]:
    present = list(pd.unique(table["feature"]))
    if features is None:
        return present
    chosen = list(dict.fromkeys(features))
    absent = [f for f in chosen if f not in present]
    if absent:
        raise PlmscopeError(f"enrichment table has no rows for feature(s) {absent}")
    return chosen


def layer_profiles(table: pd.DataFrame, *, features: Iterable[str] | None = None) -> pd.DataFrame:
    """Per-layer summaries of each feature over the layer's unmasked heads.

    Args:
        table: the enrichment table (one row per feature, layer, head; ``layer``/``head`` 0-based).
        features: features to summarise; None for every feature in the table.

    Returns:
        A DataFrame with :data:`PROFILE_COLUMNS`, one row per (feature, layer): ``layer`` 0-based,
        ``layer_number`` 1-based; ``mean_proportion`` the mean of the unmasked heads' proportions,
        ``pooled_proportion`` = sum n_feature / sum n_attention over them, ``max_proportion`` and
        ``max_head`` (label "L-H", 1-based) the best head, ``n_heads`` the unmasked heads; the
        statistics are NaN (and ``max_head`` empty) for a layer whose heads are all masked.
    """
    _check_table(table)
    num_layers = int(table["layer"].max()) + 1
    frames = []
    for feature in _features(table, features):
        rows = table[(table["feature"] == feature) & ~table["masked"].astype(bool)]
        by_layer = rows.groupby("layer")
        mean = by_layer["proportion"].mean()
        pooled = by_layer["n_feature"].sum() / by_layer["n_attention"].sum()
        n_heads = by_layer.size()
        best = rows.sort_values(["layer", "proportion", "head"], ascending=[True, False, True]).drop_duplicates("layer")
        best = best.set_index("layer")
        layers = pd.Index(np.arange(num_layers), name="layer")
        frames.append(
            pd.DataFrame(
                {
                    "feature": feature,
                    "layer": layers,
                    "layer_number": layers + 1,
                    "mean_proportion": mean.reindex(layers).to_numpy(dtype=float),
                    "pooled_proportion": pooled.reindex(layers).to_numpy(dtype=float),
                    "max_proportion": best["proportion"].reindex(layers).to_numpy(dtype=float),
                    "max_head": best["label"].reindex(layers).fillna("").astype(str).to_numpy(),
                    "n_heads": n_heads.reindex(layers).fillna(0).to_numpy(dtype=np.int64),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)[list(PROFILE_COLUMNS)]


def center_of_gravity(profile: np.ndarray) -> float:
    """Attention-weighted mean layer ``sum_l l p_l / sum_l p_l`` with 1-based layer numbers ``l``.

    Args:
        profile: ``(layers,)`` per-layer proportions p_l (NaN for a fully masked layer, skipped).

    Returns:
        The center of gravity in 1-based layer units, NaN when no layer has a positive proportion.
    """
    p = np.asarray(profile, dtype=float)
    number = np.arange(1, len(p) + 1, dtype=float)
    seen = np.isfinite(p)
    total = p[seen].sum()
    if not seen.any() or total <= 0:
        return float("nan")
    return float((number[seen] * p[seen]).sum() / total)


def gravity_table(profiles: pd.DataFrame) -> pd.DataFrame:
    """Center of gravity of every feature of :func:`layer_profiles`, lowest first (paper Fig. 5 order).

    Returns:
        A DataFrame with :data:`GRAVITY_COLUMNS`: ``center_of_gravity`` from the mean head
        proportion per layer (Vig et al.), ``center_of_gravity_pooled`` from the pooled proportion,
        both in 1-based layer units; ``peak_layer_number`` the layer of highest mean proportion;
        ``n_layers`` the layers with at least one unmasked head.
    """
    rows = []
    for feature, part in profiles.groupby("feature", sort=False):
        part = part.sort_values("layer")
        mean = part["mean_proportion"].to_numpy(dtype=float)
        seen = np.isfinite(mean)
        peak = int(part["layer_number"].to_numpy()[np.nanargmax(mean)]) if seen.any() else -1
        rows.append(
            {
                "feature": feature,
                "center_of_gravity": center_of_gravity(mean),
                "center_of_gravity_pooled": center_of_gravity(part["pooled_proportion"].to_numpy(dtype=float)),
                "peak_layer_number": peak,
                "n_layers": int(seen.sum()),
            }
        )
    out = pd.DataFrame(rows, columns=list(GRAVITY_COLUMNS))
    return out.sort_values("center_of_gravity", kind="stable", na_position="last").reset_index(drop=True)


def amino_acid_top_heads(table: pd.DataFrame) -> pd.DataFrame:
    """The head attending most to each amino acid (rank 1 of every ``aa_*`` feature).

    Returns:
        A DataFrame with :data:`TOP_HEAD_COLUMNS`, one row per amino acid present (alphabetical),
        ``layer``/``head`` 0-based and ``label`` 1-based as in the enrichment table; amino acids
        whose heads are all masked are left out.

    Raises:
        PlmscopeError: the table has no amino-acid features.
    """
    _check_table(table)
    aa = table[table["feature"].isin(AMINO_ACID_FEATURES) & ~table["masked"].astype(bool)]
    if not table["feature"].isin(AMINO_ACID_FEATURES).any():
        raise PlmscopeError("enrichment table has no amino-acid features (aa_*)")
    best = aa.sort_values(["feature", "proportion", "layer", "head"], ascending=[True, False, True, True])
    best = best.drop_duplicates("feature").copy()
    best["amino_acid"] = best["feature"].str[-1]
    for column in ("ci_low", "ci_high", "background", "enrichment"):
        if column not in best.columns:
            best[column] = np.nan
    return best[list(TOP_HEAD_COLUMNS)].sort_values("amino_acid").reset_index(drop=True)
