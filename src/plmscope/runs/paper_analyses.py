"""The ``paper`` and ``compare`` verbs: cross-layer and amino-acid analyses, and the comparison with Vig et al."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from plmscope.analysis.blosum import compare_with_blosum
from plmscope.analysis.comparison import (
    ModelResult,
    build_comparison,
    comparison_markdown,
    probing_comparison,
    probing_markdown,
    read_paper_blosum,
    read_paper_heads,
    resolve_model_key,
)
from plmscope.analysis.features import AMINO_ACID_FEATURES
from plmscope.analysis.gravity import amino_acid_top_heads, layer_profiles
from plmscope.analysis.semantics import Semantics, check_semantics
from plmscope.analysis.semantics import gravity as semantics_gravity
from plmscope.options import MIN_COUNT
from plmscope.analysis.readers import read_enrichment_meta, read_enrichment_table
from plmscope.errors import PlmscopeError, located
from plmscope.io import atomic_path
from plmscope.outputs import output_directory, save_figure, write_json, write_tables
from plmscope.viz.paper_plots import plot_blosum, plot_layer_max, plot_layer_profiles

log = logging.getLogger(__name__)

PAPER_HEADS = Path("resources/paper/vig2021_top_heads.csv")
"""Default table of the paper's top heads (relative to the working directory)."""

PAPER_BLOSUM = Path("resources/paper/vig2021_blosum.csv")
"""Default table of the paper's BLOSUM62 correlations (relative to the working directory)."""


def run_paper_analyses(
    enrichment_dir: str | Path,
    output_dir: str | Path,
    *,
    model_key: str | None = None,
    label: str | None = None,
    dataset: str | None = None,
    semantics: Semantics | None = None,
    dpi: int = 150,
) -> dict[str, Any]:
    """Cross-layer summaries, per-amino-acid top heads and the BLOSUM62 comparison of one enrichment run.

    Writes into ``output_dir`` (replaced as a whole, all files or none):
    ``layer_profiles`` and ``gravity`` (Parquet and CSV), ``amino_acid_top_heads.csv``,
    ``aa_similarity.csv`` (20 x 20) and ``blosum.json`` (r, pairs, heads; r null when it cannot be
    computed), the figures ``layer_profiles``, ``layer_max``, ``layer_max_amino_acids`` and
    ``blosum`` as PNG and SVG, and ``meta.json``.

    Args:
        enrichment_dir: output of ``plmscope enrichment`` (``enrichment.parquet``, ``meta.json``).
        output_dir: directory to create.
        model_key: key matched against the paper's tables; None resolves it from the model named
            in the enrichment ``meta.json`` (:func:`plmscope.analysis.comparison.resolve_model_key`).
        label: our name for the model (e.g. the config name); defaults to ``model_key``.
        dataset: dataset name recorded for the comparison.
        semantics: definitions of the center of gravity (:func:`plmscope.analysis.semantics.gravity`):
            ``provis`` = 0-based layer index (``center_of_gravity_layer_number`` is the 1-based one the
            figures draw), undefined when a layer has no scored head; needs a provis enrichment table.
            ``plmscope`` = 1-based layer numbers. None: the semantics recorded by the enrichment run
            (``plmscope`` when it records none). A value that contradicts the enrichment's is refused.
        dpi: PNG resolution.

    Returns:
        A summary: output directory, model key, centers of gravity and the BLOSUM62 r.

    Raises:
        PlmscopeError: the enrichment table is missing or malformed.
    """
    enrichment_dir, output_dir = Path(enrichment_dir), Path(output_dir)
    table = read_enrichment_table(enrichment_dir / "enrichment.parquet")
    enrichment_meta = read_enrichment_meta(enrichment_dir / "meta.json")
    source = enrichment_meta.get("model")
    semantics = _semantics(enrichment_dir, enrichment_meta, semantics)
    if model_key is None:
        if not source:
            raise located(enrichment_dir / "meta.json", "names no model; pass model_key")
        model_key = resolve_model_key(str(source))
    label = label or model_key
    prefix = f"{label}: "

    profiles = layer_profiles(table)
    gravity, gravity_drawn = _gravity(table, semantics, float(enrichment_meta.get("min_count") or MIN_COUNT))
    features = list(pd.unique(table["feature"]))
    main = [f for f in features if f not in AMINO_ACID_FEATURES and (gravity["feature"] == f).any()]
    amino = [f for f in features if f in AMINO_ACID_FEATURES]
    drawn_gravity = gravity_drawn[gravity_drawn["feature"].isin(main) & gravity_drawn["center_of_gravity"].notna()]

    figures = []
    if len(drawn_gravity):
        fig = plot_layer_profiles(profiles, drawn_gravity, title=f"{prefix}mean % attention per layer")
        figures.append(("layer_profiles", fig))
    if main:
        figures.append(("layer_max", plot_layer_max(profiles, main, title=f"{prefix}max % attention per layer")))
    blosum_info, top_aa, similarity = _amino_acids(table, profiles, amino, figures, prefix=prefix, label=label)

    meta = {
        "enrichment_dir": str(enrichment_dir),
        "model": source,
        "model_key": model_key,
        "label": label,
        "dataset": dataset,
        "semantics": semantics,
        "center_of_gravity": GRAVITY_DEFINITION[semantics],
        "blosum": "Pearson r over heads between attention proportions to two amino acids, vs BLOSUM62 "
        "over the 190 off-diagonal pairs",
    }
    written = []
    with output_directory(output_dir) as tmp:
        write_tables(tmp, {"layer_profiles": profiles, "gravity": gravity})
        if top_aa is not None:
            top_aa.to_csv(tmp / "amino_acid_top_heads.csv", index=False)
        if similarity is not None:
            similarity.to_csv(tmp / "aa_similarity.csv", index_label="amino_acid")
        write_json(tmp / "blosum.json", blosum_info)
        for name, fig in figures:
            written += save_figure(fig, tmp, name, dpi=dpi)
        write_json(tmp / "meta.json", meta)
    log.info("wrote %d figure files and the tables to %s", len(written), output_dir)
    return {
        "output": str(output_dir),
        "model_key": model_key,
        "center_of_gravity": {r.feature: round(float(r.center_of_gravity), 3) for r in drawn_gravity.itertuples()},
        "blosum_r": blosum_info["r"],
        "figures": written,
    }


def _amino_acids(table: pd.DataFrame, profiles: pd.DataFrame, amino: list[str], figures: list, *, prefix: str,
                 label: str) -> tuple[dict[str, Any], pd.DataFrame | None, pd.DataFrame | None]:  # fmt: skip
    """Amino-acid analyses (top heads, BLOSUM62 comparison) and their figures (appended to ``figures``).

    Returns:
        ``(blosum_info, top heads table or None, similarity matrix or None)``.
    """
    blosum_info: dict[str, Any] = {"r": None, "n_pairs": 0, "n_heads": 0, "reason": "no amino-acid features"}
    top_aa = similarity = None
    if amino:
        fig = plot_layer_max(profiles, amino, title=f"{prefix}max % attention per layer")
        figures.append(("layer_max_amino_acids", fig))
        top_aa = amino_acid_top_heads(table)
        try:
            result = compare_with_blosum(table)
        except PlmscopeError as exc:
            blosum_info["reason"] = str(exc)
            log.warning("BLOSUM62 comparison skipped: %s", exc)
        else:
            similarity = result.similarity
            r = None if not np.isfinite(result.r) else float(result.r)
            blosum_info = {"r": r, "n_pairs": result.n_pairs, "n_heads": result.n_heads, "reason": None}
            figures.append(("blosum", plot_blosum(result.similarity, result.blosum, result.r, title=label)))
    return blosum_info, top_aa, similarity


GRAVITY_DEFINITION: dict[str, str] = {
    "plmscope": "sum_l l p_l / sum_l p_l, l 1-based, p_l the mean proportion of the layer's unmasked heads (pooled: "
    "sum n_feature / sum n_attention of those heads)",
    "provis": "sum_l l p_l / sum_l p_l, l 0-based (center_of_gravity_layer_number = +1), p_l the mean head proportion "
    "over heads with weight_total >= min_count; undefined when a layer has none",
}


def _gravity(table: pd.DataFrame, semantics: Semantics, min_count: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The gravity table (with a ``semantics`` column) and the one the figures draw (1-based layer numbers)."""
    gravity = semantics_gravity(table, semantics=semantics, min_count=min_count)
    drawn = gravity.assign(center_of_gravity=gravity["center_of_gravity_layer_number"]) if semantics == "provis" else gravity
    return gravity.assign(semantics=semantics), drawn


def _semantics(enrichment_dir: Path, meta: Mapping[str, Any], requested: str | None) -> Semantics:
    """The semantics of the analyses: the requested one, which must match the enrichment run's when it records one."""
    recorded = meta.get("semantics")
    if requested is None:
        return check_semantics(recorded or "plmscope")
    requested = check_semantics(requested)
    if recorded is not None and recorded != requested:
        raise located(enrichment_dir / "meta.json", f"enrichment ran under semantics {recorded!r}, not {requested!r}")
    return requested


def run_comparison(
    enrichment_dirs: Sequence[str | Path],
    paper_analyses_dirs: Sequence[str | Path],
    output_csv: str | Path,
    *,
    output_md: str | Path | None = None,
    paper_heads: str | Path = PAPER_HEADS,
    paper_blosum: str | Path = PAPER_BLOSUM,
    feature_datasets: Mapping[str, str] | None = None,
    probing_dirs: Sequence[str | Path] | None = None,
    alternate_dirs: Sequence[str | Path] | None = None,
) -> dict[str, Any]:
    """Put our top heads and BLOSUM62 correlations beside the paper's, as CSV and Markdown.

    Each row also shows our top head under each semantics (``provis_*``, ``plmscope_*``): the
    enrichment's own (``semantics`` in its ``meta.json``) and, when ``alternate_dirs`` are given,
    the other; without them the other column is empty and the Markdown says so.

    Args:
        enrichment_dirs: enrichment outputs, one per (model, dataset).
        paper_analyses_dirs: the :func:`run_paper_analyses` output of each, in the same order (its
            ``meta.json`` gives the label, model key and dataset; ``blosum.json`` our r).
        output_csv: comparison table (:data:`plmscope.analysis.comparison.COMPARISON_COLUMNS`).
        output_md: Markdown rendering; defaults to ``output_csv`` with the suffix ``.md``.
        paper_heads: the paper's top heads (``resources/paper/vig2021_top_heads.csv``).
        paper_blosum: the paper's BLOSUM62 correlations (``resources/paper/vig2021_blosum.csv``).
        feature_datasets: feature -> dataset it is measured on (``"amino_acids"`` for BLOSUM62);
            see :func:`plmscope.analysis.comparison.build_comparison`.
        probing_dirs: probing outputs ``.../<model>/<dataset>`` of either semantics; listed, labelled
            by semantics, in ``probing_comparison.csv`` beside ``output_csv`` and in the Markdown
            (:func:`plmscope.analysis.comparison.probing_comparison`). An empty list (no dataset was
            probed) writes the table with its header only and says so in the Markdown, so a workflow
            rule always finds its output; None writes no probing table.
        alternate_dirs: the enrichment of each run under the other semantics, same order as
            ``enrichment_dirs`` (the ``paper`` target's ``results/enrichment_<semantics>/...``).

    Returns:
        A summary: the two output paths and the number of rows.

    Raises:
        PlmscopeError: the two lists differ in length, or an input is missing or malformed.
    """
    alternate_dirs = list(alternate_dirs or [])
    if alternate_dirs and len(alternate_dirs) != len(enrichment_dirs):
        raise PlmscopeError(f"compare: {len(alternate_dirs)} alternate enrichment directories for {len(enrichment_dirs)} runs")
    if len(enrichment_dirs) != len(paper_analyses_dirs):
        raise PlmscopeError(
            f"compare: {len(enrichment_dirs)} enrichment directories but {len(paper_analyses_dirs)} paper-analysis "
            "directories; give one of each per model and dataset, in the same order"
        )
    output_csv = Path(output_csv)
    output_md = output_csv.with_suffix(".md") if output_md is None else Path(output_md)
    heads = read_paper_heads(paper_heads)
    blosum = read_paper_blosum(paper_blosum)
    results = []
    alternates = [Path(p) for p in alternate_dirs] or [None] * len(enrichment_dirs)
    for enrichment_dir, analyses_dir, alternate in zip(map(Path, enrichment_dirs), map(Path, paper_analyses_dirs), alternates):
        meta = _json(analyses_dir / "meta.json")
        blosum_info = _json(analyses_dir / "blosum.json")
        key = meta.get("model_key")
        if not key:
            raise located(analyses_dir / "meta.json", "lacks model_key")
        r = blosum_info.get("r")
        results.append(
            ModelResult(
                model=str(meta.get("label") or key),
                model_key=str(key),
                dataset=meta.get("dataset"),
                enrichment=read_enrichment_table(enrichment_dir / "enrichment.parquet"),
                blosum_r=None if r is None else float(r),
                **_semantics_tables(enrichment_dir, alternate),
            )
        )
    frame = build_comparison(results, heads, blosum, feature_datasets=feature_datasets)
    with atomic_path(output_csv) as tmp:
        frame.to_csv(tmp, index=False)
    probing = _probing_comparison(probing_dirs)
    if probing is not None:
        with atomic_path(output_csv.with_name("probing_comparison.csv")) as tmp:
            probing.to_csv(tmp, index=False)
    with atomic_path(output_md) as tmp:
        tmp.write_text(comparison_markdown(frame) + ("" if probing is None else "\n" + _probing_section(probing)))
    return {"csv": str(output_csv), "markdown": str(output_md), "rows": len(frame)}


def _probing_section(probing: pd.DataFrame) -> str:
    """The Markdown section of the probing comparison; one line when no probing output was given."""
    if probing.empty:
        return ("## Probes per layer\n\nNo probing output: no dataset was probed (probing.activate is false, or no "
                "dataset's plan runs probing: see results/plan/).\n")  # fmt: skip
    return probing_markdown(probing)


def _probing_comparison(probing_dirs: Sequence[str | Path] | None) -> pd.DataFrame | None:
    """:func:`probing_comparison` of probing outputs ``<model>/<dataset>`` (None when not asked for; an
    empty table for an empty list)."""
    if probing_dirs is None:
        return None
    results = []
    for d in map(Path, probing_dirs):
        if not (d / "probing.csv").is_file():
            raise located(d / "probing.csv", "file not found (run `plmscope probe` first)")
        gravity = d / "probing_gravity.csv"
        results.append((d.parent.name, d.name, pd.read_csv(d / "probing.csv"), pd.read_csv(gravity) if gravity.is_file() else None))
    return probing_comparison(results)


def _semantics_tables(enrichment_dir: Path, alternate: Path | None) -> dict[str, Any]:
    """``semantics`` of a run (its ``meta.json``; ``plmscope`` when unrecorded) and the alternate's table.

    Raises:
        PlmscopeError: the alternate ran under the same semantics or another model.
    """
    meta = read_enrichment_meta(enrichment_dir / "meta.json")
    semantics = check_semantics(meta.get("semantics") or "plmscope")
    if alternate is None:
        return {"semantics": semantics}
    other = read_enrichment_meta(alternate / "meta.json")
    if check_semantics(other.get("semantics") or "plmscope") == semantics:
        raise located(alternate / "meta.json", f"ran under {semantics!r} like {enrichment_dir}; expected the other semantics")
    if other.get("model") != meta.get("model"):
        raise located(alternate / "meta.json", f"model {other.get('model')!r} differs from {meta.get('model')!r} of {enrichment_dir}")
    return {"semantics": semantics, "alternate": read_enrichment_table(alternate / "enrichment.parquet")}


def _json(path: Path) -> dict:
    if not path.is_file():
        raise located(path, "file not found (run `plmscope paper` first)")
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise located(path, f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise located(path, "expected a JSON object")
    return data
