"""Our top heads and BLOSUM62 correlations beside the published values of Vig et al. (2021)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from plmscope.errors import located

log = logging.getLogger(__name__)

PAPER_MODELS: dict[str, str] = {
    "tape_bert": "TapeBert",
    "prot_albert": "ProtAlbert",
    "prot_bert": "ProtBert",
    "prot_bert_bfd": "ProtBert-BFD",
    "prot_xlnet": "ProtXLNet",
}
"""Keys of the paper's models -> the names the paper uses."""

PAPER_SOURCES: dict[str, str] = {
    "Rostlab/prot_bert": "prot_bert",
    "Rostlab/prot_bert_bfd": "prot_bert_bfd",
    "Rostlab/prot_albert": "prot_albert",
    "Rostlab/prot_xlnet": "prot_xlnet",
}
"""Hugging Face names of the paper's models -> their keys (TapeBert has no transformers checkpoint)."""

COMPARED_FEATURES: tuple[str, ...] = ("contact", "binding_site", "ptm")
"""Features whose top head the paper reports for every model."""

PER_LAYER_FEATURES: tuple[str, ...] = ("helix", "strand", "turn_bend")
"""Secondary-structure features: the paper reports attention to them per layer only (Fig. 4), no top
head. The comparison lists our top head where our enrichment carries the feature (paper columns
empty); the per-layer profile and center of gravity are in the ``paper`` output (``gravity.csv``)."""

REPORTED_FEATURES: tuple[str, ...] = COMPARED_FEATURES + PER_LAYER_FEATURES
"""Features of the comparison table: the paper's top-head features, then the per-layer-only ones."""

PAPER_HEAD_COLUMNS: tuple[str, ...] = ("model_key", "feature", "paper_head", "paper_value_pct", "paper_background_pct")
"""Required columns of the paper's top-head table (``resources/paper/vig2021_top_heads.csv``)."""

PAPER_BLOSUM_COLUMNS: tuple[str, ...] = ("model_key", "paper_blosum_r")
"""Required columns of the paper's BLOSUM table (``resources/paper/vig2021_blosum.csv``)."""

COMPARISON_COLUMNS: tuple[str, ...] = (
    "model", "dataset", "model_key", "feature", "our_head", "our_value_pct", "our_ci_low_pct", "our_ci_high_pct",
    "our_background_pct", "our_heads_tested", "paper_head", "paper_value_pct", "paper_background_pct",
    "same_head", "our_blosum_r", "blosum_dataset", "paper_blosum_r", "semantics",
    "provis_head", "provis_value_pct", "provis_background_pct", "plmscope_head", "plmscope_value_pct",
    "plmscope_background_pct",
)  # fmt: skip
"""Columns of :func:`build_comparison`: the ``our_*`` columns come from the run's own semantics
(``semantics``); ``provis_*`` / ``plmscope_*`` give our top head under each semantics (NaN when the
run did not compute that semantics)."""

SEMANTICS_NAMES: tuple[str, ...] = ("provis", "plmscope")

SEMANTICS_DIFFERENCES: tuple[tuple[str, str], ...] = (
    ("attention kept", "provis: weights > theta; plmscope: weights >= theta"),
    ("value", "provis: sum of kept weights on the feature / sum of kept weights; plmscope: the same with counts"),
    ("contact denominator", "provis: every kept pair of a chain with structure; plmscope: pairs with both coordinates"),
    ("contact background", "provis: |i - j| >= 6 pairs of the first 512 residues of the whole split; "
     "plmscope: all valid pairs of the analysed residues"),
    ("site / PTM background", "provis: first 511 residues of the whole split; plmscope: the 510 analysed residues"),
    ("heads scored", "provis: weight sum > 100; plmscope: >= 100 kept weights"),
    ("interval", "provis: normal interval from truncated sums at alpha / m; plmscope: Wilson at alpha / m"),
    ("ties", "provis: the later layer, then head, wins; plmscope: the earlier"),
    ("sample", "provis: torch.randperm(n)[:5000] after seed 123, its order; plmscope: numpy draw, input order"),
    ("precision", "provis: float32; plmscope: float16 on CUDA by default"),
)  # fmt: skip
"""One line per definition where the two semantics differ (README "Semantics: provis vs plmscope")."""


@dataclass(frozen=True)
class ModelResult:
    """Our results for one model on one dataset.

    Attributes:
        model: our name for the model (config name).
        model_key: key matched against the paper tables (:data:`PAPER_MODELS` for the paper's models).
        dataset: dataset name, or None.
        enrichment: the enrichment table (:func:`plmscope.analysis.enrichment.summarise`).
        blosum_r: our attention-similarity vs BLOSUM62 correlation, or None when not computed.
        semantics: the semantics ``enrichment`` was computed under (None: not recorded).
        alternate: the enrichment table of the same run under the other semantics, or None.
    """

    model: str
    model_key: str
    dataset: str | None
    enrichment: pd.DataFrame
    blosum_r: float | None = None
    semantics: str | None = None
    alternate: pd.DataFrame | None = None

    def by_semantics(self) -> dict[str, pd.DataFrame]:
        """Enrichment tables by semantics name (the alternate is the other one)."""
        out = {}
        if self.semantics in SEMANTICS_NAMES:
            out[self.semantics] = self.enrichment
            if self.alternate is not None:
                out[next(s for s in SEMANTICS_NAMES if s != self.semantics)] = self.alternate
        return out


def resolve_model_key(source: str) -> str:
    """The comparison key of a model: the paper's key for its models, else the last part of the name.

    ``"Rostlab/prot_bert"`` -> ``"prot_bert"``; a paper key is returned as it is;
    ``"facebook/esm2_t6_8M_UR50D"`` -> ``"esm2_t6_8M_UR50D"``; ``"/models/x/"`` -> ``"x"``.
    """
    text = str(source).strip()
    if text in PAPER_SOURCES:
        return PAPER_SOURCES[text]
    if text in PAPER_MODELS:
        return text
    parts = [p for p in text.replace("\\", "/").split("/") if p]
    return parts[-1] if parts else text


def _read_csv(path: str | Path, required: Sequence[str]) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise located(path, "file not found")
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise located(path, f"not a readable CSV table ({exc})") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise located(path, f"lacks column(s) {missing}")
    return frame


def read_paper_heads(path: str | Path) -> pd.DataFrame:
    """Read and check the paper's top heads (one row per model key and feature).

    Raises:
        PlmscopeError: missing columns, a duplicated (model_key, feature), a head not written
            "layer-head", or a value outside [0, 100].
    """
    frame = _read_csv(path, PAPER_HEAD_COLUMNS)
    duplicated = frame.duplicated(["model_key", "feature"])
    if duplicated.any():
        row = frame[duplicated].iloc[0]
        raise located(path, f"duplicate row for model {row['model_key']!r} and feature {row['feature']!r}")
    heads = frame["paper_head"].astype(str)
    bad = ~heads.str.fullmatch(r"[1-9][0-9]*-[1-9][0-9]*")
    if bad.any():
        raise located(path, f"paper_head {heads[bad].iloc[0]!r} is not 'layer-head' (1-based)")
    for column in ("paper_value_pct", "paper_background_pct"):
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.isna().any() or ((values < 0) | (values > 100)).any():
            raise located(path, f"{column} must be percentages in [0, 100]")
        frame[column] = values.astype(float)
    frame["paper_head"] = heads
    return frame


def read_paper_blosum(path: str | Path) -> pd.DataFrame:
    """Read and check the paper's BLOSUM62 correlations (one row per model key).

    Raises:
        PlmscopeError: missing columns, a duplicated model key, or an r outside [-1, 1].
    """
    frame = _read_csv(path, PAPER_BLOSUM_COLUMNS)
    if frame["model_key"].duplicated().any():
        raise located(path, f"duplicate model_key {frame['model_key'][frame['model_key'].duplicated()].iloc[0]!r}")
    values = pd.to_numeric(frame["paper_blosum_r"], errors="coerce")
    if values.isna().any() or (values.abs() > 1).any():
        raise located(path, "paper_blosum_r must be correlations in [-1, 1]")
    frame["paper_blosum_r"] = values.astype(float)
    return frame


def _our_top(table: pd.DataFrame, feature: str) -> dict:
    """Top head of ``feature`` in an enrichment table (NaN fields when absent or fully masked)."""
    rows = table[table["feature"] == feature]
    out = {
        "our_head": None,
        "our_value_pct": np.nan,
        "our_ci_low_pct": np.nan,
        "our_ci_high_pct": np.nan,
        "our_background_pct": np.nan,
        "our_heads_tested": 0,
    }
    if rows.empty:
        return out
    background = rows["background"].to_numpy(dtype=float, na_value=np.nan)
    out["our_background_pct"] = 100 * float(background[0])
    tested = rows[~rows["masked"].astype(bool)]
    out["our_heads_tested"] = int(len(tested))
    if tested.empty:
        return out
    best = tested.sort_values(["proportion", "layer", "head"], ascending=[False, True, True]).iloc[0]
    out.update(
        our_head=str(best["label"]),
        our_value_pct=100 * float(best["proportion"]),
        our_ci_low_pct=100 * float(best["ci_low"]),
        our_ci_high_pct=100 * float(best["ci_high"]),
    )
    return out


def build_comparison(
    results: Sequence[ModelResult],
    paper_heads: pd.DataFrame,
    paper_blosum: pd.DataFrame,
    *,
    features: Sequence[str] = REPORTED_FEATURES,
    feature_datasets: Mapping[str, str] | None = None,
    include_paper_only: bool = True,
) -> pd.DataFrame:
    """Per model and feature, our top head beside the paper's.

    Args:
        results: our results, one per (model, dataset), in the order to report.
        paper_heads: from :func:`read_paper_heads`.
        paper_blosum: from :func:`read_paper_blosum`.
        features: features compared; those outside :data:`COMPARED_FEATURES` (the paper has no top
            head for them, :data:`PER_LAYER_FEATURES`) get a row only where our enrichment carries them.
        feature_datasets: feature -> the dataset it is measured on (the paper measures contacts on
            ProteinNet, binding sites and PTMs on their own sets); key ``"amino_acids"`` names the
            dataset of the BLOSUM62 correlation. Given, each model gets one row per feature, from
            that dataset (features without an entry keep every dataset); None keeps one row per
            (model, dataset, feature).
        include_paper_only: also list the paper's models we have no result for (our columns NaN),
            so the table always shows the published reference.

    Returns:
        A DataFrame with :data:`COMPARISON_COLUMNS`, one row per (model, dataset, feature);
        percentages in percent; ``same_head`` is True/False when both heads are known, else NA;
        models without a paper value (e.g. ESM-2, AntiBERTy) have NaN paper columns.
    """
    heads = paper_heads.set_index(["model_key", "feature"])
    blosum = paper_blosum.set_index("model_key")["paper_blosum_r"]
    rows = []
    entries = [(r.model, r.dataset, r.model_key, r.enrichment, r.blosum_r, r) for r in results]
    if include_paper_only:
        ours = {r.model_key for r in results}
        known = list(dict.fromkeys([*paper_heads["model_key"], *paper_blosum["model_key"]]))
        entries += [(PAPER_MODELS.get(k, k), None, k, None, None, None) for k in known if k not in ours]
    _check_feature_datasets(results, features, feature_datasets)
    for model, dataset, key, table, blosum_r, result in entries:
        for feature in features:
            if feature not in COMPARED_FEATURES and not _carries(table, feature):
                continue  # no paper top head, and none of ours: nothing to show
            row = {"model": model, "dataset": dataset, "model_key": key, "feature": feature}
            if table is None:
                row.update(_our_top(pd.DataFrame(columns=["feature"]), feature))
            else:
                row.update(_our_top(table, feature))
            if (key, feature) in heads.index:
                paper = heads.loc[(key, feature)]
                row.update(
                    paper_head=str(paper["paper_head"]),
                    paper_value_pct=float(paper["paper_value_pct"]),
                    paper_background_pct=float(paper["paper_background_pct"]),
                )
            else:
                row.update(paper_head=None, paper_value_pct=np.nan, paper_background_pct=np.nan)
            both = row["our_head"] is not None and row["paper_head"] is not None
            row["same_head"] = (row["our_head"] == row["paper_head"]) if both else pd.NA
            row["our_blosum_r"] = np.nan if blosum_r is None else float(blosum_r)
            row["blosum_dataset"] = dataset
            row["paper_blosum_r"] = float(blosum[key]) if key in blosum.index else np.nan
            row.update(_by_semantics(result, feature))
            rows.append(row)
    frame = pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))
    if feature_datasets:
        frame = _pick_datasets(frame, results, feature_datasets)
    return frame.astype({"same_head": "boolean", "our_heads_tested": "int64"})


def _carries(table: pd.DataFrame | None, feature: str) -> bool:
    """True when an enrichment table has ``feature`` with a background (its proteins are annotated for it)."""
    if table is None:
        return False
    rows = table[table["feature"] == feature]
    return bool(len(rows)) and bool(np.isfinite(rows["background"].to_numpy(dtype=float, na_value=np.nan)).any())


def _check_feature_datasets(
    results: Sequence[ModelResult], features: Sequence[str], feature_datasets: Mapping[str, str] | None
) -> None:
    """Warn once for each ``feature_datasets`` entry the table cannot use, instead of ignoring it silently.

    An entry is unused when its feature is not compared, or when no result measured on its dataset
    carries the feature (e.g. a secondary-structure dataset whose table has no DSSP states).
    """
    for feature, dataset in (feature_datasets or {}).items():
        if feature == "amino_acids":
            continue
        if feature not in features:
            log.warning("feature_datasets %s -> %s: %s is not a feature of the comparison (%s); not compared",
                        feature, dataset, feature, ", ".join(features))  # fmt: skip
        elif feature not in COMPARED_FEATURES and not any(
            r.dataset == dataset and _carries(r.enrichment, feature) for r in results
        ):
            log.warning("feature_datasets %s -> %s: no enrichment of dataset %s carries %s (no annotated protein, or "
                        "the dataset is not among the compared runs); not compared", feature, dataset, dataset,
                        feature)  # fmt: skip


def _by_semantics(result: ModelResult | None, feature: str) -> dict:
    """``semantics`` and the ``provis_*`` / ``plmscope_*`` top-head columns of one row."""
    tables = {} if result is None else result.by_semantics()
    row: dict = {"semantics": None if result is None else result.semantics}
    for name in SEMANTICS_NAMES:
        top = _our_top(tables[name], feature) if name in tables else _our_top(pd.DataFrame(columns=["feature"]), feature)
        row.update({f"{name}_head": top["our_head"], f"{name}_value_pct": top["our_value_pct"],
                    f"{name}_background_pct": top["our_background_pct"]})  # fmt: skip
    return row


def _pick_datasets(
    frame: pd.DataFrame, results: Sequence[ModelResult], feature_datasets: Mapping[str, str]
) -> pd.DataFrame:
    """Keep each model's rows from the dataset its feature is measured on; take r from the amino-acid dataset."""
    wanted = frame["feature"].map(lambda f: feature_datasets.get(f))
    keep = frame["dataset"].isna() | wanted.isna() | (frame["dataset"] == wanted)
    frame = frame[keep].copy()
    source = feature_datasets.get("amino_acids")
    if source is not None:
        r_by_model = {res.model: res.blosum_r for res in results if res.dataset == source}
        ours = frame["dataset"].notna()
        frame.loc[ours, "our_blosum_r"] = [
            np.nan if r_by_model.get(m) is None else float(r_by_model[m]) for m in frame.loc[ours, "model"]
        ]
        frame.loc[ours, "blosum_dataset"] = source
    return frame.reset_index(drop=True)


def _fmt(value, digits: int = 1) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _per_layer_note(frame: pd.DataFrame) -> list[str]:
    """Why the secondary-structure rows have no paper value (when the table has such rows)."""
    shown = [f for f in PER_LAYER_FEATURES if (frame["feature"] == f).any()]
    if not shown:
        return []
    return [f"{', '.join(shown)}: the paper reports attention to secondary structure per layer only (Fig. 4), no "
            "top head, so the paper columns are empty; our per-layer profile and center of gravity are in "
            "`paper_analyses/<model>/<dataset>/gravity.csv`.", ""]  # fmt: skip


def _semantics_notes(frame: pd.DataFrame) -> list[str]:
    """The semantics section: which columns are empty and why, and one line per definition that differs."""
    lines = ["## Semantics: provis (the authors' code) vs plmscope (corrected)", ""]
    ours = frame[frame["dataset"].notna()]
    for name in SEMANTICS_NAMES:
        if len(ours) and ours[f"{name}_head"].isna().all() and not (ours["semantics"] == name).any():
            lines.append(f"- The *ours, {name} semantics* column is empty: this run computed only "
                         f"{', '.join(sorted(set(ours['semantics'].dropna()))) or 'an unrecorded semantics'} "
                         "(the `paper` target computes both).")  # fmt: skip
    lines += [f"- **{what}**: {how}" for what, how in SEMANTICS_DIFFERENCES]
    return [*lines, ""]


def comparison_markdown(frame: pd.DataFrame) -> str:
    """Two Markdown tables: top heads per feature, and BLOSUM62 correlations per model.

    Args:
        frame: from :func:`build_comparison`.
    """
    head_rows = []
    for r in frame.itertuples(index=False):
        ours = "–"
        if not pd.isna(r.our_head):
            ours = f"{r.our_head}: {_fmt(r.our_value_pct)}% [{_fmt(r.our_ci_low_pct)}, {_fmt(r.our_ci_high_pct)}]"
        paper = "–" if pd.isna(r.paper_head) else f"{r.paper_head}: {_fmt(r.paper_value_pct)}%"
        by_sem = [
            "–" if pd.isna(getattr(r, f"{n}_head")) else
            f"{getattr(r, f'{n}_head')}: {_fmt(getattr(r, f'{n}_value_pct'))}% (bg {_fmt(getattr(r, f'{n}_background_pct'), 2)})"
            for n in SEMANTICS_NAMES
        ]  # fmt: skip
        head_rows.append(
            [
                str(r.model), _fmt(r.dataset), str(r.feature), ours, _fmt(r.our_background_pct, 2),
                paper, _fmt(r.paper_background_pct, 2), _fmt(r.same_head), _fmt(r.semantics), *by_sem,
            ]
        )  # fmt: skip
    blosum = frame.drop_duplicates(["model", "blosum_dataset", "model_key"])
    blosum_rows = [
        [str(r.model), _fmt(r.blosum_dataset), str(r.model_key), _fmt(r.our_blosum_r, 2), _fmt(r.paper_blosum_r, 2)]
        for r in blosum.itertuples(index=False)
    ]
    parts = [
        "# Our results beside Vig et al. (2021)",
        "",
        "## Top head per feature",
        "",
        "Head = layer-head (1-based); value = % of the head's attention weights >= theta on the feature, "
        "with its Bonferroni-corrected confidence interval; background = % of eligible pairs or residues "
        "with the feature.",
        "",
        _markdown_table(
            ["model", "dataset", "feature", "our top head", "our background %", "paper top head",
             "paper background %", "same head", "our semantics", "ours, provis semantics", "ours, plmscope semantics"],
            head_rows,
        ),  # fmt: skip
        "",
        *_per_layer_note(frame),
        *_semantics_notes(frame),
        "## Attention similarity of amino acids vs BLOSUM62 (Pearson r)",
        "",
        _markdown_table(["model", "dataset", "model key", "our r", "paper r"], blosum_rows),
        "",
    ]
    return "\n".join(parts)


PROBING_COMPARISON_COLUMNS: tuple[str, ...] = (
    "model", "dataset", "semantics", "probe", "task", "metric", "best_layer", "best_value", "layers_probed",
    "center_of_gravity_0based",
)  # fmt: skip
"""Columns of :func:`probing_comparison`: ``best_layer`` is a 1-based transformer-layer number under
both semantics (0 = the embedding layer, probed by plmscope only); ``layers_probed`` says which;
``center_of_gravity_0based`` is provis's 0-based gravity (NaN for plmscope rows)."""


def probing_comparison(results: Sequence[tuple[str, str | None, pd.DataFrame, pd.DataFrame | None]]) -> pd.DataFrame:
    """Best layer of every probe and task, per model, dataset and semantics (provis and plmscope side by side).

    Args:
        results: ``(model, dataset, probing table, gravity table or None)`` per probing output; the
            table's ``semantics`` column labels the rows (tables without it are plmscope's).

    Returns:
        A DataFrame with :data:`PROBING_COMPARISON_COLUMNS`, sorted by model, dataset, task, probe, semantics.
    """
    rows = []
    for model, dataset, table, gravity in results:
        table = table if "semantics" in table.columns else table.assign(semantics="plmscope")
        g = {} if gravity is None else {(r.probe, r.task): r.center_of_gravity_0based for r in gravity.itertuples()}
        for (semantics, probe, task), part in table.groupby(["semantics", "probe", "task"], sort=False):
            layers = part["layer"].astype(int)
            scored = part.dropna(subset=["score"])
            best = scored.loc[scored["score"].idxmax()] if not scored.empty else None
            rows.append({
                "model": model, "dataset": dataset, "semantics": semantics, "probe": probe, "task": task,
                "metric": part["metric"].iloc[0], "best_layer": None if best is None else int(best["layer"]),
                "best_value": np.nan if best is None else float(best["score"]),
                "layers_probed": f"{layers.min()}..{layers.max()}", "center_of_gravity_0based": g.get((probe, task), np.nan),
            })  # fmt: skip
    frame = pd.DataFrame(rows, columns=list(PROBING_COMPARISON_COLUMNS)).astype({"best_layer": "Int64"})
    return frame.sort_values(["model", "dataset", "task", "probe", "semantics"], kind="stable").reset_index(drop=True)


def probing_markdown(frame: pd.DataFrame) -> str:
    """Markdown table of :func:`probing_comparison`, one line per model, dataset, task, probe and semantics."""
    rows = [
        [str(r.model), _fmt(r.dataset), str(r.task), str(r.probe), str(r.semantics), str(r.metric), _fmt(r.best_layer),
         _fmt(r.best_value, 3), str(r.layers_probed), _fmt(r.center_of_gravity_0based, 2)]
        for r in frame.itertuples(index=False)
    ]  # fmt: skip
    return "\n".join([
        "## Probes per layer (provis: the authors' probes; plmscope: the corrected ones)",
        "",
        "Layer = 1-based transformer layer (0 = embedding layer, plmscope only); gravity = provis's 0-based index.",
        "",
        _markdown_table(["model", "dataset", "task", "probe", "semantics", "metric", "best layer", "best value",
                         "layers probed", "gravity (0-based)"], rows),  # fmt: skip
        "",
    ])  # fmt: skip
