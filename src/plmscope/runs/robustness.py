"""The ``robustness`` verb: enrichment of the top heads against random-weight and shuffled-sequence nulls."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from plmscope.analysis.bootstrap import ProteinCounter, ProteinCounts, bootstrap_heads
from plmscope.analysis.enrichment import ATTENTION_COLUMNS, EnrichmentCounter, summarise, top_heads
from plmscope.analysis.features import (
    AMINO_ACID_FEATURES,
    backgrounds,
    check_contact_options,
    check_features,
    feature_arrays,
)
from plmscope.attention.dataset import analysed_lengths, read_meta
from plmscope.data.shuffle import shuffle_sequences
from plmscope.data.table import ProteinRecord, read_proteins, write_proteins
from plmscope.errors import PlmscopeError, located
from plmscope.models.known import DType
from plmscope.runs.common import LongSequences, check_long_sequences, check_positive_int, write_outputs

log = logging.getLogger(__name__)

CONDITIONS: tuple[str, ...] = ("real", "random_weights", "shuffled")
"""The pretrained model on the real sequences; the same architecture with re-initialised random
weights; the pretrained model on residue-shuffled sequences (labels at the original positions)."""

OUTPUT_TABLES: tuple[str, ...] = ("null_models", "threshold_sweep", "best_heads", "bootstrap")
"""Tables written to the output directory, each as ``<name>.parquet`` and ``<name>.csv``."""


def run_null_models(
    proteins_path: str | Path,
    output_dir: str | Path,
    *,
    model: str,
    theta: float = 0.3,
    thresholds: Sequence[float] = (0.1, 0.3, 0.5),
    top_k: int = 5,
    features: Iterable[str] | None = None,
    seed: int = 0,
    random_std: float | None = None,
    n_boot: int = 1000,
    alpha: float = 0.05,
    min_count: int = 100,
    contact_cutoff: float = 8.0,
    contact_min_separation: int = 6,
    max_residues: int = 510,
    max_tokens: int = 8192,
    long_sequences: LongSequences = "truncate",
    device: str = "auto",
    dtype: DType = "auto",
    progress: bool = True,
) -> dict[str, Any]:
    """Compare the top heads of a model with two null models and across attention thresholds.

    Attention is extracted three times at the lowest threshold (the model runs once per
    condition; higher thresholds filter the stored rows): the pretrained model on the protein
    table (``real``), the same model with re-initialised weights (``random_weights``,
    :func:`plmscope.models.null.reinitialise`), and the pretrained model on residue-shuffled
    sequences (``shuffled``, :func:`plmscope.data.shuffle.shuffle_sequences`). Every condition
    is scored against the features of the ORIGINAL table, so labels stay at their positions.
    The top ``top_k`` heads per feature of the real model at ``theta`` are followed through all
    conditions and thresholds, with protein-level bootstrap intervals at ``theta``. The
    intermediate attention datasets live in a scratch directory beside ``output_dir`` and are
    removed at the end.

    Args:
        proteins_path: protein table.
        output_dir: directory written atomically with ``null_models`` (top heads x conditions at
            ``theta``), ``threshold_sweep`` (top heads x conditions x thresholds), ``best_heads``
            (each condition's own best head per feature and threshold) and ``bootstrap`` tables
            (Parquet + CSV), ``meta.json``, and the figures ``null_models`` and
            ``threshold_sweep`` (PNG + SVG).
        model: model name or directory.
        theta: threshold of the comparison and of the top-head ranking (paper: 0.3).
        thresholds: thresholds of the sweep (``theta`` is added when absent).
        top_k: heads followed per feature.
        features: features (default all of :data:`plmscope.analysis.features.FEATURES`).
        seed: seed of the random weights, the shuffle and the bootstrap.
        random_std: standard deviation of the random weights (None: the model's own init, which
            gives near-uniform attention that rarely passes a threshold).
        n_boot: bootstrap replicates.
        alpha: level of the bootstrap intervals (two-sided) and of the enrichment statistics.
        min_count: heads with fewer thresholded weights on a feature are not ranked.
        contact_cutoff: contact CA-CA distance in Å.
        contact_min_separation: minimum ``|i - j|`` of a contact.
        max_residues: longest sequence analysed.
        max_tokens: padded-token budget per batch.
        long_sequences: ``"truncate"``, ``"skip"`` or ``"error"``.
        device: torch device.
        dtype: model dtype.
        progress: progress bars on stderr.

    Returns:
        A summary: output directory, attention rows per condition, and for each feature the best
        real head with its proportion under each condition.

    Raises:
        PlmscopeError: an unreadable input, an invalid option, or an unloadable model.
    """
    started = time.perf_counter()
    proteins_path, output_dir = Path(proteins_path), Path(output_dir)
    features = check_features(features)
    sweep = _check_options(theta=theta, thresholds=thresholds, top_k=top_k, n_boot=n_boot, alpha=alpha,
                           min_count=min_count, cutoff=contact_cutoff, min_separation=contact_min_separation,
                           long_sequences=long_sequences)  # fmt: skip
    theta = float(theta)
    records = read_proteins(proteins_path)
    run_options = dict(max_residues=max_residues, max_tokens=max_tokens, long_sequences=long_sequences,
                       device=device, dtype=dtype, progress=progress)  # fmt: skip
    count_options = dict(features=features, cutoff=contact_cutoff, min_separation=contact_min_separation)

    output_dir.parent.mkdir(parents=True, exist_ok=True)
    # named like plmscope.io temporaries (with this pid) so a later write of the output removes it if we are killed
    scratch = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.tmp-{os.getpid()}-scratch", dir=output_dir.parent))
    try:
        datasets = _extract_all(records, proteins_path, scratch, model=model, theta=sweep[0], seed=seed,
                                random_std=random_std, **run_options)  # fmt: skip
        tables: dict[str, dict[float, pd.DataFrame]] = {}
        per_protein: dict[str, ProteinCounts] = {}
        rows_read: dict[str, int] = {}
        bg = None
        for condition, path in datasets.items():
            bg, tables[condition], per_protein[condition], rows_read[condition] = _count(
                path, records, proteins_path, thresholds=sweep, theta=theta, min_count=min_count, alpha=alpha,
                **count_options,
            )  # fmt: skip
            log.info("%s: %d attention rows >= %g", condition, rows_read[condition], sweep[0])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    top = top_heads(tables["real"][theta], top_k=top_k)
    if top.empty:
        raise PlmscopeError(
            f"{proteins_path}: no head of {model!r} has {min_count} thresholded weights on any feature at theta "
            f"{theta}; lower min_count or theta"
        )
    boot = pd.concat(
        [
            bootstrap_heads(per_protein[c], top[["feature", "layer", "head"]], n_boot=n_boot, seed=seed, alpha=alpha)
            .assign(condition=c)
            for c in CONDITIONS
        ],
        ignore_index=True,
    )
    boot = boot[["condition", *[c for c in boot.columns if c != "condition"]]]
    null_table = null_model_table(top, tables, boot, theta=theta, min_count=min_count)
    sweep_table = threshold_sweep_table(top, tables, min_count=min_count)
    best = best_heads_table(tables)

    meta = {
        "model": model,
        "proteins": str(proteins_path),
        "conditions": {
            "real": "pretrained model, original sequences",
            "random_weights": f"same architecture, weights re-drawn by transformers' init (seed {seed}, std "
                              f"{'model default' if random_std is None else random_std})",
            "shuffled": f"pretrained model, residues of every sequence permuted (seed {seed}); features at "
                        "the original positions",
        },
        "theta": theta,
        "thresholds": sweep,
        "top_k": top_k,
        "features": list(features),
        "seed": seed,
        "random_std": random_std,
        "n_boot": n_boot,
        "alpha": alpha,
        "min_count": min_count,
        "contact_cutoff": contact_cutoff,
        "contact_min_separation": contact_min_separation,
        "attention_rows": rows_read,
        "n_proteins": len(per_protein["real"].ids),
    }  # fmt: skip
    figures = _figures(null_table, sweep_table, model=model)
    write_outputs(output_dir, tables=dict(zip(OUTPUT_TABLES, (null_table, sweep_table, best, boot))), meta=meta,
                  figures=figures)  # fmt: skip
    log.info("wrote null-model comparison to %s", output_dir)

    first = null_table[null_table["rank"] == 1]
    return {
        "output": str(output_dir),
        "attention_rows": rows_read,
        "best_head": {
            r.feature: f"{r.label}: " + ", ".join(f"{c} {getattr(r, f'proportion_{c}'):.3f}" for c in CONDITIONS)
            + f" (background {r.background:.3f})"
            for r in first.itertuples()
        },
        "seconds": round(time.perf_counter() - started, 3),
    }


# ---- tables ----------------------------------------------------------------------------------
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


# ---- attention and counting --------------------------------------------------------------------
def _extract_all(
    records: Sequence[ProteinRecord],
    proteins_path: Path,
    scratch: Path,
    *,
    model: str,
    theta: float,
    seed: int,
    random_std: float | None,
    max_residues: int,
    max_tokens: int,
    long_sequences: str,
    device: str,
    dtype: str,
    progress: bool,
) -> dict[str, Path]:
    """Write the three attention datasets (at ``theta``) into ``scratch``; return condition -> directory."""
    from plmscope.models.null import reinitialise
    from plmscope.models.registry import load_adapter
    from plmscope.runs.attention import run_attention

    options = dict(theta=theta, max_residues=max_residues, max_tokens=max_tokens, long_sequences=long_sequences,
                   device=device, dtype=dtype, progress=progress)  # fmt: skip
    out = {c: scratch / c for c in CONDITIONS}
    log.info("real: %s on %s", model, proteins_path)
    run_attention(proteins_path, out["real"], model=model, **options)

    shuffled = scratch / "shuffled_proteins.parquet"
    write_proteins(shuffle_sequences(records, seed=seed), shuffled)
    log.info("shuffled: %s on residue-shuffled sequences (seed %d)", model, seed)
    run_attention(shuffled, out["shuffled"], model=model, **options)

    adapter = load_adapter(model, max_residues=max_residues, device=device, dtype=dtype)
    reinitialise(adapter, seed=seed, std=random_std)
    log.info("random weights: %s", adapter.name)
    extract_attention(adapter, records, out["random_weights"], theta=theta, max_tokens=max_tokens,
                      long_sequences=long_sequences, progress=progress)  # fmt: skip
    return out


def extract_attention(
    adapter,
    records: Sequence[ProteinRecord],
    output_dir: str | Path,
    *,
    theta: float,
    max_tokens: int = 8192,
    long_sequences: LongSequences = "truncate",
    progress: bool = True,
) -> dict:
    """Thresholded attention dataset of a prepared adapter (the loop of ``run_attention`` without loading).

    Args:
        adapter: a loaded (possibly re-initialised) :class:`plmscope.models.base.AttentionAdapter`.
        records: proteins to run.
        output_dir: dataset directory (:mod:`plmscope.attention.dataset`), written atomically.
        theta: threshold.
        max_tokens: padded-token budget per batch.
        long_sequences: ``"truncate"``, ``"skip"`` or ``"error"``.
        progress: progress bar.

    Returns:
        The dataset's meta.
    """
    from plmscope.attention.dataset import AttentionWriter
    from plmscope.attention.threshold import threshold_batch
    from plmscope.models.inference import iter_attention

    stream = iter_attention(adapter, [(r.id, r.sequence) for r in records], max_tokens=max_tokens,
                            long_sequences=long_sequences, progress=progress)  # fmt: skip
    meta = adapter.describe() | {"theta": float(theta), "long_sequences": long_sequences, "max_tokens": int(max_tokens),
                                 "dtype": str(adapter.dtype).removeprefix("torch.")}  # fmt: skip
    with AttentionWriter(output_dir, meta=meta) as writer:
        writer.add_skipped(stream.stats.skipped)
        for batch in stream:
            rows, counts = threshold_batch(batch.layers, batch.lengths, batch.ids, theta=theta)
            writer.write(rows, counts)
            writer.add_proteins(batch.ids, batch.lengths, batch.n_original, n_nonstandard=batch.n_nonstandard,
                                n_unknown=batch.n_unknown)  # fmt: skip
    return writer.meta


def _count(
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
    for part in sorted((path / "attention").glob("part-*.parquet")):
        for batch in pq.ParquetFile(part).iter_batches(batch_size=batch_size, columns=[*ATTENTION_COLUMNS, "weight"]):
            n_rows += batch.num_rows
            weight = batch.column("weight").to_numpy(zero_copy_only=False)
            for t, counter in counters.items():
                counter.add(batch.filter(pa.array(weight >= np.float32(t))))
            per_protein.add(batch.filter(pa.array(weight >= np.float32(theta))))
    tables = {t: summarise(c.counts(), bg, min_count=min_count, alpha=alpha) for t, c in counters.items()}
    return bg, tables, per_protein.counts(), n_rows


# ---- options and figures ---------------------------------------------------------------------
def _check_options(
    *, theta: float, thresholds: Sequence[float], top_k: int, n_boot: int, alpha: float, min_count: int,
    cutoff: float, min_separation: int, long_sequences: str,
) -> list[float]:  # fmt: skip
    """Validate options; return the sorted thresholds of the sweep (``theta`` included)."""
    values = [float(t) for t in thresholds] + [float(theta)]
    bad = [t for t in values if not 0 < t <= 1]
    if bad:
        raise PlmscopeError(f"robustness thresholds: every threshold must lie in (0, 1], got {bad[0]}")
    check_positive_int("robustness top_k", top_k)
    check_positive_int("robustness n_boot", n_boot)
    if not 0 < alpha < 1:
        raise PlmscopeError(f"robustness alpha: must lie in (0, 1), got {alpha}")
    if int(min_count) != min_count or min_count < 1:
        raise PlmscopeError(f"robustness min_count: must be a positive integer, got {min_count!r}")
    check_contact_options(cutoff, min_separation)
    check_long_sequences(long_sequences, verb="robustness")
    return sorted(set(values))


def _figures(null_table: pd.DataFrame, sweep_table: pd.DataFrame, *, model: str) -> list[tuple[str, Any]]:
    """The null-model bars and the threshold sweep, for the features other than single amino acids."""
    from plmscope.viz.robustness_plots import plot_null_models, plot_threshold_sweep

    shown = [f for f in pd.unique(null_table["feature"]) if f not in AMINO_ACID_FEATURES]
    if not shown:  # only amino-acid features: show them all
        shown = list(pd.unique(null_table["feature"]))
    return [
        ("null_models", plot_null_models(null_table, features=shown, title=f"{model}: top heads vs null models")),
        ("threshold_sweep", plot_threshold_sweep(sweep_table, features=shown,
                                                 title=f"{model}: best head vs attention threshold")),
    ]  # fmt: skip
