"""Enrichment figures: plotted matrices match the table; PNG/SVG files written all or none."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plmscope.analysis.enrichment import EnrichmentCounts, summarise
from plmscope.errors import PlmscopeError
from plmscope.runs.figures import run_figures
from plmscope.viz.enrichment_plots import (
    amino_acid_matrix,
    heatmap_matrix,
    layer_max,
    plot_heatmap,
    plot_top_heads,
)

FEATURES = ("contact", "aa_A", "aa_C")
LAYERS, HEADS = 3, 4


def _table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n_att = rng.integers(200, 2000, size=(len(FEATURES), LAYERS, HEADS))
    n_att[0, 1, 2] = 10  # masked head 2-3 for contact
    n_att[2, 2, :] = 0  # a fully masked layer for aa_C
    n_feat = (n_att * rng.uniform(0, 0.6, size=n_att.shape)).astype(np.int64)
    counts = EnrichmentCounts(FEATURES, n_att, n_feat, n_att.sum(axis=0))
    bg = pd.DataFrame({"feature": FEATURES, "n_eligible": [10_000] * 3, "n_feature": [300, 800, 150]})
    bg["background"] = bg["n_feature"] / bg["n_eligible"]
    return summarise(counts, bg, min_count=100)


@pytest.fixture
def enrichment_dir(tmp_path: Path) -> Path:
    out = tmp_path / "enrichment"
    out.mkdir()
    _table().to_parquet(out / "enrichment.parquet", index=False)
    (out / "meta.json").write_text(json.dumps({"model": "toy_model"}))
    return out


def test_heatmap_matrix_matches_table():
    table = _table()
    matrix = heatmap_matrix(table, "contact")
    assert matrix.shape == (LAYERS, HEADS)
    rows = table[table["feature"] == "contact"]
    for row in rows.itertuples():
        if row.masked:
            assert np.isnan(matrix[row.layer, row.head])
        else:
            assert matrix[row.layer, row.head] == row.proportion
    assert np.isnan(matrix[1, 2])
    fig, plotted = plot_heatmap(table, "contact")
    np.testing.assert_array_equal(plotted, matrix)
    image = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(image.filled(np.nan), 100 * matrix)  # percent, masked cells blank
    bars = [patch.get_width() for patch in fig.axes[1].patches]
    np.testing.assert_allclose(bars, 100 * layer_max(matrix))
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["1", "2", "3", "4"]


def test_layer_max_and_amino_acids():
    table = _table()
    aa = amino_acid_matrix(table)
    assert aa.index.tolist() == ["A", "C"] and aa.columns.tolist() == [1, 2, 3]
    np.testing.assert_allclose(aa.loc["A"].to_numpy(), np.nanmax(heatmap_matrix(table, "aa_A"), axis=1))
    assert np.isnan(aa.loc["C", 3])  # every head of layer 3 masked
    assert layer_max(np.array([[np.nan, 0.2], [np.nan, np.nan]])).tolist()[0] == 0.2


def test_top_heads_chart():
    table = _table()
    fig, top = plot_top_heads(table, "contact", top_k=5)
    expected = table[(table["feature"] == "contact") & ~table["masked"]].nlargest(5, "proportion")
    assert top["label"].tolist() == expected["label"].tolist()
    heights = [p.get_height() for p in fig.axes[0].patches]
    np.testing.assert_allclose(heights, 100 * expected["proportion"].to_numpy())
    dashed = [line for line in fig.axes[0].lines if line.get_linestyle() == "--"]
    assert len(dashed) == 1 and dashed[0].get_ydata()[0] == pytest.approx(3.0)


def test_run_figures_writes_png_and_svg(enrichment_dir, tmp_path):
    out = tmp_path / "figures"
    summary = run_figures(enrichment_dir, out, features=["contact", "aa_C"])
    stems = ("contact_heatmap", "contact_top_heads", "aa_C_heatmap", "aa_C_top_heads", "amino_acids_heatmap")
    names = {f"{stem}.{ext}" for stem in stems for ext in ("png", "svg")}
    assert {p.name for p in out.iterdir()} == names | {".plmscope-output"} and names == set(summary["files"])
    for name in names:
        data = (out / name).read_bytes()
        assert len(data) > 1000
        if name.endswith(".png"):
            assert data.startswith(b"\x89PNG\r\n\x1a\n")
        else:
            assert b"<svg" in data[:2000] and data.rstrip().endswith(b"</svg>")


def test_run_figures_default_features_and_errors(enrichment_dir, tmp_path):
    out = tmp_path / "figs"
    run_figures(enrichment_dir, out, features=["contact"])
    assert sorted(p.name for p in out.iterdir()) == [
        ".plmscope-output", "contact_heatmap.png", "contact_heatmap.svg", "contact_top_heads.png", "contact_top_heads.svg",
    ]  # fmt: skip
    with pytest.raises(PlmscopeError, match=r"enrichment\.parquet: no rows for feature\(s\) \['ptm'\]"):
        run_figures(enrichment_dir, tmp_path / "none", features=["ptm"])
    assert not (tmp_path / "none").exists()
    with pytest.raises(PlmscopeError, match=r"enrichment\.parquet: file not found"):
        run_figures(tmp_path / "missing", tmp_path / "none")
    (enrichment_dir / "enrichment.parquet").write_text("not parquet")
    with pytest.raises(PlmscopeError, match="not a readable Parquet table"):
        run_figures(enrichment_dir, tmp_path / "none")
    assert not (tmp_path / "none").exists()


def test_run_figures_skips_a_feature_no_protein_carries(tmp_path):
    """A feature with no annotated protein (background 0) gets no figure, only a one-line note."""
    table = _table()
    table.loc[table["feature"] == "aa_C", "background"] = np.nan
    src = tmp_path / "enrichment"
    src.mkdir()
    table.to_parquet(src / "enrichment.parquet", index=False)
    summary = run_figures(src, tmp_path / "figures")
    assert set(summary["skipped"]) == {"aa_C"}
    assert "no protein carries" in summary["skipped"]["aa_C"]
    names = {p.name for p in (tmp_path / "figures").iterdir()}
    assert "contact_heatmap.png" in names
    assert not any(name.startswith("aa_C") for name in names)
