"""Figure fixes of issue #12: each test fails if its bug comes back (checked on the matplotlib objects)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

from plmscope.analysis.enrichment import EnrichmentCounts, summarise
from plmscope.analysis.features import AMINO_ACID_FEATURES
from plmscope.errors import PlmscopeError
from plmscope.viz.contact_plots import plot_contact_map, plot_contact_probability_map, plot_precision_by_range
from plmscope.viz.enrichment_plots import (
    MASKED_LABEL,
    NothingToDraw,
    enrichment_figures,
    plot_amino_acids,
    plot_heatmap,
    plot_top_heads,
    skip_reason,
)
from plmscope.viz.epistasis_plots import plot_energy_by_order, plot_sparsity_ruggedness
from plmscope.viz.paper_plots import plot_layer_max
from plmscope.viz.robustness_plots import plot_null_models, plot_threshold_sweep

FEATURES = ("contact", "aa_A", "aa_C", "ptm", "binding_site")
LAYERS, HEADS = 3, 4


def enrichment_table() -> pd.DataFrame:
    """contact (one masked head), aa_A, aa_C (a masked layer), ptm (no annotated protein), binding_site (all masked)."""
    rng = np.random.default_rng(0)
    n_att = rng.integers(200, 2000, size=(len(FEATURES), LAYERS, HEADS))
    n_att[0, 1, 2] = 10
    n_att[2, 2, :] = 0
    n_att[4] = 50  # every head below min_count
    n_feat = (n_att * rng.uniform(0, 0.6, size=n_att.shape)).astype(np.int64)
    n_feat[3] = 0
    counts = EnrichmentCounts(FEATURES, n_att, n_feat, n_att.sum(axis=0))
    bg = pd.DataFrame({"feature": FEATURES, "n_eligible": [10_000] * 5, "n_feature": [300, 800, 150, 0, 200]})
    bg["background"] = bg["n_feature"] / bg["n_eligible"]
    return summarise(counts, bg, min_count=100)


def tick_texts(axis) -> list[str]:
    return [t.get_text() for t in axis.get_ticklabels()]


def legend_texts(fig: Figure) -> list[str]:
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    return [t.get_text() for legend in legends for t in legend.get_texts()]


def drawn_labels(fig: Figure) -> set[str]:
    """Labels of artists actually drawn with data (lines with finite points, bars with patches)."""
    out = set()
    for ax in fig.axes:
        for line in ax.lines:
            if np.isfinite(np.asarray(line.get_ydata(), dtype=float)).any():
                out.add(line.get_label())
        for container in ax.containers:
            if isinstance(container, BarContainer) and len(container.patches):
                out.add(container.get_label())
    return {label for label in out if not label.startswith("_")}


# ---------------------------------------------------------------- enrichment


def test_all_masked_and_unannotated_features_get_a_note_not_a_figure():
    table = enrichment_table()
    assert skip_reason(table, "contact") is None
    assert "no protein carries this annotation" in skip_reason(table, "ptm")
    assert "every head is masked" in skip_reason(table, "binding_site")
    for feature in ("ptm", "binding_site"):
        with pytest.raises(NothingToDraw, match=feature):
            plot_heatmap(table, feature)
        with pytest.raises(NothingToDraw):
            plot_top_heads(table, feature)
    figures, skipped = enrichment_figures(table, FEATURES, title_prefix="toy: ")
    assert set(skipped) == {"ptm", "binding_site"} and all("\n" not in note for note in skipped.values())
    assert [name for name, _ in figures] == [
        "contact_heatmap", "contact_top_heads", "aa_A_heatmap", "aa_A_top_heads", "aa_C_heatmap", "aa_C_top_heads",
        "amino_acids_heatmap",
    ]  # fmt: skip


def test_heatmaps_have_a_legend_for_the_hatch_and_1_based_ticks():
    table = enrichment_table()
    fig, matrix = plot_heatmap(table, "contact")
    assert np.isnan(matrix).any() and MASKED_LABEL in legend_texts(fig)
    assert tick_texts(fig.axes[0].xaxis)[0] == "1" and tick_texts(fig.axes[0].yaxis)[0] == "1"
    fig, _ = plot_heatmap(table, "aa_A")  # nothing masked: no hatch, no legend entry for it
    assert MASKED_LABEL not in legend_texts(fig)
    fig, _ = plot_amino_acids(table[table["feature"].isin(["aa_A", "aa_C"])])
    assert MASKED_LABEL in legend_texts(fig)
    assert tick_texts(fig.axes[0].xaxis)[0] == "1"


def test_top_heads_are_labelled_1_based_in_percent():
    table = enrichment_table()
    fig, top = plot_top_heads(table, "contact", top_k=4)
    assert tick_texts(fig.axes[0].xaxis) == [f"{l + 1}-{h + 1}" for l, h in zip(top["layer"], top["head"])]
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert all(0 <= h <= 100 for h in heights) and max(heights) > 1  # percent, not fractions
    assert set(legend_texts(fig)) <= drawn_labels(fig)


# ---------------------------------------------------------------- robustness


def sweep_table() -> pd.DataFrame:
    rows = []
    for condition in ("real", "random_weights", "shuffled"):
        for threshold in (0.1, 0.3, 0.5):
            for feature, (layer, head) in (("contact", (2, 3)), ("binding_site", (0, 1))):
                proportion = np.nan if condition == "random_weights" else 0.1 + 0.2 * threshold
                rows.append({"condition": condition, "threshold": threshold, "feature": feature, "rank": 1,
                             "layer": layer, "head": head, "label": f"{layer + 1}-{head + 1}",
                             "proportion": proportion, "background": 0.05})  # fmt: skip
    return pd.DataFrame(rows)


def test_threshold_sweep_titles_the_right_head_and_legends_only_drawn_series():
    fig = plot_threshold_sweep(sweep_table())
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == ["contact (head 3-4)", "binding_site (head 1-2)"]
    legend = legend_texts(fig)
    assert set(legend) == drawn_labels(fig) and "random weights" not in " ".join(legend)
    notes = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert notes == ["random weights: no weight >= threshold"] * 2  # said in the panel instead
    for ax in fig.axes[:2]:
        assert ax.get_ylabel() == "% attention"
        data = np.concatenate([np.asarray(line.get_ydata(), dtype=float) for line in ax.lines])
        assert np.nanmax(data) == pytest.approx(100 * (0.1 + 0.2 * 0.5))  # percent


def test_null_models_in_percent_with_1_based_heads_and_honest_legend():
    rows = []
    for rank, (layer, head) in enumerate([(2, 3), (0, 0)], start=1):
        row = {"feature": "contact", "rank": rank, "layer": layer, "head": head, "label": f"{layer + 1}-{head + 1}",
               "background": 0.05}  # fmt: skip
        for condition, p in (("real", 0.3), ("random_weights", np.nan), ("shuffled", 0.1)):
            row |= {f"proportion_{condition}": p, f"ci_low_{condition}": p - 0.01, f"ci_high_{condition}": p + 0.01}
        rows.append(row)
    fig = plot_null_models(pd.DataFrame(rows))
    ax = fig.axes[0]
    assert tick_texts(ax.xaxis) == ["3-4", "1-1"]
    heights = sorted(p.get_height() for p in ax.patches)
    assert heights == pytest.approx([10, 10, 30, 30])
    assert set(legend_texts(fig)) == drawn_labels(fig) == {"pretrained", "shuffled sequences", "background"}
    assert [t.get_text() for t in ax.texts] == ["random weights: no weight >= threshold"]


# ---------------------------------------------------------------- epistasis


def test_sparsity_ruggedness_labels_do_not_overlap():
    rows = []
    close = {"paratope": (1.30, 0.012), "CDR3": (1.31, 0.0121), "CDRH3_core": (1.305, 0.0119),
             "framework": (1.6, 0.004), "random": (1.6, 0.004)}  # fmt: skip
    for site_set, (r, s5) in close.items():
        for method, d in (("qsft", 0.0), ("lasso", 0.002)):
            rows.append({"site_set": site_set, "method": method, "ruggedness": r + d, "s5": s5 + d / 10})
    fig = plot_sparsity_ruggedness(pd.DataFrame(rows))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = fig.axes[0].texts
    assert sorted(t.get_text() for t in texts) == ["CDR3", "CDRH3_core", "framework, random", "paratope"]
    boxes = [t.get_window_extent(renderer) for t in texts]
    assert not any(a.overlaps(b) for n, a in enumerate(boxes) for b in boxes[n + 1 :])
    y = np.concatenate([c.get_offsets()[:, 1] for c in fig.axes[0].collections])
    assert y.max() == pytest.approx(100 * (0.0121 + 0.0002))  # percent


def test_energy_by_order_in_percent():
    energy = pd.DataFrame({"site_set": "a", "method": "qsft", "interaction_order": [1, 2], "fraction": [0.7, 0.3]})
    fig = plot_energy_by_order(energy)
    assert sorted(p.get_height() for p in fig.axes[0].patches) == pytest.approx([30, 70])
    assert "%" in fig.axes[0].get_ylabel()


# ---------------------------------------------------------------- paper


def test_twenty_amino_acid_lines_are_faceted():
    rows = [{"feature": f, "layer_number": layer, "max_proportion": 0.01 * (k + layer)}
            for k, f in enumerate(AMINO_ACID_FEATURES) for layer in range(1, 7)]  # fmt: skip
    fig = plot_layer_max(pd.DataFrame(rows), AMINO_ACID_FEATURES)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 20 and all(len(ax.lines) == 1 for ax in visible)
    assert [ax.get_title() for ax in visible] == [f[-1] for f in AMINO_ACID_FEATURES]
    assert visible[0].get_xticks()[0] == 1 and visible[0].get_xlim()[0] == 0.5  # layers from 1
    assert visible[-1].lines[0].get_ydata().max() == pytest.approx(100 * 0.01 * (19 + 6))
    few = plot_layer_max(pd.DataFrame(rows), AMINO_ACID_FEATURES[:3])
    assert len(few.axes) == 1 and len(few.axes[0].lines) == 3


# ---------------------------------------------------------------- contacts


def test_precision_in_percent_and_contact_map_1_based():
    summary = pd.DataFrame({"method": ["regression", "regression", "random"], "separation_range": ["short", "long", "long"],
                            "k": ["L", "L", "L"], "precision": [0.5, 0.25, np.nan]})  # fmt: skip
    fig = plot_precision_by_range(summary)
    heights = sorted(p.get_height() for ax in fig.axes for p in ax.patches)
    assert heights == pytest.approx([25, 50]) and "%" in fig.axes[0].get_ylabel()
    assert legend_texts(fig) == ["regression"]  # random has no precision: not in the legend
    i, j = np.array([0, 0, 1]), np.array([5, 7, 9])
    fig, tops = plot_contact_map(10, i, j, np.array([1, 0, 1]), {"m": np.array([0.9, 0.1, 0.5])}, k="L")
    ax = fig.axes[0]
    assert ax.get_xlim() == (0.5, 10.5)
    true = ax.collections[0].get_offsets()
    assert sorted(map(tuple, true.tolist())) == [(6.0, 1.0), (10.0, 2.0)]  # (j + 1, i + 1)
    assert tops["m"][0].tolist() == [0, 1, 0]  # returned pairs stay 0-based


def test_contact_probability_map(tmp_path):
    sequence = "ACDEFGHIKLMNPQRSTVWYACDEFGHIKL"
    n = len(sequence)
    probs = np.full((n, n), 0.02)
    probs[2, 25] = 0.95
    probs[25, 2] = 0.1  # the map uses the larger of p_ij and p_ji
    probs[4, 5] = 0.99  # closer than min_separation: not shown, not ranked
    probs[10, 20] = 0.7
    out = tmp_path / "maps" / "toy.png"
    summary = plot_contact_probability_map(probs, sequence, out, title="toy")
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and list(out.parent.iterdir()) == [out]
    assert summary["n_top"] == n // 5
    assert summary["top_pairs"][:2] == [(3, 26, 0.95), (11, 21, 0.7)]  # 1-based
    with pytest.raises(PlmscopeError, match=r"shape \(30, 30\) for a sequence of 29"):
        plot_contact_probability_map(probs, sequence[:-1], tmp_path / "x.png")
    with pytest.raises(PlmscopeError, match=r"\[0, 1\]"):
        plot_contact_probability_map(probs * 2, sequence, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
