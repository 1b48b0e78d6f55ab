"""The ``attention`` verb: protein table -> thresholded attention dataset for one model (resumable)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from plmscope import options as opt
from plmscope.attention.extract import check_lengths, extract_attention
from plmscope.attention.windows import check_stride
from plmscope.data.table import read_sequences
from plmscope.io import check_output
from plmscope.analysis.semantics import check_semantics, inference_dtype
from plmscope.errors import PlmscopeError
from plmscope.options import DType, LongSequences, parse_shard

log = logging.getLogger(__name__)


def run_attention(
    proteins_path: str | Path,
    output_dir: str | Path,
    *,
    model: str,
    theta: float = opt.THETA,
    max_residues: int = opt.MAX_RESIDUES,
    max_tokens: int | str = opt.MAX_TOKENS,
    long_sequences: LongSequences = opt.LONG_SEQUENCES,
    window_stride: int | None = None,
    device: str = opt.DEVICE,
    dtype: DType = opt.DTYPE,
    semantics: opt.Semantics = opt.SEMANTICS,
    shard: str | None = None,
    progress: bool = True,
    resume: bool = True,
    rows_per_part: int = opt.ROWS_PER_PART,
    proteins_per_part: int = opt.PROTEINS_PER_PART,
) -> dict:
    """Extract attention for every protein and keep the weights ``>= theta``.

    The run is resumable (:func:`plmscope.attention.extract.extract_attention`): after a crash or
    kill, the same call with the same options and protein table continues after the last
    finished part and writes an output identical to an uninterrupted run. Nothing in inference is
    random (models run in eval mode), so the same inputs and options give byte-identical output on
    the same software, hardware and number of torch threads (CPU kernels sum in a thread-dependent
    order: weights differ by ~1e-6 between 1 and 2 threads, so the thread count is part of the
    resume fingerprint too).

    Args:
        proteins_path: protein table (:func:`plmscope.data.table.write_proteins`); only its
            ``id`` and ``sequence`` columns are read.
        output_dir: dataset directory to create (see :mod:`plmscope.attention.dataset`);
            written atomically, absent if the run fails.
        model: model name or directory (:func:`plmscope.models.registry.load_adapter`).
        theta: attention threshold in ``(0, 1]`` (Vig et al. use 0.3).
        max_residues: longest sequence (or window) analysed.
        max_tokens: padded-token budget per batch, or ``"auto"`` (per device,
            :func:`plmscope.options.resolve_max_tokens`); bounds peak memory.
        long_sequences: ``"truncate"``, ``"skip"``, ``"error"`` or ``"window"`` for sequences over
            ``max_residues`` (see :mod:`plmscope.attention.windows`).
        window_stride: residues between window starts with ``"window"`` (default ``max_residues // 2``).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...
        dtype: ``"auto"``, ``"float32"``, ``"float16"``, ``"bfloat16"``.
        semantics: ``"provis"`` runs the model in float32 whatever the device (as the authors did;
            an explicit other dtype is refused), ``"plmscope"`` uses ``dtype``
            (:func:`plmscope.analysis.semantics.inference_dtype`). Recorded in ``meta.json``.
        shard: ``"K/N"``: keep only the proteins at positions ``i % N == K`` of the table (0-based
            K), one of N attention jobs over one dataset; ``plmscope enrichment`` sums the shards.
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
    theta = opt.check_theta(theta)
    opt.check_choice("long_sequences", long_sequences, opt.LONG_SEQUENCE_POLICIES)
    for name, value in (("max_residues", max_residues), ("rows_per_part", rows_per_part),
                        ("proteins_per_part", proteins_per_part)):  # fmt: skip
        opt.check_int(name, value)
    if max_tokens != "auto":
        opt.check_int("max_tokens", max_tokens)
    stride = check_stride(window_stride, width=int(max_residues)) if long_sequences == "window" else None
    dtype = inference_dtype(check_semantics(semantics), dtype) or opt.DTYPE  # type: ignore[assignment]
    proteins = read_sequences(proteins_path)
    index, count = parse_shard(shard)
    proteins = proteins[index::count]
    if not proteins:
        raise PlmscopeError(f"shard {shard}: no protein of {proteins_path} falls in it")
    check_lengths(proteins, proteins_path, model=model, max_residues=int(max_residues), policy=long_sequences)

    from plmscope.models.registry import load_adapter
    from plmscope.models.resolve import model_files

    adapter = load_adapter(model, max_residues=max_residues, device=device, dtype=dtype)
    log.info("loaded %r (%s, %d layers x %d heads) on %s", model, adapter.family, adapter.num_layers,
             adapter.num_heads, adapter.device)  # fmt: skip
    run_meta = {"proteins": str(proteins_path), "semantics": semantics, "dtype": dtype, "shard": f"{index}/{count}"}
    meta = extract_attention(
        adapter, proteins, output_dir, theta=theta, max_tokens=opt.resolve_max_tokens(max_tokens, adapter.device.type),
        long_sequences=long_sequences, window_stride=stride, progress=progress, resume=resume,
        rows_per_part=rows_per_part, proteins_per_part=proteins_per_part, meta=run_meta,
        fingerprint={"model_files": model_files(model)}, inputs=inputs,
    )  # fmt: skip
    log.info("wrote %d attention rows for %d proteins to %s", meta["n_rows"], meta["n_proteins"], output_dir)
    return dict(meta, seconds=round(time.perf_counter() - started, 3))
