"""Figure files depend only on the figure: the same figure drawn twice is saved as the same bytes.

Between two processes matplotlib's constrained-layout solver places axes a last bit apart (its order
of operations follows memory addresses), and an SVG names each clip path by a hash of the
unrounded rectangle. That is planted here: a layout engine that moves every axes by a different
number of units in the last place on each run. The cross-process version of this check is
``tests/test_rerun_determinism.py`` (slow).
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.layout_engine import ConstrainedLayoutEngine

from plmscope.analysis.enrichment import EnrichmentCounts, summarise
from plmscope.outputs import FIGURE_FORMATS, save_figure, write_figure
from plmscope.runs.figures import run_figures
from plmscope.viz.contact_plots import plot_precision_by_range
from plmscope.viz.enrichment_plots import plot_heatmap, plot_top_heads

CLIP_ID = re.compile(rb'clipPath id="(p-[0-9]+)"')  # matplotlib's hashed ids, renumbered by outputs.stable_svg_ids
FEATURES = ("contact", "aa_A")


def enrichment_table() -> pd.DataFrame:
    """Two features over 3 layers x 4 heads; head 2-3 of contact masked (too little attention)."""
    rng = np.random.default_rng(0)
    n_att = rng.integers(200, 2000, size=(len(FEATURES), 3, 4))
    n_att[0, 1, 2] = 10
    n_feat = (n_att * rng.uniform(0, 0.6, size=n_att.shape)).astype(np.int64)
    counts = EnrichmentCounts(FEATURES, n_att, n_feat, n_att.sum(axis=0))
    bg = pd.DataFrame({"feature": FEATURES, "n_eligible": [10_000] * 2, "n_feature": [300, 800]})
    bg["background"] = bg["n_feature"] / bg["n_eligible"]
    return summarise(counts, bg, min_count=100)


@pytest.fixture
def layout_noise(monkeypatch) -> None:
    """Each layout run moves every axes' left edge by one more unit in the last place than the run before."""
    execute = ConstrainedLayoutEngine.execute
    runs = iter(range(1, 1000))

    def noisy(self, fig):
        result = execute(self, fig)
        ulps = next(runs)
        for ax in fig.axes:
            x0, y0, w, h = ax.get_position(original=True).bounds
            for _ in range(ulps):
                x0 = np.nextafter(x0, 1.0)
            ax._set_position([x0, y0, w, h], which="both")
        return result

    monkeypatch.setattr(ConstrainedLayoutEngine, "execute", noisy)


def figures():
    """Constrained-layout figures of three kinds: heatmap with bars and colourbar, bar chart, faceted bars."""
    table = enrichment_table()
    summary = {"method": ["regression", "regression"], "separation_range": ["short", "long"], "k": ["L", "L"],
               "precision": [0.5, 0.25]}  # fmt: skip
    return {"heatmap": plot_heatmap(table, "contact")[0], "top_heads": plot_top_heads(table, "aa_A")[0],
            "precision": plot_precision_by_range(pd.DataFrame(summary))}  # fmt: skip


def save_all(directory: Path) -> dict[str, bytes]:
    directory.mkdir()
    for name, fig in figures().items():
        save_figure(fig, directory, name)
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_last_bit_layout_noise_does_not_reach_the_files(tmp_path, layout_noise):
    first, second = save_all(tmp_path / "a"), save_all(tmp_path / "b")
    assert sorted(first) == sorted(f"{n}.{fmt}" for n in ("heatmap", "top_heads", "precision") for fmt in FIGURE_FORMATS)
    assert CLIP_ID.search(first["heatmap.svg"])  # the ids the noise would otherwise change are there
    assert [name for name in first if first[name] != second[name]] == []


def test_the_figures_verb_writes_the_same_bytes_twice(tmp_path, layout_noise):
    enrichment_dir = tmp_path / "enrichment"
    enrichment_dir.mkdir()
    enrichment_table().to_parquet(enrichment_dir / "enrichment.parquet", index=False)
    run_figures(enrichment_dir, tmp_path / "a")
    run_figures(enrichment_dir, tmp_path / "b")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir()) and any(n.endswith(".svg") for n in names)
    assert [n for n in names if (tmp_path / "a" / n).read_bytes() != (tmp_path / "b" / n).read_bytes()] == []


def test_svg_ids_are_salted_without_an_output_directory(tmp_path):
    """Every save goes through one writer, so the salt does not depend on the caller's context."""
    assert matplotlib.rcParams["svg.hashsalt"] is None  # what a caller outside plmscope's writers gets
    for name in ("a.svg", "b.svg"):
        write_figure(figures()["heatmap"], tmp_path / name, fmt="svg")
    ids = [CLIP_ID.findall((tmp_path / name).read_bytes()) for name in ("a.svg", "b.svg")]
    assert ids[0] and ids[0] == ids[1]
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()


@pytest.mark.parametrize(("fmt", "dated"), [("svg", b"<dc:date>"), ("pdf", b"/CreationDate")])
def test_no_save_date_in_the_file(tmp_path, fmt, dated):
    path = tmp_path / f"fig.{fmt}"
    write_figure(figures()["top_heads"], path, fmt=fmt)
    assert path.read_bytes()[:5] in (b"<?xml", b"%PDF-") and dated not in path.read_bytes()


def test_the_saved_layout_is_the_engines_to_a_billionth(tmp_path):
    """Freezing the layout rounds positions; it does not move what the figure shows."""
    fig = figures()["heatmap"]
    fig.set_dpi(150)
    fig.draw_without_rendering()
    placed = [ax.get_position(original=True).bounds for ax in fig.axes]
    fig.set_dpi(100)
    write_figure(fig, tmp_path / "fig.png", fmt="png", dpi=150)
    assert not isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine)  # switched off once placed
    frozen = [ax.get_position(original=True).bounds for ax in fig.axes]
    assert np.abs(np.subtract(frozen, placed)).max() <= 5e-10
