"""The ``attention`` verb: protein table -> thresholded attention dataset for one model (resumable)."""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from plmscope.attention.dataset import FORMAT
from plmscope.attention.partial import PartialRun, digest
from plmscope.attention.threshold import check_theta
from plmscope.attention.windows import LONG_SEQUENCE_POLICIES, LongSequences, check_stride
from plmscope.errors import PlmscopeError, located
from plmscope.io import check_output

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
    window_stride: int | None = None,
    device: str = "auto",
    dtype: str = "auto",
    progress: bool = True,
    resume: bool = True,
    rows_per_part: int = 5_000_000,
    proteins_per_part: int = 250,
) -> dict:
    """Extract attention for every protein and keep the weights ``>= theta``.

    The run is resumable: finished parts and a progress manifest go to ``<output_dir>.partial/``
    (:mod:`plmscope.attention.partial`). After a crash or kill, the same call with the same
    options and protein table continues after the last finished part and writes an output
    identical to an uninterrupted run; changed options or inputs discard the stored parts
    (logged). Nothing in inference is random (models run in eval mode), so the same inputs and
    options give byte-identical output on the same software, hardware and number of torch
    threads (CPU kernels sum in a thread-dependent order: weights differ by ~1e-6 between 1
    and 2 threads, so the thread count is part of the resume fingerprint too).

    Args:
        proteins_path: protein table (:func:`plmscope.data.table.write_proteins`); only its
            ``id`` and ``sequence`` columns are read.
        output_dir: dataset directory to create (see :mod:`plmscope.attention.dataset`);
            written atomically, absent if the run fails.
        model: model name or directory (:func:`plmscope.models.registry.load_adapter`).
        theta: attention threshold in ``(0, 1]`` (Vig et al. use 0.3).
        max_residues: longest sequence (or window) analysed.
        max_tokens: padded-token budget per batch; bounds peak memory.
        long_sequences: ``"truncate"``, ``"skip"``, ``"error"`` or ``"window"`` for sequences over
            ``max_residues`` (see :mod:`plmscope.attention.windows`).
        window_stride: residues between window starts with ``"window"`` (default ``max_residues // 2``).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...
        dtype: ``"auto"``, ``"float32"``, ``"float16"``, ``"bfloat16"``.
        progress: show a progress bar on stderr.
        resume: continue a stored partial run with the same fingerprint (False: start over).
        rows_per_part: close a Parquet part after the batch that brings it to this many rows...
        proteins_per_part: ...or to this many finished proteins (the resume granularity).

    Returns:
        The dataset's meta (model facts, counts of proteins/truncated/windowed/skipped/non-standard
        residues, number of rows) plus ``n_batches``, ``n_batches_resumed`` and ``seconds``.

    Raises:
        PlmscopeError: unreadable table, unknown model, bad option, or a protein over the limit
            with ``long_sequences="error"`` (checked before the model is loaded).
    """
    started = time.perf_counter()
    output_dir = Path(output_dir)
    inputs = [proteins_path, model]
    check_output(output_dir, directory=True, inputs=inputs)  # refuse a bad output before any work
    theta = check_theta(theta)
    if long_sequences not in LONG_SEQUENCE_POLICIES:
        raise PlmscopeError(
            f"long_sequences must be one of {', '.join(LONG_SEQUENCE_POLICIES)}, got {long_sequences!r}"
        )
    for name, value in (("max_residues", max_residues), ("max_tokens", max_tokens), ("rows_per_part", rows_per_part),
                        ("proteins_per_part", proteins_per_part)):  # fmt: skip
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise PlmscopeError(f"{name} must be a positive integer, got {value!r}")
    stride = check_stride(window_stride, width=int(max_residues)) if long_sequences == "window" else None
    proteins = read_sequences(proteins_path)
    _check_lengths(proteins, proteins_path, model=model, max_residues=int(max_residues), policy=long_sequences)

    import torch

    from plmscope.attention.threshold import threshold_batch
    from plmscope.models.inference import iter_attention
    from plmscope.models.registry import load_adapter

    adapter = load_adapter(model, max_residues=max_residues, device=device, dtype=dtype)
    log.info("loaded %r (%s, %d layers x %d heads) on %s", model, adapter.family, adapter.num_layers,
             adapter.num_heads, adapter.device)  # fmt: skip
    stream = iter_attention(adapter, proteins, max_tokens=max_tokens, long_sequences=long_sequences,
                            window_stride=stride, progress=progress)  # fmt: skip
    stats = stream.stats
    _log_policy(stats, adapter.max_residues, stride)
    dtype_name = str(adapter.dtype).removeprefix("torch.")
    meta = adapter.describe() | {
        "theta": theta,
        "long_sequences": long_sequences,
        "window_stride": stride,
        "max_tokens": int(max_tokens),
        "proteins": str(proteins_path),
        "dtype": dtype_name,
    }
    fingerprint = adapter.describe() | {
        "format": FORMAT,
        "theta": theta,
        "long_sequences": long_sequences,
        "window_stride": stride,
        "max_tokens": int(max_tokens),
        "dtype": dtype_name,
        "device": adapter.device.type,
        "torch_threads": torch.get_num_threads(),  # CPU results differ in the last bits with the thread count
        "model_files": _model_files(model),
        "proteins_sha256": _proteins_digest(proteins),
        "plan_sha256": digest(stream.batches),
        "rows_per_part": int(rows_per_part),
        "proteins_per_part": int(proteins_per_part),
    }
    partial = PartialRun(
        output_dir, fingerprint=fingerprint, num_layers=adapter.num_layers, num_heads=adapter.num_heads,
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
        meta = partial.assemble(meta=meta, skipped=stats.skipped)
    except PlmscopeError:
        partial.remove()  # a problem with the input or options: nothing worth resuming
        raise
    except BaseException:
        partial.close()
        log.warning("attention run interrupted; finished parts kept in %s, rerun the same command to resume",
                    partial.path)  # fmt: skip
        raise
    partial.remove()
    if meta["n_nonstandard"]:
        log.warning("%d non-standard residues analysed (%d encoded as the unknown token)", meta["n_nonstandard"],
                    meta["n_unknown"])  # fmt: skip
    log.info("wrote %d attention rows for %d proteins to %s", meta["n_rows"], meta["n_proteins"], output_dir)
    return dict(meta, n_batches=stats.n_batches, n_batches_resumed=start,
                seconds=round(time.perf_counter() - started, 3))  # fmt: skip


def read_sequences(path: str | Path) -> list[tuple[str, str]]:
    """``(id, sequence)`` of every protein of a protein table, in table order, without the structure columns.

    Raises:
        PlmscopeError: the file is missing or not a protein table, has no rows, or has a null or
            empty id or sequence.
    """
    path = Path(path)
    if not path.exists():
        raise located(path, "file not found")
    try:
        names = pq.read_schema(path).names
        missing = [c for c in ("id", "sequence") if c not in names]
        if missing:
            raise located(path, f"protein table lacks columns {missing}")
        table = pq.read_table(path, columns=["id", "sequence"])
    except (pa.ArrowException, OSError) as exc:
        raise located(path, f"not a readable Parquet protein table ({' '.join(str(exc).split())})") from None
    ids, seqs = table.column("id").to_pylist(), table.column("sequence").to_pylist()
    if not ids:
        raise located(path, "protein table has no proteins")
    for k, (pid, seq) in enumerate(zip(ids, seqs)):
        if not pid:
            raise located(path, f"row {k} has an empty protein id")
        if not seq:
            raise located(path, f"protein {pid!r} has an empty sequence")
    return list(zip(ids, seqs))


def _check_lengths(proteins, path, *, model: str, max_residues: int, policy: str) -> None:
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


def _log_policy(stats, max_residues: int, stride: int | None) -> None:
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


def _proteins_digest(proteins: list[tuple[str, str]]) -> str:
    """SHA-256 of the ordered ``(id, sequence)`` pairs (what the attention depends on)."""
    h = hashlib.sha256()
    for pid, seq in proteins:
        h.update(f"{pid}\t{seq}\n".encode())
    return h.hexdigest()


def _model_files(model: str) -> dict[str, list[int]] | None:
    """Name -> (size, mtime_ns) of a local model directory's files (None for hub names), to notice new weights."""
    path = Path(model).expanduser()
    if not path.is_dir() and model.lower() == "antiberty":
        from plmscope.models.registry import antiberty_paths

        path = antiberty_paths()[0]
    if not path.is_dir():
        return None
    return {f.name: [f.stat().st_size, f.stat().st_mtime_ns] for f in sorted(path.iterdir()) if f.is_file()}

