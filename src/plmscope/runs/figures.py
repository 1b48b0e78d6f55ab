"""The ``figures`` verb: draw the enrichment figures (PNG and SVG) into one directory, all or none."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from plmscope.analysis.features import check_features
from plmscope.analysis.readers import read_enrichment_meta, read_enrichment_table
from plmscope.errors import located
from plmscope.outputs import output_directory, save_figure
from plmscope.viz.enrichment_plots import enrichment_figures

log = logging.getLogger(__name__)


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
        A summary: output directory, the file names written and ``skipped`` ({feature: one-line
        note} for features with nothing to draw, e.g. no annotated protein).

    Raises:
        PlmscopeError: the enrichment table is missing or malformed, or lacks a requested feature.
    """
    enrichment_dir, output_dir = Path(enrichment_dir), Path(output_dir)
    path = enrichment_dir / "enrichment.parquet"
    table = read_enrichment_table(path)
    present = list(pd.unique(table["feature"]))
    if features is None:
        chosen = present
    else:
        chosen = list(check_features(features))
        absent = [f for f in chosen if f not in present]
        if absent:
            raise located(path, f"no rows for feature(s) {absent}")
    model = read_enrichment_meta(enrichment_dir / "meta.json").get("model")
    prefix = f"{model}: " if model else ""

    figures, skipped = enrichment_figures(table, chosen, top_k=top_k, title_prefix=prefix)

    written = []
    with output_directory(output_dir, inputs=[enrichment_dir]) as tmp:
        for name, fig in figures:
            written += save_figure(fig, tmp, name, dpi=dpi)
    log.info("wrote %d figure files to %s", len(written), output_dir)
    return {"output": str(output_dir), "files": written, "skipped": skipped}
