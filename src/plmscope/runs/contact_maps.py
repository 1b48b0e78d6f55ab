"""The ``contact-maps`` verb: apply a saved attention-contact regression to any sequences (no structure needed)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from plmscope import options as opt
from plmscope.analysis.contact_prediction import MIN_SEPARATION, pair_features, predict_from_table
from plmscope.data.table import read_proteins
from plmscope.errors import PlmscopeError, located
from plmscope.io import file_names
from plmscope.options import WHOLE_SEQUENCE_POLICIES, DType, LongSequences, check_choice
from plmscope.outputs import output_directory, write_json, write_tables

log = logging.getLogger(__name__)


def run_contact_maps(
    proteins_path: str | Path,
    regression_dir: str | Path,
    output_dir: str | Path,
    *,
    model: str,
    max_residues: int = opt.MAX_RESIDUES,
    long_sequences: LongSequences = "truncate",
    device: str = "auto",
    dtype: DType = "auto",
    progress: bool = True,
) -> dict[str, Any]:
    """Predict a contact probability map for every protein of a table with a regression fitted by ``contacts``.

    Args:
        proteins_path: protein table (coordinates not needed).
        regression_dir: output directory of ``plmscope contacts`` (``regression.parquet``, ``meta.json``)
            for the same model.
        output_dir: directory replaced as a whole: ``contact_probs.{parquet,csv}`` (``protein_id``,
            ``i_1based``, ``j_1based`` with ``j - i >= 6``, ``probability``), ``meta.json`` and one
            ``contact_map_<protein>.png`` per protein.
        model: model name or directory (must match the regression's head count).
        max_residues: longest sequence analysed.
        long_sequences: ``"truncate"``, ``"skip"`` or ``"error"``.
        device: torch device.
        dtype: model dtype.
        progress: progress bars on stderr.

    Returns:
        A summary: output directory, proteins mapped, pairs, seconds.

    Raises:
        PlmscopeError: a missing or malformed regression, a head-count mismatch, or an unloadable model.
    """
    from plmscope.models.inference import iter_attention
    from plmscope.models.registry import load_adapter
    from plmscope.viz.contact_plots import plot_contact_probability_map

    started = time.perf_counter()
    check_choice("contact-maps long_sequences", long_sequences, WHOLE_SEQUENCE_POLICIES)
    regression_dir, output_dir = Path(regression_dir), Path(output_dir)
    table, fitted = _read_regression(regression_dir)
    records = read_proteins(proteins_path)
    adapter = load_adapter(model, max_residues=max_residues, device=device, dtype=dtype)
    if adapter.num_layers * adapter.num_heads != len(table):
        raise located(regression_dir / "regression.parquet", f"fitted on {len(table)} heads; {model!r} has "
                      f"{adapter.num_layers} x {adapter.num_heads}")  # fmt: skip
    by_id = {r.id: r for r in records}
    png = dict(zip(by_id, file_names(by_id, prefix="contact_map_", suffix=".png")))
    frames, written = [], {}
    with output_directory(output_dir, inputs=[proteins_path, regression_dir]) as tmp:
        stream = iter_attention(adapter, [(r.id, r.sequence) for r in records], max_tokens=1,
                                long_sequences=long_sequences, progress=progress)  # fmt: skip
        for batch in stream:
            for b, pid in enumerate(batch.ids):
                n = int(batch.lengths[b])
                sequence = by_id[pid].sequence[:n]
                if n <= MIN_SEPARATION:
                    log.warning("%s: %d residues, no pair %d apart; no map", pid, n, MIN_SEPARATION)
                    continue
                layers = [layer[b, :, :n, :n].float().cpu().numpy() for layer in batch.layers]
                i, j, features = pair_features(layers)
                probs = predict_from_table(table, features)
                frames.append(pd.DataFrame({"protein_id": pid, "i_1based": i + 1, "j_1based": j + 1,
                                            "probability": probs}))  # fmt: skip
                dense = np.full((n, n), np.nan)
                dense[i, j] = dense[j, i] = probs
                name = png[pid]
                plot_contact_probability_map(dense, sequence, tmp / name, title=f"{model}: {pid} (predicted)",
                                             min_separation=MIN_SEPARATION)  # fmt: skip
                written[pid] = name
        columns = {"protein_id": pd.Series(dtype=str), "i_1based": pd.Series(dtype="int64"),
                   "j_1based": pd.Series(dtype="int64"), "probability": pd.Series(dtype="float64")}  # fmt: skip
        probs_table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns)
        write_tables(tmp, {"contact_probs": probs_table})
        write_json(tmp / "meta.json", {
            "model": model, "proteins": str(proteins_path), "regression": str(regression_dir),
            "regression_fitted_on": fitted.get("proteins"), "regression_train_ids": fitted.get("train_ids"),
            "contact_definition": fitted.get("contact_definition"), "min_separation": MIN_SEPARATION,
            "columns": {"i_1based": "first residue, 1-based", "j_1based": "second residue, 1-based, j - i >= 6",
                        "probability": "predicted probability that the pair is a contact"},
            "figures": written,
        })  # fmt: skip
    log.info("wrote contact maps of %d protein(s) to %s", len(written), output_dir)
    return {"output": str(output_dir), "proteins": len(written), "pairs": len(probs_table),
            "seconds": round(time.perf_counter() - started, 3)}  # fmt: skip


def _read_regression(regression_dir: Path) -> tuple[pd.DataFrame, dict]:
    """The regression table and the ``meta.json`` of a ``contacts`` output directory."""
    path = regression_dir / "regression.parquet"
    if not path.is_file():
        raise located(path, "not found: give the output directory of `plmscope contacts` (it saves the regression)")
    try:
        table = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise located(path, f"not a readable regression table ({exc})") from None
    meta_path = regression_dir / "meta.json"
    try:
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    except ValueError as exc:
        raise located(meta_path, f"not JSON ({exc})") from None
    if table.empty:
        raise PlmscopeError(f"{path}: empty regression table")
    return table, meta

