"""Comparison with Vig et al. (2021): the paper tables, our top heads beside theirs, CSV and Markdown."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plmscope.analysis.comparison import (
    COMPARISON_COLUMNS,
    ModelResult,
    build_comparison,
    comparison_markdown,
    read_paper_blosum,
    read_paper_heads,
    resolve_model_key,
)
from plmscope.analysis.enrichment import EnrichmentCounts, summarise
from plmscope.errors import PlmscopeError

REPO = Path(__file__).resolve().parents[1]
HEADS = REPO / "resources/paper/vig2021_top_heads.csv"
BLOSUM = REPO / "resources/paper/vig2021_blosum.csv"


def _table(best: dict[str, tuple[int, int, int]], *, layers: int = 30, heads: int = 16,
           features: tuple[str, ...] = ("contact", "binding_site", "ptm")) -> pd.DataFrame:  # fmt: skip
    """Enrichment of ``features`` where head (layer, head) 0-based holds ``permille`` of 1000 weights."""
    n_att = np.full((len(features), layers, heads), 1000, dtype=np.int64)
    n_feat = np.full((len(features), layers, heads), 20, dtype=np.int64)
    for f, feature in enumerate(features):
        if feature in best:
            layer, head, permille = best[feature]
            n_feat[f, layer, head] = permille
    counts = EnrichmentCounts(features, n_att, n_feat, n_att.sum(axis=0))
    known = {"contact": 1270, "binding_site": 483, "ptm": 84}
    bg = pd.DataFrame({"feature": features, "n_eligible": [100_000 if f == "contact" else 10_000 for f in features],
                       "n_feature": [known.get(f, 3000) for f in features]})  # fmt: skip
    bg["background"] = bg["n_feature"] / bg["n_eligible"]
    return summarise(counts, bg, min_count=100)


def test_paper_tables_hold_the_published_values():
    heads = read_paper_heads(HEADS)
    assert len(heads) == 9
    row = heads.set_index(["model_key", "feature"]).loc[("prot_bert", "contact")]
    assert (row["paper_head"], row["paper_value_pct"], row["paper_background_pct"]) == ("30-14", 58.5, 1.27)
    assert heads.set_index(["model_key", "feature"]).loc[("tape_bert", "ptm"), "paper_value_pct"] == 63.5
    assert ("prot_bert", "ptm") not in set(zip(heads["model_key"], heads["feature"]))  # not independently checked
    blosum = read_paper_blosum(BLOSUM).set_index("model_key")["paper_blosum_r"]
    assert blosum.to_dict() == {"tape_bert": 0.73, "prot_albert": 0.60, "prot_bert": 0.68, "prot_bert_bfd": 0.75,
                                "prot_xlnet": 0.71}  # fmt: skip


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("model_key,feature,paper_head,paper_value_pct\nx,contact,1-1,5\n", "lacks column"),
        ("model_key,feature,paper_head,paper_value_pct,paper_background_pct\nx,contact,L1H1,5,1\n", "layer-head"),
        ("model_key,feature,paper_head,paper_value_pct,paper_background_pct\nx,contact,1-1,105,1\n", "percentages"),
        ("model_key,feature,paper_head,paper_value_pct,paper_background_pct\nx,contact,1-1,5,1\nx,contact,2-1,6,1\n",
         "duplicate"),
    ],
)  # fmt: skip
def test_malformed_paper_heads_name_the_file(tmp_path, content, message):
    path = tmp_path / "heads.csv"
    path.write_text(content)
    with pytest.raises(PlmscopeError, match=message) as err:
        read_paper_heads(path)
    assert str(path) in str(err.value)


def test_resolve_model_key():
    assert resolve_model_key("Rostlab/prot_bert_bfd") == "prot_bert_bfd"
    assert resolve_model_key("prot_xlnet") == "prot_xlnet"
    assert resolve_model_key("resources/models/tape_bert/") == "tape_bert"
    assert resolve_model_key("facebook/esm2_t6_8M_UR50D") == "esm2_t6_8M_UR50D"
    assert resolve_model_key("antiberty") == "antiberty"


def test_our_heads_beside_the_papers():
    ours = [
        ModelResult("prot_bert", "prot_bert", "demo", _table({"contact": (29, 13, 600), "binding_site": (0, 0, 300)}),
                    blosum_r=0.5),
        ModelResult("antiberty", "antiberty", "demo", _table({"contact": (2, 3, 400)}, layers=8, heads=8)),
    ]  # fmt: skip
    frame = build_comparison(ours, read_paper_heads(HEADS), read_paper_blosum(BLOSUM))
    assert list(frame.columns) == list(COMPARISON_COLUMNS)
    row = frame[(frame["model"] == "prot_bert") & (frame["feature"] == "contact")].iloc[0]
    assert row["our_head"] == "30-14" and row["paper_head"] == "30-14" and bool(row["same_head"])
    assert row["our_value_pct"] == pytest.approx(60.0)
    assert row["our_ci_low_pct"] < 60 < row["our_ci_high_pct"]
    assert row["our_background_pct"] == pytest.approx(1.27) and row["paper_value_pct"] == 58.5
    assert row["our_blosum_r"] == 0.5 and row["paper_blosum_r"] == 0.68
    sites = frame[(frame["model"] == "prot_bert") & (frame["feature"] == "binding_site")].iloc[0]
    assert sites["our_head"] == "1-1" and not bool(sites["same_head"])
    # a model the paper did not study keeps NaN paper columns
    anti = frame[frame["model"] == "antiberty"]
    assert len(anti) == 3 and anti["paper_value_pct"].isna().all() and anti["same_head"].isna().all()
    assert anti.set_index("feature").loc["contact", "our_head"] == "3-4"
    # the paper's other models are listed with their published values and no result of ours
    tape = frame[frame["model_key"] == "tape_bert"]
    assert tape["paper_head"].tolist() == ["12-4", "11-6", "11-6"] and tape["our_value_pct"].isna().all()
    assert set(frame["model_key"]) == {"prot_bert", "antiberty", "tape_bert", "prot_albert", "prot_bert_bfd",
                                       "prot_xlnet"}  # fmt: skip


def test_feature_datasets_pick_each_features_dataset():
    results = [
        ModelResult("prot_bert", "prot_bert", "proteinnet", _table({"contact": (29, 13, 600)}), blosum_r=0.6),
        ModelResult("prot_bert", "prot_bert", "binding_sites", _table({"binding_site": (23, 6, 400)}), blosum_r=0.1),
    ]
    frame = build_comparison(
        results, read_paper_heads(HEADS), read_paper_blosum(BLOSUM),
        feature_datasets={"contact": "proteinnet", "binding_site": "binding_sites", "amino_acids": "proteinnet"},
        include_paper_only=False,
    )  # fmt: skip
    by = frame.set_index("feature")
    assert len(frame) == 4  # contact and binding_site once each, ptm from both (no dataset named for it)
    assert by.loc["contact", "dataset"] == "proteinnet" and by.loc["binding_site", "dataset"] == "binding_sites"
    assert by.loc["binding_site", "our_head"] == "24-7" and bool(by.loc["binding_site", "same_head"])
    assert (frame["our_blosum_r"] == 0.6).all() and (frame["blosum_dataset"] == "proteinnet").all()


def test_markdown_has_both_tables():
    ours = [ModelResult("prot_bert", "prot_bert", "demo", _table({"contact": (29, 13, 600)}), blosum_r=0.5)]
    text = comparison_markdown(build_comparison(ours, read_paper_heads(HEADS), read_paper_blosum(BLOSUM)))
    assert "| prot_bert | demo | contact | 30-14: 60.0% [" in text
    assert "| 30-14: 58.5% | 1.27 | yes |" in text
    assert "| prot_bert | demo | prot_bert | 0.50 | 0.68 |" in text
    assert "| ProtXLNet | – | prot_xlnet | – | 0.71 |" in text


def test_both_semantics_side_by_side_with_one_line_per_definition():
    provis = _table({"contact": (29, 13, 600)})
    plm = _table({"contact": (28, 12, 600)})
    both = [ModelResult("prot_bert", "prot_bert", "demo", provis, semantics="provis", alternate=plm)]
    frame = build_comparison(both, read_paper_heads(HEADS), read_paper_blosum(BLOSUM))
    row = frame[(frame["model"] == "prot_bert") & (frame["feature"] == "contact")].iloc[0]
    assert row["semantics"] == "provis" and row["provis_head"] == row["our_head"] == "30-14"
    assert row["plmscope_head"] is not None and not pd.isna(row["plmscope_value_pct"])
    text = comparison_markdown(frame)
    assert "ours, provis semantics" in text and "ours, plmscope semantics" in text
    assert "- **attention kept**: provis: weights > theta; plmscope: weights >= theta" in text
    assert "column is empty" not in text

    one = [ModelResult("prot_bert", "prot_bert", "demo", plm, semantics="plmscope")]
    frame = build_comparison(one, read_paper_heads(HEADS), read_paper_blosum(BLOSUM))
    ours = frame[frame["model"] == "prot_bert"]
    assert ours["provis_head"].isna().all() and ours["plmscope_head"].notna().any()
    assert "The *ours, provis semantics* column is empty: this run computed only plmscope" in comparison_markdown(frame)


def test_secondary_structure_rows_come_from_their_dataset_with_empty_paper_columns(caplog):
    """Fig. 4 features: our top head from the configured secondary-structure dataset, no paper value; a
    configured feature that no run carries (turn_bend here) or that is not compared is named in the log."""
    ss = ("helix", "strand", "turn_bend")
    ss_table = _table({"helix": (4, 2, 700), "strand": (9, 0, 500)}, features=ss)
    ss_table.loc[ss_table["feature"] == "turn_bend", "background"] = np.nan  # no DSSP turn/bend annotation
    results = [
        ModelResult("prot_bert", "prot_bert", "proteinnet", _table({"contact": (29, 13, 600)})),
        ModelResult("prot_bert", "prot_bert", "secondary_structure", ss_table),
    ]
    datasets = {"contact": "proteinnet", "helix": "secondary_structure", "strand": "secondary_structure",
                "turn_bend": "secondary_structure", "sheet": "secondary_structure"}  # fmt: skip
    with caplog.at_level("WARNING"):
        frame = build_comparison(results, read_paper_heads(HEADS), read_paper_blosum(BLOSUM), feature_datasets=datasets)
    ours = frame[frame["model"] == "prot_bert"].set_index("feature")
    assert ours.loc["helix", "dataset"] == "secondary_structure" and ours.loc["helix", "our_head"] == "5-3"
    assert ours.loc["strand", "our_head"] == "10-1" and ours.loc["helix", "our_value_pct"] == pytest.approx(70.0)
    assert ours.loc[["helix", "strand"], "paper_value_pct"].isna().all()
    assert "turn_bend" not in ours.index
    assert ours.loc["contact", "dataset"] == "proteinnet" and ours.loc["contact", "our_head"] == "30-14"
    others = frame[frame["model"] != "prot_bert"]  # the paper's models we did not run: its top-head features only
    assert set(others["feature"]) == {"contact", "binding_site", "ptm"}
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert sum("turn_bend -> secondary_structure" in m for m in warnings) == 1
    assert sum("sheet -> secondary_structure" in m and "not a feature of the comparison" in m for m in warnings) == 1
    assert len(warnings) == 2
    text = comparison_markdown(frame)
    assert "| prot_bert | secondary_structure | helix | 5-3: 70.0% [" in text
    assert "helix, strand: the paper reports attention to secondary structure per layer only (Fig. 4)" in text
