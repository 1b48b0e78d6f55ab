"""The ``figures`` verb: draw the enrichment figures (PNG and SVG) into one directory, all or none."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Iterable

import matplotlib
import pandas as pd
import pyarrow as pa

from plmscope.analysis.enrichment import TABLE_COLUMNS
from plmscope.analysis.features import AMINO_ACID_FEATURES, check_features
from plmscope.errors import located
from plmscope.io import atomic_path
from plmscope.viz.enrichment_plots import plot_amino_acids, plot_heatmap, plot_top_heads

log = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("png", "svg")
"""File formats written for every figure."""


def run_figures(
    enrichment_dir: str | Path,
    output_dir: str | Path,
    *,
    features: Iterable[str] | None = None,
    top_k: int = 10,
    dpi: int = 150,
) -> dict[str, Any]:
    """Draw, per feature, ``<feature>_heatmap`` and ``<feature>_top_heads`` (plus ``amino_acids_heatmap``).

    Args:
        enrichment_dir: output of :func:`plmscope.runs.enrichment.run_enrichment`
            (``enrichment.parquet``; ``meta.json`` for the model name, optional).
        output_dir: figure directory, replaced as a whole once every figure is drawn.
        features: features to draw; None for every feature in the table.
        top_k: heads in the top-heads charts.
        dpi: PNG resolution.

    Returns:
        A summary: output directory and the file names written.

    Raises:
        PlmscopeError: the enrichment table is missing or malformed, or lacks a requested feature.
    """
    enrichment_dir, output_dir = Path(enrichment_dir), Path(output_dir)
    path = enrichment_dir / "enrichment.parquet"
    table = _read_table(path)
    present = list(pd.unique(table["feature"]))
    if features is None:
        chosen = present
    else:
        chosen = list(check_features(features))
        absent = [f for f in chosen if f not in present]
        if absent:
            raise located(path, f"no rows for feature(s) {absent}")
    model = _model_name(enrichment_dir / "meta.json")
    prefix = f"{model}: " if model else ""

    figures = []
    for feature in chosen:
        figures.append((f"{feature}_heatmap", plot_heatmap(table, feature, title=f"{prefix}{feature}")[0]))
        top_fig, _ = plot_top_heads(table, feature, top_k=top_k, title=f"{prefix}{feature}: top heads")
        figures.append((f"{feature}_top_heads", top_fig))
    if any(f in AMINO_ACID_FEATURES for f in chosen):
        aa_table = table[table["feature"].isin([f for f in chosen if f in AMINO_ACID_FEATURES])]
        title = f"{prefix}amino acids: max attention per layer"
        figures.append(("amino_acids_heatmap", plot_amino_acids(aa_table, title=title)[0]))

    written = []
    with atomic_path(output_dir, directory=True) as tmp, matplotlib.rc_context({"svg.hashsalt": "plmscope"}):
        for name, fig in figures:
            for fmt in FORMATS:
                metadata = {"Date": None} if fmt == "svg" else None
                fig.savefig(tmp / f"{name}.{fmt}", format=fmt, dpi=dpi, metadata=metadata)
                written.append(f"{name}.{fmt}")
                fig.set_layout_engine("none")  # keep the layout of the first save; later saves reuse it
    log.info("wrote %d figure files to %s", len(written), output_dir)
    return {"output": str(output_dir), "files": written}


def _read_table(path: Path) -> pd.DataFrame:
    """Read and check the enrichment table."""
    if not path.is_file():
        raise located(path, "file not found (run `plmscope enrichment` first)")
    try:
        table = pd.read_parquet(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise located(path, f"not a readable Parquet table ({exc})") from None
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise located(path, f"enrichment table lacks columns {missing}")
    if table.empty:
        raise located(path, "enrichment table is empty")
    return table


def _model_name(path: Path) -> str | None:
    """The model named in the enrichment ``meta.json``, if any."""
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    model = meta.get("model") if isinstance(meta, dict) else None
    return str(model) if model else None
