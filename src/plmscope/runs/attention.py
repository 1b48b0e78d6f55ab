"""The ``attention`` verb: protein table -> thresholded attention dataset for one model."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from plmscope.attention.dataset import AttentionWriter
from plmscope.attention.threshold import check_theta, threshold_batch
from plmscope.data.table import read_proteins
from plmscope.errors import PlmscopeError
from plmscope.models.inference import LongSequences, iter_attention
from plmscope.models.registry import DType, load_adapter

log = logging.getLogger(__name__)


def run_attention(
    proteins_path: str | Path,
    output_dir: str | Path,
    *,
    model: str,
    theta: float = 0.3,
    max_residues: int = 510,
    max_tokens: int = 8192,
    long_sequences: LongSequences = "truncate",
    device: str = "auto",
    dtype: DType = "auto",
    progress: bool = True,
) -> dict:
    """Extract attention for every protein and keep the weights ``>= theta``.

    Args:
        proteins_path: protein table (:func:`plmscope.data.table.read_proteins`).
        output_dir: dataset directory to create (see :mod:`plmscope.attention.dataset`);
            written atomically, absent if the run fails.
        model: model name or directory (:func:`plmscope.models.registry.load_adapter`).
        theta: attention threshold in ``(0, 1]`` (Vig et al. use 0.3).
        max_residues: longest sequence analysed.
        max_tokens: padded-token budget per batch.
        long_sequences: ``"truncate"``, ``"skip"`` or ``"error"`` for sequences over ``max_residues``.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...
        dtype: ``"auto"``, ``"float32"``, ``"float16"``, ``"bfloat16"``.
        progress: show a progress bar on stderr.

    Returns:
        The dataset's meta (model facts, counts of proteins/truncated/skipped/non-standard
        residues, number of rows) plus ``seconds``.

    Raises:
        PlmscopeError: unreadable table, unknown model, bad option, or a protein over the limit
            with ``long_sequences="error"``.
    """
    started = time.perf_counter()
    theta = check_theta(theta)
    records = read_proteins(proteins_path)
    adapter = load_adapter(model, max_residues=max_residues, device=device, dtype=dtype)
    log.info("loaded %r (%s, %d layers x %d heads) on %s", model, adapter.family, adapter.num_layers,
             adapter.num_heads, adapter.device)
    stream = iter_attention(
        adapter,
        [(r.id, r.sequence) for r in records],
        max_tokens=max_tokens,
        long_sequences=long_sequences,
        progress=progress,
    )
    if stream.stats.n_analysed == 0:
        raise PlmscopeError(f"{proteins_path}: no protein is left to analyse (all {stream.stats.n_skipped} skipped)")
    stats = stream.stats
    if stats.n_truncated:
        log.warning("%d of %d proteins truncated to their first %d residues", stats.n_truncated, stats.n_input,
                    adapter.max_residues)
    if stats.n_skipped:
        log.warning("%d of %d proteins skipped (longer than %d residues)", stats.n_skipped, stats.n_input,
                    adapter.max_residues)
    meta = adapter.describe() | {
        "theta": theta,
        "long_sequences": long_sequences,
        "max_tokens": int(max_tokens),
        "proteins": str(proteins_path),
        "dtype": str(adapter.dtype).removeprefix("torch."),
    }
    with AttentionWriter(output_dir, meta=meta) as writer:
        writer.add_skipped(stats.skipped)
        for batch in stream:
            rows, counts = threshold_batch(batch.layers, batch.lengths, batch.ids, theta=theta)
            writer.write(rows, counts)
            writer.add_proteins(
                batch.ids,
                batch.lengths,
                batch.n_original,
                n_nonstandard=batch.n_nonstandard,
                n_unknown=batch.n_unknown,
            )
    if stats.n_nonstandard:
        log.warning("%d non-standard residues analysed (%d encoded as the unknown token)", stats.n_nonstandard,
                    stats.n_unknown)
    log.info("wrote %d attention rows for %d proteins to %s", writer.n_rows, stats.n_analysed, output_dir)
    return dict(writer.meta, n_batches=stats.n_batches, seconds=round(time.perf_counter() - started, 3))
