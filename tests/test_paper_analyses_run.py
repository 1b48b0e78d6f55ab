"""The `paper` and `compare` stages: tables, figures and comparison files written atomically from enrichment output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plmscope.analysis.enrichment import EnrichmentCounts, summarise
from plmscope.analysis.features import AMINO_ACID_FEATURES
from plmscope.errors import PlmscopeError
from plmscope.runs.paper_analyses import run_comparison, run_paper_analyses
from plmscope.schemas import to_disk

REPO = Path(__file__).resolve().parents[1]
FEATURES = ("contact", "binding_site", "helix", *AMINO_ACID_FEATURES)
LAYERS, HEADS = 4, 3


def _write_enrichment(path: Path, *, model: str, contact_layer: int) -> Path:
    """An enrichment directory whose contact attention sits in ``contact_layer`` (0-based)."""
    rng = np.random.default_rng(contact_layer)
    n_att = rng.integers(300, 900, size=(len(FEATURES), LAYERS, HEADS))
    n_feat = (n_att * rng.uniform(0.0, 0.2, size=n_att.shape)).astype(np.int64)
    n_feat[0] = 0
    n_feat[0, contact_layer] = n_att[0, contact_layer] // 2
    counts = EnrichmentCounts(FEATURES, n_att, n_feat, n_att.sum(axis=0))
    bg = pd.DataFrame({"feature": FEATURES, "n_eligible": 50_000, "n_feature": 1000})
    bg["background"] = bg["n_feature"] / bg["n_eligible"]
    path.mkdir(parents=True)
    to_disk("enrichment", summarise(counts, bg, min_count=100)).to_parquet(path / "enrichment.parquet", index=False)
    (path / "meta.json").write_text(json.dumps({"model": model, "num_layers": LAYERS, "num_heads": HEADS}))
    return path


def test_paper_analyses_write_tables_and_figures(tmp_path):
    enrichment = _write_enrichment(tmp_path / "enrichment", model="Rostlab/prot_bert", contact_layer=2)
    out = tmp_path / "paper"
    summary = run_paper_analyses(enrichment, out, label="protbert", dataset="demo")
    assert summary["model_key"] == "prot_bert"  # resolved from the model named in meta.json
    assert summary["center_of_gravity"]["contact"] == pytest.approx(3.0)  # all contact attention in layer 3
    for name in ("layer_profiles", "layer_max", "layer_max_amino_acids", "blosum"):
        for fmt in ("png", "svg"):
            assert (out / f"{name}.{fmt}").stat().st_size > 1000
    gravity = pd.read_csv(out / "gravity.csv").set_index("feature")
    assert gravity.loc["contact", "center_of_gravity"] == pytest.approx(3.0)
    assert gravity.loc["contact", "peak_layer_number"] == 3
    profiles = pd.read_parquet(out / "layer_profiles.parquet")
    assert len(profiles) == len(FEATURES) * LAYERS
    top = pd.read_csv(out / "amino_acid_top_heads.csv")
    assert len(top) == 20 and top["amino_acid"].str.len().eq(1).all()
    similarity = pd.read_csv(out / "aa_similarity.csv", index_col=0)
    assert similarity.shape == (20, 20)
    blosum = json.loads((out / "blosum.json").read_text())
    assert blosum["n_heads"] == LAYERS * HEADS and blosum["n_pairs"] == 190 and -1 <= blosum["r"] <= 1
    meta = json.loads((out / "meta.json").read_text())
    assert (meta["label"], meta["model_key"], meta["dataset"]) == ("protbert", "prot_bert", "demo")
    svg = (out / "blosum.svg").read_text()
    assert "<dc:date>" not in svg  # reproducible SVG: no timestamp


def test_without_amino_acids_blosum_is_null_and_other_outputs_remain(tmp_path):
    enrichment = _write_enrichment(tmp_path / "enrichment", model="antiberty", contact_layer=0)
    table = pd.read_parquet(enrichment / "enrichment.parquet")
    table[~table["feature"].isin(AMINO_ACID_FEATURES)].to_parquet(enrichment / "enrichment.parquet", index=False)
    out = tmp_path / "paper"
    summary = run_paper_analyses(enrichment, out)
    assert summary["model_key"] == "antiberty" and summary["blosum_r"] is None
    assert json.loads((out / "blosum.json").read_text())["reason"] == "no amino-acid features"
    assert not (out / "blosum.png").exists() and (out / "layer_profiles.png").exists()


def test_missing_enrichment_leaves_nothing_behind(tmp_path):
    with pytest.raises(PlmscopeError, match="enrichment.parquet: file not found"):
        run_paper_analyses(tmp_path / "nope", tmp_path / "paper")
    assert not (tmp_path / "paper").exists()
    assert list(tmp_path.iterdir()) == []


def test_comparison_files(tmp_path):
    entries = []
    for model, source, layer in (("prot_bert", "Rostlab/prot_bert", 3), ("esm", "facebook/esm2_t6_8M_UR50D", 1)):
        enrichment = _write_enrichment(tmp_path / "enrichment" / model, model=source, contact_layer=layer)
        analyses = tmp_path / "paper" / model
        if model == "prot_bert":
            run_paper_analyses(enrichment, analyses, label=model, dataset="demo")
        else:  # what `plmscope paper` records when the BLOSUM62 comparison could not be made
            analyses.mkdir(parents=True)
            meta = {"label": model, "model_key": "esm2_t6_8M_UR50D", "dataset": "demo"}
            (analyses / "meta.json").write_text(json.dumps(meta))
            (analyses / "blosum.json").write_text(json.dumps({"r": None, "n_pairs": 0, "n_heads": 0}))
        entries.append((enrichment, analyses))
    csv, md = tmp_path / "out/comparison.csv", tmp_path / "out/comparison.md"
    summary = run_comparison([e for e, _ in entries], [a for _, a in entries], csv,
                             paper_heads=REPO / "resources/paper/vig2021_top_heads.csv",
                             paper_blosum=REPO / "resources/paper/vig2021_blosum.csv")  # fmt: skip
    # 3 paper features x 6 models (ours and the paper's others), plus helix for our two (their tables carry it)
    assert summary == {"csv": str(csv), "markdown": str(md), "rows": 3 * 6 + 2}
    frame = pd.read_csv(csv)
    ours = frame[frame["dataset"] == "demo"].set_index(["model", "feature"])
    assert ours.loc[("prot_bert", "contact"), "paper_head"] == "30-14"
    assert ours.loc[("prot_bert", "contact"), "our_head"].startswith("4-")
    assert ours.loc[("esm", "contact"), "model_key"] == "esm2_t6_8M_UR50D"
    assert np.isnan(ours.loc[("esm", "contact"), "paper_value_pct"])
    assert np.isnan(ours.loc[("esm", "contact"), "our_blosum_r"])
    assert isinstance(ours.loc[("prot_bert", "helix"), "our_head"], str)
    assert np.isnan(ours.loc[("prot_bert", "helix"), "paper_value_pct"])
    assert ours.loc[("prot_bert", "contact"), "our_blosum_r"] == pytest.approx(
        json.loads((tmp_path / "paper/prot_bert/blosum.json").read_text())["r"]
    )
    assert md.read_text().startswith("# Our results beside Vig et al. (2021)")


def test_comparison_needs_matching_lists(tmp_path):
    with pytest.raises(PlmscopeError, match="same order"):
        run_comparison([tmp_path / "a", tmp_path / "b"], [tmp_path / "c"], tmp_path / "x.csv")


def test_compare_probing_flag_without_dirs_writes_an_empty_probing_table(tmp_path, capsys):
    """The default run's rule always passes --probing (empty when no dataset was probed): the table is then
    written with its header only and the Markdown says why, so the rule's output exists."""
    from plmscope.analysis.comparison import PROBING_COMPARISON_COLUMNS
    from plmscope.cli import main

    enrichment = _write_enrichment(tmp_path / "enrichment/m/demo", model="antiberty", contact_layer=1)
    analyses = tmp_path / "paper/m/demo"
    run_paper_analyses(enrichment, analyses, label="m", dataset="demo")
    common = ["compare", "--enrichment", str(enrichment), "--paper-analyses", str(analyses),
              "--paper-heads", str(REPO / "resources/paper/vig2021_top_heads.csv"),
              "--paper-blosum", str(REPO / "resources/paper/vig2021_blosum.csv")]  # fmt: skip
    out = tmp_path / "out"
    assert main([*common, "--probing", "-o", str(out / "comparison.csv")]) == 0
    probing = pd.read_csv(out / "probing_comparison.csv")
    assert list(probing.columns) == list(PROBING_COMPARISON_COLUMNS) and probing.empty
    assert "No probing output: no dataset was probed" in (out / "comparison.md").read_text()

    probe = tmp_path / "probing/m/demo"
    probe.mkdir(parents=True)
    pd.DataFrame({"semantics": "plmscope", "probe": "embedding", "task": "helix", "layer": [0, 1, 2],
                  "metric": "f1", "score": [0.2, 0.7, 0.4]}).to_csv(probe / "probing.csv", index=False)  # fmt: skip
    assert main([*common, "--probing", str(probe), "-o", str(out / "comparison.csv")]) == 0
    probing = pd.read_csv(out / "probing_comparison.csv")
    assert probing[["model", "dataset", "task", "best_layer"]].values.tolist() == [["m", "demo", "helix", 1]]
    assert "## Probes per layer (provis" in (out / "comparison.md").read_text()

    other = tmp_path / "other"
    assert main([*common, "-o", str(other / "comparison.csv")]) == 0  # no --probing: no probing table
    assert not (other / "probing_comparison.csv").exists()
