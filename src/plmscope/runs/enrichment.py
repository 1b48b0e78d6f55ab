"""The ``enrichment`` verb: read an attention dataset and a protein table, write per-head enrichment tables."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa

from plmscope import options as opt
from plmscope.analysis.enrichment import ATTENTION_COLUMNS, EnrichmentCounter, summarise, top_heads
from plmscope.analysis.features import (
    FeatureArrays,
    backgrounds,
    check_contact_options,
    check_features,
    feature_arrays,
)
from plmscope.analysis.stats import CiMethod
from plmscope.attention.dataset import analysed_lengths, iter_attention_batches, read_meta
from plmscope.data.table import read_proteins
from plmscope.errors import PlmscopeError, located
from plmscope.options import check_int, check_probability
from plmscope.outputs import write_outputs

log = logging.getLogger(__name__)

OUTPUT_TABLES: tuple[str, ...] = ("enrichment", "backgrounds", "top_heads")
"""Tables written to the output directory, each as ``<name>.parquet`` and ``<name>.csv``."""


def run_enrichment(
    attention_dir: str | Path,
    proteins_path: str | Path,
    output_dir: str | Path,
    *,
    min_count: int = opt.MIN_COUNT,
    alpha: float = opt.ALPHA,
    top_k: int = opt.TOP_K,
    contact_cutoff: float = opt.CONTACT_CUTOFF,
    contact_min_separation: int = opt.CONTACT_MIN_SEPARATION,
    features: Iterable[str] | None = None,
    ci_method: CiMethod = "wilson",
    batch_size: int = 1 << 20,
    background_proteins: str | Path | None = None,
) -> dict[str, Any]:
    """Compute attention enrichment of every head for every feature and write the tables atomically.

    Args:
        attention_dir: attention dataset (``attention/part-*.parquet``, ``proteins.parquet``,
            ``meta.json``; ``counts.parquet`` optional, cross-checked when present).
        proteins_path: the protein table the attention was computed from.
        output_dir: directory (replaced as a whole) receiving ``enrichment``, ``backgrounds`` and
            ``top_heads`` as Parquet and CSV, and ``meta.json`` (inputs and options).
        min_count: heads with fewer thresholded weights on a feature's eligible pairs are masked.
        alpha: family-wise error rate (Bonferroni over the heads tested).
        top_k: heads listed per feature in ``top_heads``.
        contact_cutoff: CA-CA distance in Å below which a pair is a contact.
        contact_min_separation: minimum ``|i - j|`` of a contact.
        features: feature names (see :data:`plmscope.analysis.features.FEATURES`); None for all.
        ci_method: confidence-interval method.
        batch_size: attention rows read at a time (bounds memory).
        background_proteins: a protein table to take the background frequencies from instead
            of the analysed proteins (the paper: the full training split, while attention is
            computed on a 5,000-protein sample). Its proteins are cut to the ``max_residues`` of
            the attention run, as the analysed ones are.

    Returns:
        A summary: output directory, numbers of proteins, attention rows, heads and features, and
        for each feature with a tested head its best head, "L-H (proportion vs background)".

    Raises:
        PlmscopeError: a missing or malformed input (the message names the file), protein ids in
            the attention data that are not in the protein table, or an invalid option.
    """
    attention_dir, proteins_path, output_dir = Path(attention_dir), Path(proteins_path), Path(output_dir)
    features = check_features(features)
    _check_options(min_count=min_count, alpha=alpha, top_k=top_k, cutoff=contact_cutoff,
                   min_separation=contact_min_separation, batch_size=batch_size)  # fmt: skip
    meta = read_meta(attention_dir, check_format=False)
    num_layers, num_heads = meta["num_layers"], meta["num_heads"]
    analysed = analysed_lengths(attention_dir)
    records = read_proteins(proteins_path)
    try:
        arrays = feature_arrays(records, analysed)
    except PlmscopeError as exc:
        raise located(proteins_path, f"{exc} (listed in {attention_dir / 'proteins.parquet'})") from None
    bg_arrays = arrays
    if background_proteins is not None:
        bg_arrays = _background_arrays(Path(background_proteins), meta.get("max_residues"))
    bg = backgrounds(bg_arrays, features=features, cutoff=contact_cutoff, min_separation=contact_min_separation)
    for row in bg.itertuples(index=False):
        log.info("background of %s: %d / %d = %.4g", row.feature, row.n_feature, row.n_eligible, row.background)
        if row.n_eligible == 0:
            log.warning("feature %s: no analysed protein carries its annotation; every head is masked", row.feature)

    counter = EnrichmentCounter(
        arrays, num_layers=num_layers, num_heads=num_heads, features=features, cutoff=contact_cutoff,
        min_separation=contact_min_separation,
    )  # fmt: skip
    for part, batch in iter_attention_batches(attention_dir, columns=ATTENTION_COLUMNS, batch_size=batch_size):
        try:
            counter.add(batch)
        except PlmscopeError as exc:
            raise located(part, str(exc)) from None
    counts = counter.counts()
    _cross_check(attention_dir / "counts.parquet", counts.n_rows)

    table = summarise(counts, bg, min_count=min_count, alpha=alpha, ci_method=ci_method)
    top = top_heads(table, top_k=top_k)
    run_meta = {
        "attention_dir": str(attention_dir),
        "proteins": str(proteins_path),
        "model": meta.get("model"),
        "theta": meta.get("theta"),
        "num_layers": num_layers,
        "num_heads": num_heads,
        "n_proteins": len(arrays.ids),
        "n_attention_rows": int(counts.n_rows.sum()),
        "features": list(features),
        "min_count": min_count,
        "alpha": alpha,
        "ci_method": ci_method,
        "top_k": top_k,
        "contact_cutoff": contact_cutoff,
        "contact_min_separation": contact_min_separation,
        "pair_background": "all ordered residue pairs (i, j) with coordinates, i = j included",
        "background_proteins": str(background_proteins or proteins_path),
        "n_background_proteins": len(bg_arrays.ids),
    }
    write_outputs(output_dir, tables=dict(zip(OUTPUT_TABLES, (table, bg, top))), meta=run_meta,
                  inputs=[attention_dir, proteins_path, background_proteins])

    best = top.drop_duplicates("feature")
    return {
        "output": str(output_dir),
        "proteins": len(arrays.ids),
        "attention_rows": int(counts.n_rows.sum()),
        "heads": num_layers * num_heads,
        "features": len(features),
        "best_head": {r.feature: f"{r.label} ({r.proportion:.3f} vs {r.background:.3f})" for r in best.itertuples()},
    }


def _check_options(
    *, min_count: int, alpha: float, top_k: int, cutoff: float, min_separation: int, batch_size: int
) -> None:
    """Reject invalid options with a one-line error naming the option."""
    check_int("min_count", min_count)
    check_probability("alpha", alpha)
    check_int("top_k", top_k)
    check_contact_options(cutoff, min_separation)
    check_int("batch_size", batch_size)


def _background_arrays(path: Path, max_residues: int | None) -> FeatureArrays:
    """Feature arrays of every protein of a background table, cut to ``max_residues``."""
    records = read_proteins(path)
    limit = int(max_residues) if max_residues else None
    lengths = {r.id: len(r.sequence) if limit is None else min(len(r.sequence), limit) for r in records}
    return feature_arrays(records, lengths)


def _cross_check(path: Path, n_rows: np.ndarray) -> None:
    """Warn when ``counts.parquet`` disagrees with the rows read (it is optional)."""
    if not path.is_file():
        return
    try:
        counts = pd.read_parquet(path, columns=["layer", "head", "n_thresholded"])
    except (pa.ArrowException, OSError, KeyError, ValueError) as exc:
        log.warning("%s: not readable, skipped the cross-check (%s)", path, exc)
        return
    expected = np.zeros_like(n_rows)
    inside = (counts["layer"] < n_rows.shape[0]) & (counts["head"] < n_rows.shape[1])
    expected[counts["layer"][inside].to_numpy(), counts["head"][inside].to_numpy()] = counts["n_thresholded"][inside]
    if (~inside).any() or (expected != n_rows).any():
        log.warning("%s: thresholded counts differ from the %d attention rows read", path, int(n_rows.sum()))
