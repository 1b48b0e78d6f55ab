"""The ``robustness`` verb: enrichment of the top heads against random-weight and shuffled-sequence nulls."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd

from plmscope import options as opt
from plmscope.analysis.bootstrap import ProteinCounts, bootstrap_heads
from plmscope.analysis.enrichment import top_heads
from plmscope.analysis.features import AMINO_ACID_FEATURES, check_features
from plmscope.analysis.robustness import (
    CONDITIONS,
    best_heads_table,
    check_options,
    count_thresholds,
    null_model_table,
    threshold_sweep_table,
)
from plmscope.attention.extract import check_lengths, extract_attention
from plmscope.data.shuffle import shuffle_sequences
from plmscope.data.table import ProteinRecord, read_proteins
from plmscope.options import DType, LongSequences
from plmscope.progress import note
from plmscope.outputs import write_outputs

log = logging.getLogger(__name__)

OUTPUT_TABLES: tuple[str, ...] = ("null_models", "threshold_sweep", "best_heads", "bootstrap")
"""Tables written to the output directory, each as ``<name>.parquet`` and ``<name>.csv``."""


def run_null_models(
    proteins_path: str | Path,
    output_dir: str | Path,
    *,
    model: str,
    theta: float = opt.THETA,
    thresholds: Sequence[float] = opt.THRESHOLDS,
    top_k: int = opt.ROBUSTNESS_TOP_K,
    features: Iterable[str] | None = None,
    seed: int = 0,
    random_std: float | None = None,
    n_boot: int = opt.N_BOOT,
    alpha: float = opt.ALPHA,
    min_count: int = opt.MIN_COUNT,
    contact_cutoff: float = opt.CONTACT_CUTOFF,
    contact_min_separation: int = opt.CONTACT_MIN_SEPARATION,
    max_residues: int = opt.MAX_RESIDUES,
    max_tokens: int | str = opt.MAX_TOKENS,
    long_sequences: LongSequences = opt.LONG_SEQUENCES,
    device: str = opt.DEVICE,
    dtype: DType = opt.DTYPE,
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
        max_tokens: padded-token budget per batch, or ``"auto"`` (per device).
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
    sweep = check_options(theta=theta, thresholds=thresholds, top_k=top_k, n_boot=n_boot, alpha=alpha,
                          min_count=min_count, cutoff=contact_cutoff, min_separation=contact_min_separation,
                          long_sequences=long_sequences)  # fmt: skip
    theta = float(theta)
    records = read_proteins(proteins_path)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    # named like plmscope.io temporaries (with this pid) so a later write of the output removes it if we are killed
    scratch = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.tmp-{os.getpid()}-scratch", dir=output_dir.parent))
    try:
        datasets = _extract_all(records, proteins_path, scratch, model=model, theta=sweep[0], seed=seed,
                                random_std=random_std, max_residues=max_residues, max_tokens=max_tokens,
                                long_sequences=long_sequences, device=device, dtype=dtype,
                                progress=progress)  # fmt: skip
        tables, per_protein, rows_read = {}, {}, {}
        for condition, path in datasets.items():
            _, tables[condition], per_protein[condition], rows_read[condition] = count_thresholds(
                path, records, proteins_path, thresholds=sweep, theta=theta, min_count=min_count, alpha=alpha,
                features=features, cutoff=contact_cutoff, min_separation=contact_min_separation,
            )  # fmt: skip
            log.info("%s: %d attention rows >= %g", condition, rows_read[condition], sweep[0])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    top = top_heads(tables["real"][theta], top_k=top_k)
    meta = {
        "model": model, "proteins": str(proteins_path), "conditions": _conditions(seed, random_std), "theta": theta,
        "thresholds": sweep, "top_k": top_k, "features": list(features), "seed": seed, "random_std": random_std,
        "n_boot": n_boot, "alpha": alpha, "min_count": min_count, "contact_cutoff": contact_cutoff,
        "contact_min_separation": contact_min_separation, "attention_rows": rows_read,
        "n_proteins": len(per_protein["real"].ids),
    }  # fmt: skip
    if top.empty:
        # a small dataset (a few short sequences) need not reach min_count anywhere: a note, not a failure
        meta["note"] = (f"no head of {model!r} has {min_count} thresholded weights on any feature at theta {theta} "
                        f"on these {meta['n_proteins']} protein(s); nothing to compare (lower min_count or theta, or add "
                        "proteins)")  # fmt: skip
        log.warning("robustness: %s", meta["note"])
        write_outputs(output_dir, tables={name: pd.DataFrame() for name in OUTPUT_TABLES}, meta=meta)
        return {"output": str(output_dir), "note": meta["note"], "seconds": round(time.perf_counter() - started, 3)}
    boot = _bootstrap(per_protein, top, n_boot=n_boot, seed=seed, alpha=alpha)
    null_table = null_model_table(top, tables, boot, theta=theta, min_count=min_count)
    sweep_table = threshold_sweep_table(top, tables, min_count=min_count)
    tables_out = dict(zip(OUTPUT_TABLES, (null_table, sweep_table, best_heads_table(tables), boot)))
    write_outputs(output_dir, tables=tables_out, meta=meta, figures=_figures(null_table, sweep_table, model=model))
    log.info("wrote null-model comparison to %s", output_dir)
    return _summary(output_dir, null_table, rows_read, seconds=time.perf_counter() - started)


def _bootstrap(per_protein: dict[str, ProteinCounts], top: pd.DataFrame, **options) -> pd.DataFrame:
    """Protein-level bootstrap intervals of the top heads under every condition (column ``condition`` first)."""
    boot = pd.concat(
        [bootstrap_heads(per_protein[c], top[["feature", "layer", "head"]], **options).assign(condition=c)
         for c in CONDITIONS],
        ignore_index=True,
    )  # fmt: skip
    return boot[["condition", *[c for c in boot.columns if c != "condition"]]]


def _conditions(seed: int, random_std: float | None) -> dict[str, str]:
    """What each condition is (for ``meta.json``)."""
    return {
        "real": "pretrained model, original sequences",
        "random_weights": f"same architecture, weights re-drawn by transformers' init (seed {seed}, std "
                          f"{'model default' if random_std is None else random_std})",
        "shuffled": f"pretrained model, residues of every sequence permuted (seed {seed}); features at "
                    "the original positions",
    }  # fmt: skip


def _summary(output_dir: Path, null_table: pd.DataFrame, rows_read: dict, *, seconds: float) -> dict[str, Any]:
    first = null_table[null_table["rank"] == 1]
    return {
        "output": str(output_dir),
        "attention_rows": rows_read,
        "best_head": {
            r.feature: f"{r.label}: " + ", ".join(f"{c} {getattr(r, f'proportion_{c}'):.3f}" for c in CONDITIONS)
            + f" (background {r.background:.3f})"
            for r in first.itertuples()
        },
        "seconds": round(seconds, 3),
    }


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
    max_tokens: int | str,
    long_sequences: LongSequences,
    device: str,
    dtype: DType,
    progress: bool,
) -> dict[str, Path]:
    """Write the three attention datasets (at ``theta``) into ``scratch`` with one loaded model; condition -> dir.

    The same loop (:func:`plmscope.attention.extract.extract_attention`) runs the pretrained model on
    the real and on the shuffled sequences, then the model re-initialised in place on the real ones.
    """
    from plmscope.models.null import reinitialise
    from plmscope.models.registry import load_adapter

    real = [(r.id, r.sequence) for r in records]
    check_lengths(real, proteins_path, model=model, max_residues=int(max_residues), policy=long_sequences)
    adapter = load_adapter(model, max_residues=max_residues, device=device, dtype=dtype)
    options = dict(theta=theta, max_tokens=opt.resolve_max_tokens(max_tokens, adapter.device.type),
                   long_sequences=long_sequences, progress=progress, resume=False, rows_per_part=opt.ROWS_PER_PART,
                   proteins_per_part=opt.PROTEINS_PER_PART)  # fmt: skip
    shuffled = [(r.id, r.sequence) for r in shuffle_sequences(records, seed=seed)]
    out = {c: scratch / c for c in CONDITIONS}
    note(f"null models 1/3: real attention of {model}")
    extract_attention(adapter, real, out["real"], **options)
    note(f"null models 2/3: {model} on residue-shuffled sequences (seed {seed})")
    extract_attention(adapter, shuffled, out["shuffled"], **options)
    reinitialise(adapter, seed=seed, std=random_std)
    note(f"null models 3/3: {adapter.name} with random weights")
    extract_attention(adapter, real, out["random_weights"], **options)
    return out


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
