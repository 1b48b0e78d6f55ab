"""The attention loop: a loaded model over proteins -> a thresholded attention dataset (resumable).

Shared by the ``attention`` verb and the ``robustness`` null models (which run the same loop on
shuffled sequences and on a re-initialised copy of the model), so the three conditions are
extracted by exactly the same code.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

from plmscope.attention.dataset import FORMAT
from plmscope.attention.partial import PartialRun, digest
from plmscope.errors import PlmscopeError, located
from plmscope.options import LONG_SEQUENCES, MAX_TOKENS_CPU, PROTEINS_PER_PART, ROWS_PER_PART, LongSequences

log = logging.getLogger(__name__)


def extract_attention(
    adapter: Any,
    proteins: Sequence[tuple[str, str]],
    output_dir: str | Path,
    *,
    theta: float,
    max_tokens: int = MAX_TOKENS_CPU,
    long_sequences: LongSequences = LONG_SEQUENCES,
    window_stride: int | None = None,
    progress: bool = True,
    resume: bool = True,
    rows_per_part: int = ROWS_PER_PART,
    proteins_per_part: int = PROTEINS_PER_PART,
    meta: Mapping[str, Any] | None = None,
    fingerprint: Mapping[str, Any] | None = None,
    inputs: Sequence[str | Path | None] = (),
) -> dict:
    """Run ``adapter`` over ``proteins`` and keep the attention weights ``>= theta`` in a dataset directory.

    Finished parts and a progress manifest go to ``<output_dir>.partial/``
    (:mod:`plmscope.attention.partial`): the same call after a crash continues after the last
    finished part; a different fingerprint (options, proteins, batch plan, model facts, torch
    threads, plus ``fingerprint``) starts over.

    Args:
        adapter: a loaded :class:`plmscope.models.base.AttentionAdapter` (possibly re-initialised).
        proteins: ``(id, sequence)`` pairs in output order.
        output_dir: dataset directory (:mod:`plmscope.attention.dataset`), written atomically.
        theta: threshold in ``(0, 1]`` (checked by the caller).
        max_tokens: padded-token budget per batch (an int: resolve ``"auto"`` first).
        long_sequences: policy for sequences over ``adapter.max_residues``.
        window_stride: window stride with ``"window"`` (checked by the caller).
        progress: progress bar on stderr.
        resume: continue a stored partial run with the same fingerprint.
        rows_per_part, proteins_per_part: when a Parquet part is closed (the resume granularity).
        meta: extra entries of the dataset's ``meta.json`` (e.g. the protein table path).
        fingerprint: extra entries of the resume fingerprint (e.g. the model files).

    Returns:
        The dataset's meta plus ``n_batches`` and ``n_batches_resumed``.
    """
    import torch

    from plmscope.attention.threshold import threshold_batch
    from plmscope.models.inference import iter_attention

    stream = iter_attention(adapter, list(proteins), max_tokens=max_tokens, long_sequences=long_sequences,
                            window_stride=window_stride, progress=progress)  # fmt: skip
    stats = stream.stats
    log_policy(stats, adapter.max_residues, window_stride)
    options = {"theta": theta, "long_sequences": long_sequences, "window_stride": window_stride,
               "max_tokens": int(max_tokens), "dtype": str(adapter.dtype).removeprefix("torch.")}  # fmt: skip
    full_meta = adapter.describe() | options | dict(meta or {})
    full_fingerprint = adapter.describe() | options | {
        "format": FORMAT,
        "device": adapter.device.type,
        "torch_threads": torch.get_num_threads(),  # CPU results differ in the last bits with the thread count
        "proteins_sha256": proteins_digest(proteins),
        "plan_sha256": digest(stream.batches),
        "rows_per_part": int(rows_per_part),
        "proteins_per_part": int(proteins_per_part),
    } | dict(fingerprint or {})  # fmt: skip
    partial = PartialRun(
        output_dir, fingerprint=full_fingerprint, num_layers=adapter.num_layers, num_heads=adapter.num_heads,
        rows_per_part=rows_per_part, proteins_per_part=proteins_per_part, resume=resume, inputs=inputs,
    )  # fmt: skip
    start = partial.next_batch
    if partial.resumed:
        log.info("resuming from %s: %d of %d batches (%d proteins) already done", partial.path, start,
                 len(stream), len(stream.finished_before(start)))  # fmt: skip
    try:
        for batch in stream.iter_batches(start):
            rows, counts = threshold_batch(batch.layers, batch.lengths, batch.ids, theta=theta,
                                           offsets=batch.offsets, pair_sums=batch.pair_sums)  # fmt: skip
            partial.add(batch.index, rows, counts, batch.finished)
            del batch, rows  # free this batch's attention before the next one is computed
        result = partial.assemble(meta=full_meta, skipped=stats.skipped)
    except PlmscopeError:
        partial.remove()  # a problem with the input or options: nothing worth resuming
        raise
    except BaseException:
        partial.close()
        log.warning("attention run interrupted; finished parts kept in %s, rerun the same command to resume",
                    partial.path)  # fmt: skip
        raise
    partial.remove()
    if result["n_nonstandard"]:
        log.warning("%d non-standard residues analysed (%d encoded as the unknown token)", result["n_nonstandard"],
                    result["n_unknown"])  # fmt: skip
    return dict(result, n_batches=stats.n_batches, n_batches_resumed=start)


def check_lengths(proteins, path, *, model: str, max_residues: int, policy: str) -> None:
    """Fail before loading the model: a protein over the limit with ``error``, or nothing left with ``skip``."""
    if policy == "error":
        for pid, seq in proteins:
            if len(seq) > max_residues:
                raise PlmscopeError(
                    f"{path}: protein {pid!r} has {len(seq)} residues, over the limit of {max_residues} for model "
                    f"{model!r} (set long_sequences to truncate, window or skip)"
                )
    if policy == "skip" and all(len(seq) > max_residues for _, seq in proteins):
        raise located(path, f"no protein is left to analyse (all {len(proteins)} are longer than {max_residues} "
                            "residues and long_sequences is skip)")  # fmt: skip


def log_policy(stats, max_residues: int, stride: int | None) -> None:
    """Log how many proteins were truncated, skipped or windowed."""
    if stats.n_truncated:
        log.warning("%d of %d proteins truncated to their first %d residues", stats.n_truncated, stats.n_input,
                    max_residues)  # fmt: skip
    if stats.n_skipped:
        log.warning("%d of %d proteins skipped (longer than %d residues)", stats.n_skipped, stats.n_input,
                    max_residues)  # fmt: skip
    if stats.n_windowed:
        log.info("%d of %d proteins longer than %d residues run as %d overlapping windows (stride %d)",
                 stats.n_windowed, stats.n_input, max_residues, stats.n_windows, stride)  # fmt: skip


def proteins_digest(proteins: Sequence[tuple[str, str]]) -> str:
    """SHA-256 of the ordered ``(id, sequence)`` pairs (what the attention depends on)."""
    h = hashlib.sha256()
    for pid, seq in proteins:
        h.update(f"{pid}\t{seq}\n".encode())
    return h.hexdigest()
