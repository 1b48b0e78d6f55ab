"""The ``enrichment`` verb: read an attention dataset and a protein table, write per-head enrichment tables."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from plmscope import options as opt
from plmscope.analysis.enrichment import ATTENTION_COLUMNS, top_heads
from plmscope.analysis.features import FeatureArrays, check_contact_options, check_features, feature_arrays
from plmscope.analysis.semantics import (
    PROVIS_THETA,
    check_semantics,
    enrichment_backgrounds,
    enrichment_sums,
    enrichment_table,
)
from plmscope.analysis.stats import CiMethod
from plmscope.attention.dataset import analysed_lengths, check_same_sequences, iter_attention_batches, read_meta
from plmscope.data.table import read_proteins
from plmscope.errors import PlmscopeError, located
from plmscope.options import check_int, check_probability
from plmscope.outputs import write_outputs

log = logging.getLogger(__name__)

OUTPUT_TABLES: tuple[str, ...] = ("enrichment", "backgrounds", "top_heads")
"""Tables written to the output directory, each as ``<name>.parquet`` and ``<name>.csv``."""


def run_enrichment(
    attention_dir: str | Path | Sequence[str | Path],
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
    semantics: opt.Semantics = opt.SEMANTICS,
) -> dict[str, Any]:
    """Compute attention enrichment of every head for every feature and write the tables atomically.

    Args:
        attention_dir: attention dataset (``attention/part-*.parquet``, ``proteins.parquet``,
            ``meta.json``; ``counts.parquet`` optional, cross-checked when present), or a list of
            datasets: the shards of one run (``plmscope attention --shard K/N``), whose per-head
            counts and sums are additive, so the result equals the unsharded run's.
        proteins_path: the protein table the attention was computed from.
        output_dir: directory (replaced as a whole) receiving ``enrichment``, ``backgrounds`` and
            ``top_heads`` as Parquet and CSV, and ``meta.json`` (inputs, options and ``semantics``).
        min_count: heads with fewer thresholded weights on a feature's eligible pairs are masked
            (provis: heads are scored when their weight sum exceeds it).
        alpha: family-wise error rate (Bonferroni over the heads tested).
        top_k: heads listed per feature in ``top_heads``.
        contact_cutoff: CA-CA distance in Å below which a pair is a contact.
        contact_min_separation: minimum ``|i - j|`` of a contact.
        features: feature names (see :data:`plmscope.analysis.features.FEATURES`); None for all.
        ci_method: confidence-interval method (plmscope semantics; provis uses normal intervals).
        batch_size: attention rows read at a time (bounds memory).
        background_proteins: a protein table to take the background frequencies from instead
            of the analysed proteins (the paper: the full training split, while attention is
            computed on a 5,000-protein sample). plmscope cuts its proteins to the ``max_residues``
            of the attention run, as the analysed ones are; provis reads them untruncated with
            ``max_seq_len = max_residues + 2`` (:func:`plmscope.analysis.semantics.enrichment_backgrounds`).
        semantics: ``plmscope`` (corrected definitions) or ``provis`` (the authors' code: weights
            ``> theta`` summed, provis backgrounds and statistics; README "Semantics").

    Returns:
        A summary: output directory, semantics, numbers of proteins, attention rows, heads and
        features, and for each feature with a tested head its best head, "L-H (proportion vs background)".

    Raises:
        PlmscopeError: a missing or malformed input (the message names the file), protein ids in
            the attention data that are not in the protein table, shards of different models, or an
            invalid option.
    """
    attention_dirs = _attention_dirs(attention_dir)
    proteins_path, output_dir = Path(proteins_path), Path(output_dir)
    semantics = check_semantics(semantics)
    features = check_features(features)
    _check_options(min_count=min_count, alpha=alpha, top_k=top_k, cutoff=contact_cutoff,
                   min_separation=contact_min_separation, batch_size=batch_size)  # fmt: skip
    meta = _shard_meta(attention_dirs)
    num_layers, num_heads = meta["num_layers"], meta["num_heads"]
    analysed = _analysed_lengths(attention_dirs)
    records = _records(proteins_path, attention_dirs)
    try:
        arrays = feature_arrays(records, analysed)
    except PlmscopeError as exc:
        raise located(proteins_path, f"{exc} (listed in {attention_dirs[0] / 'proteins.parquet'})") from None
    background_path = Path(background_proteins) if background_proteins is not None else proteins_path
    bg, n_background = _backgrounds(semantics, records, arrays, background_path if background_proteins else None,
                                    meta, features=features, cutoff=contact_cutoff, min_separation=contact_min_separation)
    _log_backgrounds(bg)

    theta = float(meta.get("theta") or PROVIS_THETA)
    rows_read, current = [0], [attention_dirs[0]]
    try:
        sums = enrichment_sums(
            _batches(attention_dirs, semantics, batch_size, rows_read, current), arrays, semantics=semantics,
            num_layers=num_layers, num_heads=num_heads, theta=theta, features=features, cutoff=contact_cutoff,
            min_separation=contact_min_separation,
        )  # fmt: skip
    except PlmscopeError as exc:
        if str(current[0]) in str(exc):  # already located by the reader
            raise
        raise located(current[0], str(exc)) from None
    if semantics == "plmscope":
        _cross_check([d / "counts.parquet" for d in attention_dirs], sums.n_rows)
    table = enrichment_table(sums, bg, semantics=semantics, min_count=min_count, alpha=alpha, ci_method=ci_method)
    top = top_heads(table, top_k=top_k)
    run_meta = _run_meta(semantics, attention_dirs, proteins_path, meta, n_proteins=len(arrays.ids), n_rows=rows_read[0],
                         features=features, min_count=min_count, alpha=alpha, ci_method=ci_method, top_k=top_k,
                         contact_cutoff=contact_cutoff, contact_min_separation=contact_min_separation,
                         background_path=background_path, n_background=n_background)  # fmt: skip
    write_outputs(output_dir, tables=dict(zip(OUTPUT_TABLES, (table, bg, top))), meta=run_meta,
                  inputs=[*attention_dirs, proteins_path, background_proteins])

    best = top.drop_duplicates("feature")
    return {
        "output": str(output_dir),
        "semantics": semantics,
        "proteins": len(arrays.ids),
        "attention_rows": rows_read[0],
        "heads": num_layers * num_heads,
        "features": len(features),
        "best_head": {r.feature: f"{r.label} ({r.proportion:.3f} vs {r.background:.3f})" for r in best.itertuples()},
    }


def _log_backgrounds(bg: pd.DataFrame) -> None:
    """Log each feature's background frequency; warn about features no analysed protein carries."""
    for row in bg.itertuples(index=False):
        log.info("background of %s: %d / %d = %.4g", row.feature, row.n_feature, row.n_eligible, row.background)
        if row.n_eligible == 0:
            log.warning("feature %s: no analysed protein carries its annotation; every head is masked", row.feature)


def _run_meta(semantics: str, attention_dirs: list[Path], proteins_path: Path, meta: dict, *, n_proteins: int,
              n_rows: int, features: Sequence[str], min_count: float, alpha: float, ci_method: str, top_k: int,
              contact_cutoff: float, contact_min_separation: int, background_path: Path, n_background: int) -> dict:  # fmt: skip
    """The ``meta.json`` of an enrichment output (key order is part of the byte-identical output)."""
    return {
        "semantics": semantics,
        "attention_dir": str(attention_dirs[0]) if len(attention_dirs) == 1 else [str(d) for d in attention_dirs],
        "proteins": str(proteins_path),
        "model": meta.get("model"),
        "theta": meta.get("theta"),
        "threshold": "weight > theta (provis)" if semantics == "provis" else "weight >= theta",
        "num_layers": meta["num_layers"],
        "num_heads": meta["num_heads"],
        "n_proteins": n_proteins,
        "n_attention_rows": n_rows,
        "features": list(features),
        "min_count": min_count,
        "alpha": alpha,
        "ci_method": "normal (provis)" if semantics == "provis" else ci_method,
        "top_k": top_k,
        "contact_cutoff": contact_cutoff,
        "contact_min_separation": contact_min_separation,
        "pair_background": PAIR_BACKGROUND[semantics],
        "background_proteins": str(background_path),
        "n_background_proteins": n_background,
    }


PAIR_BACKGROUND: dict[str, str] = {
    "plmscope": "all ordered residue pairs (i, j) with coordinates, i = j included, analysed residues",
    "provis": "ordered pairs with coordinates and |i - j| >= contact_min_separation, first max_residues + 2 residues, "
    "whole background split",
}
"""How the contact background is counted under each semantics (recorded in ``meta.json``)."""


def _backgrounds(
    semantics: str, records: list, arrays: FeatureArrays, background: Path | None, meta: dict, **kwargs: Any
) -> tuple[pd.DataFrame, int]:
    """Background frequencies and the number of proteins they come from (``background`` None: the analysed ones).

    provis reads the whole (background) split untruncated with ``max_seq_len = max_residues + 2``;
    plmscope cuts each protein to the attention run's ``max_residues``.
    """
    if semantics == "provis":
        max_residues = int(meta.get("max_residues") or opt.MAX_RESIDUES)
        bg_records = records if background is None else read_proteins(background)
        return enrichment_backgrounds(semantics="provis", records=bg_records, max_seq_len=max_residues + 2, **kwargs), len(
            bg_records
        )
    bg_arrays = arrays if background is None else _background_arrays(background, meta.get("max_residues"))
    return enrichment_backgrounds(semantics="plmscope", arrays=bg_arrays, **kwargs), len(bg_arrays.ids)


def _attention_dirs(attention_dir: str | Path | Sequence[str | Path]) -> list[Path]:
    """One attention dataset or the shards of one, as a non-empty list of paths."""
    dirs = [Path(attention_dir)] if isinstance(attention_dir, (str, Path)) else [Path(d) for d in attention_dir]
    if not dirs:
        raise PlmscopeError("enrichment: no attention dataset given")
    if len(set(dirs)) != len(dirs):
        raise PlmscopeError(f"enrichment: an attention dataset is given twice in {[str(d) for d in dirs]}")
    return dirs


SHARD_CONSISTENT_KEYS: tuple[str, ...] = ("model", "num_layers", "num_heads", "theta", "max_residues")
"""Keys of ``meta.json`` every shard of one attention run must agree on."""


def _shard_meta(dirs: Sequence[Path]) -> dict:
    """The first dataset's meta, after checking every shard ran the same model with the same settings."""
    metas = [read_meta(d, check_format=False) for d in dirs]
    for d, other in zip(dirs[1:], metas[1:]):
        for key in SHARD_CONSISTENT_KEYS:
            if other.get(key) != metas[0].get(key):
                raise located(d / "meta.json", f"{key} {other.get(key)!r} differs from {metas[0].get(key)!r} of {dirs[0]}")
    return metas[0]


def _records(proteins_path: Path, dirs: Sequence[Path]) -> list:
    """The protein table, checked to hold the sequences every shard analysed."""
    records = read_proteins(proteins_path)
    lengths = {r.id: len(r.sequence) for r in records}
    for d in dirs:
        check_same_sequences(d, lengths, proteins_path)
    return records


def _analysed_lengths(dirs: Sequence[Path]) -> dict[str, int]:
    """Protein id -> residues analysed over all shards (a protein in two shards would be counted twice)."""
    merged: dict[str, int] = {}
    for d in dirs:
        lengths = analysed_lengths(d)
        twice = sorted(set(lengths) & set(merged))
        if twice:
            raise located(d / "proteins.parquet", f"protein(s) {twice[:3]} also in another shard")
        merged.update(lengths)
    return merged


def _batches(dirs: Sequence[Path], semantics: str, batch_size: int, rows_read: list[int], current: list[Path]):
    """Attention rows of every shard (provis also reads ``weight``); counts them, ``current[0]`` = the part being read."""
    columns = (*ATTENTION_COLUMNS, "weight") if semantics == "provis" else ATTENTION_COLUMNS
    for d in dirs:
        for part, batch in iter_attention_batches(d, columns=columns, batch_size=batch_size):
            rows_read[0] += batch.num_rows
            current[0] = part
            yield batch


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


def _cross_check(paths: Sequence[Path], n_rows: np.ndarray) -> None:
    """Warn when the ``counts.parquet`` of the shards (summed) disagree with the rows read (they are optional)."""
    expected = np.zeros_like(n_rows)
    for path in paths:
        if not path.is_file():
            return
        try:
            counts = pd.read_parquet(path, columns=["layer", "head", "n_thresholded"])
        except (pa.ArrowException, OSError, KeyError, ValueError) as exc:
            log.warning("%s: not readable, skipped the cross-check (%s)", path, exc)
            return
        inside = (counts["layer"] < n_rows.shape[0]) & (counts["head"] < n_rows.shape[1])
        layer, head = counts["layer"][inside].to_numpy(), counts["head"][inside].to_numpy()
        np.add.at(expected, (layer, head), counts["n_thresholded"][inside].to_numpy())
        if (~inside).any():
            log.warning("%s: counts for heads outside the model's %s", path, n_rows.shape)
    if (expected != n_rows).any():
        log.warning("%s: thresholded counts differ from the %d attention rows read", paths[0], int(n_rows.sum()))
