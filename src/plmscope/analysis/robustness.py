"""Null-model comparison tables: the real model's top heads under random weights, shuffled sequences and thresholds."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from plmscope.analysis.bootstrap import ProteinCounter, ProteinCounts
from plmscope.analysis.enrichment import ATTENTION_COLUMNS, EnrichmentCounter, summarise
from plmscope.analysis.features import backgrounds, check_contact_options, feature_arrays
from plmscope.attention.dataset import analysed_lengths, iter_attention_batches, read_meta
from plmscope.data.table import ProteinRecord
from plmscope.errors import PlmscopeError, located
from plmscope.options import WHOLE_SEQUENCE_POLICIES, check_choice, check_int, check_probability

CONDITIONS: tuple[str, ...] = ("real", "random_weights", "shuffled")
"""The pretrained model on the real sequences; the same architecture with re-initialised random
weights; the pretrained model on residue-shuffled sequences (labels at the original positions)."""



def null_model_table(
    top: pd.DataFrame,
    tables: dict[str, dict[float, pd.DataFrame]],
    boot: pd.DataFrame,
    *,
    theta: float,
    min_count: int,
) -> pd.DataFrame:
    """Wide table: each top head of the real model with its proportion under every condition at ``theta``.

    Proportions are ``n_feature / n_attention`` even below ``min_count`` (flagged by
    ``masked_<condition>``); NaN when the head has no thresholded weight on eligible pairs.
    ``ci_low_<condition>`` / ``ci_high_<condition>`` are the bootstrap bounds.
    """
    out = top[["feature", "rank", "layer", "head", "label", "background"]].copy()
    out["rank"] = out["rank"].astype("int64")
    for condition in CONDITIONS:
        stats = _head_stats(tables[condition][theta], min_count=min_count)
        merged = out[["feature", "layer", "head"]].merge(stats, on=["feature", "layer", "head"], how="left")
        ci = out[["feature", "layer", "head"]].merge(
            boot[boot["condition"] == condition][["feature", "layer", "head", "ci_low", "ci_high"]],
            on=["feature", "layer", "head"], how="left",
        )  # fmt: skip
        out[f"n_attention_{condition}"] = merged["n_attention"].to_numpy()
        out[f"proportion_{condition}"] = merged["proportion"].to_numpy()
        out[f"ci_low_{condition}"] = ci["ci_low"].to_numpy()
        out[f"ci_high_{condition}"] = ci["ci_high"].to_numpy()
        out[f"masked_{condition}"] = merged["masked"].to_numpy()
    return out.reset_index(drop=True)


def threshold_sweep_table(
    top: pd.DataFrame, tables: dict[str, dict[float, pd.DataFrame]], *, min_count: int
) -> pd.DataFrame:
    """Long table: the real model's top heads under every condition and threshold.

    Columns: condition, threshold, feature, rank (in the real model at theta), layer, head, label,
    n_attention, n_feature, proportion (raw, NaN without attention), masked, background.
    """
    keys = top[["feature", "rank", "layer", "head", "label", "background"]]
    parts = []
    for condition, by_threshold in tables.items():
        for threshold, table in by_threshold.items():
            stats = _head_stats(table, min_count=min_count)
            part = keys.merge(stats, on=["feature", "layer", "head"], how="left")
            part.insert(0, "threshold", threshold)
            part.insert(0, "condition", condition)
            parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    return out.astype({"rank": "int64"})


def best_heads_table(tables: dict[str, dict[float, pd.DataFrame]]) -> pd.DataFrame:
    """Each condition's own best (rank-1, unmasked) head per feature and threshold.

    Columns: condition, threshold, feature, label, layer, head, n_attention, proportion, ci_low,
    ci_high (Bonferroni Wilson, from the enrichment), background, n_tests; a feature with every head
    masked under a condition has one row with NaN proportion and ``n_tests`` 0.
    """
    rows = []
    for condition, by_threshold in tables.items():
        for threshold, table in by_threshold.items():
            for feature, group in table.groupby("feature", sort=False):
                ranked = group[~group["masked"].astype(bool)].sort_values("rank")
                row = {"condition": condition, "threshold": threshold, "feature": feature,
                       "background": float(group["background"].iloc[0]),
                       "n_tests": int(group["n_tests"].iloc[0])}  # fmt: skip
                if len(ranked):
                    first = ranked.iloc[0]
                    row |= {k: first[k] for k in ("label", "layer", "head", "n_attention", "proportion", "ci_low",
                                                  "ci_high")}  # fmt: skip
                rows.append(row)
    columns = ["condition", "threshold", "feature", "label", "layer", "head", "n_attention", "proportion", "ci_low",
               "ci_high", "background", "n_tests"]  # fmt: skip
    return pd.DataFrame(rows).reindex(columns=columns).astype({"layer": "Int64", "head": "Int64",
                                                                "n_attention": "Int64"})  # fmt: skip


def _head_stats(table: pd.DataFrame, *, min_count: int) -> pd.DataFrame:
    """feature, layer, head, n_attention, n_feature, raw proportion, masked (n_attention < min_count)."""
    out = table[["feature", "layer", "head", "n_attention", "n_feature"]].copy()
    n_att = out["n_attention"].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["proportion"] = np.where(n_att > 0, out["n_feature"].to_numpy(dtype=np.float64) / n_att, np.nan)
    out["masked"] = out["n_attention"] < max(int(min_count), 1)
    return out


def count_thresholds(
    path: Path,
    records: Sequence[ProteinRecord],
    proteins_path: Path,
    *,
    thresholds: Sequence[float],
    theta: float,
    features: tuple[str, ...],
    cutoff: float,
    min_separation: int,
    min_count: int,
    alpha: float,
    batch_size: int = 1 << 20,
) -> tuple[pd.DataFrame, dict[float, pd.DataFrame], ProteinCounts, int]:
    """Enrichment tables at every threshold and per-protein counts at ``theta``, in one pass over the rows."""
    meta = read_meta(path)
    analysed = analysed_lengths(path)
    try:
        arrays = feature_arrays(records, analysed)
    except PlmscopeError as exc:
        raise located(proteins_path, str(exc)) from None
    bg = backgrounds(arrays, features=features, cutoff=cutoff, min_separation=min_separation)
    dims = dict(num_layers=int(meta["num_layers"]), num_heads=int(meta["num_heads"]), features=features,
                cutoff=cutoff, min_separation=min_separation)  # fmt: skip
    counters = {t: EnrichmentCounter(arrays, **dims) for t in thresholds}
    per_protein = ProteinCounter(arrays, **dims)
    n_rows = 0
    for _, batch in iter_attention_batches(path, columns=[*ATTENTION_COLUMNS, "weight"], batch_size=batch_size):
        n_rows += batch.num_rows
        weight = batch.column("weight").to_numpy(zero_copy_only=False)
        for t, counter in counters.items():
            counter.add(batch.filter(pa.array(weight >= np.float32(t))))
        per_protein.add(batch.filter(pa.array(weight >= np.float32(theta))))
    tables = {t: summarise(c.counts(), bg, min_count=min_count, alpha=alpha) for t, c in counters.items()}
    return bg, tables, per_protein.counts(), n_rows



def check_options(
    *, theta: float, thresholds: Sequence[float], top_k: int, n_boot: int, alpha: float, min_count: int,
    cutoff: float, min_separation: int, long_sequences: str,
) -> list[float]:  # fmt: skip
    """Validate options; return the sorted thresholds of the sweep (``theta`` included)."""
    values = [float(t) for t in thresholds] + [float(theta)]
    for t in values:
        check_probability("robustness thresholds", t, closed_high=True)
    check_int("robustness top_k", top_k)
    check_int("robustness n_boot", n_boot)
    check_probability("robustness alpha", alpha)
    check_int("robustness min_count", min_count)
    check_contact_options(cutoff, min_separation)
    check_choice("robustness long_sequences", long_sequences, WHOLE_SEQUENCE_POLICIES)
    return sorted(set(values))


