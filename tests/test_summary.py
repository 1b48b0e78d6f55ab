"""`plmscope summary`: the report's front page with the headline numbers of whatever a run produced."""

from __future__ import annotations

import pandas as pd
import pytest

from plmscope.cli import main
from plmscope.outputs import write_tables
from plmscope.schemas import schema


def _top_heads(directory):
    rows = []
    for feature, label, p in (("contact", "2-2", 0.042), ("binding_site", "3-5", 0.268), ("helix", "2-4", 0.443),
                              ("aa_A", "1-1", 0.2)):  # fmt: skip
        layer, head = (int(x) - 1 for x in label.split("-"))
        for rank in (1, 2):
            rows.append({"feature": feature, "layer": layer, "head": head + rank - 1, "label": label if rank == 1 else "9-9",
                         "n_attention": 120, "n_feature": int(p * 120), "proportion": p / rank, "ci_low": p / rank - 0.02,
                         "ci_high": p / rank + 0.03, "background": 0.0193, "enrichment": p / 0.0193, "z": 3.0, "p_value": 1e-3,
                         "p_adjusted": 0.17, "masked": False, "rank": rank, "n_tests": 64})  # fmt: skip
    frame = pd.DataFrame(rows).astype({"rank": "Int64"})
    directory.mkdir(parents=True)
    write_tables(directory, {"top_heads": frame[[c.name for c in schema("top_heads").columns if not c.optional]]})


def _contacts(directory):
    frame = pd.DataFrame({"method": ["regression", "random", "regression"], "separation_range": ["long", "long", "long"],
                          "k": ["L/5", "L/5", "L"], "precision": [0.375, 0.05, 0.2], "precision_sd": [0.1, 0.01, 0.1],
                          "n_proteins": [3, 3, 3], "contact_definition": "CA < 8 A"})  # fmt: skip
    directory.mkdir(parents=True)
    write_tables(directory, {"contact_prediction": frame})


def _metrics(directory):
    rows = [{"site_set": "cdrh3", "sites": "99 100 101", "n": 3, "q": 20, "method": m, "test_set": t, "budget": 1671,
             "n_points": 500, "r2": r2, "r2_lo": r2 - 0.1, "r2_hi": r2 + 0.05, "nmse": 1 - r2, "nmse_lo": 0.0, "nmse_hi": 1.0,
             "pearson_r2": r2, "pearson_r2_lo": 0.0, "pearson_r2_hi": 1.0}
            for m, t, r2 in (("qsft", "uniform", 0.21), ("lasso", "uniform", 0.82), ("lasso", "hamming_1", 0.5))]  # fmt: skip
    directory.mkdir(parents=True)
    write_tables(directory, {"metrics": pd.DataFrame(rows)})


def test_summary_holds_the_headline_numbers_of_each_stage(tmp_path):
    enrichment, contacts, epistasis = (tmp_path / "results/enrichment/antiberty/demo", tmp_path / "results/contacts/antiberty/demo",
                                       tmp_path / "results/epistasis/antiberty_vh")  # fmt: skip
    _top_heads(enrichment)
    _contacts(contacts)
    _metrics(epistasis)
    out = tmp_path / "results/summary"
    assert main(["summary", "--enrichment", str(enrichment), "--contacts", str(contacts), "--epistasis", str(epistasis),
                 "-o", str(out)]) == 0  # fmt: skip

    heads = pd.read_csv(out / "headline_heads.csv")
    assert list(heads["feature"]) == ["contact", "binding_site", "helix", "aa_A"]  # front-page order, rank 1 only
    assert list(heads["label"]) == ["2-2", "3-5", "2-4", "1-1"]
    assert heads.loc[0, "percent"] == pytest.approx(4.2) and heads.loc[0, "background_percent"] == pytest.approx(1.93)
    assert list(heads["section"]) == ["contact", "binding_site", "secondary_structure", "amino_acids"]
    precision = pd.read_csv(out / "headline_contacts.csv")
    assert list(precision["method"]) == ["regression", "random"] and set(precision["k"]) == {"L/5"}
    r2 = pd.read_csv(out / "headline_epistasis.csv")
    assert list(r2["method"]) == ["qsft", "lasso"] and list(r2["r2"]) == [0.21, 0.82]

    page = (out / "summary.html").read_text()
    order = [page.index(f"<h2 id='{key}'>") for key in ("contact", "binding_site", "secondary_structure", "amino_acids",
                                                         "epistasis")]  # fmt: skip
    assert order == sorted(order)
    for text in ("4.2 [2.2, 7.2]", "1.93", "26.8 [24.8, 29.8]", "0.375 [0.100]", "0.210 [0.110, 0.260]", "0.820"):
        assert text in page, text


def test_sections_of_stages_that_are_off_say_so(tmp_path):
    enrichment = tmp_path / "results/enrichment/antiberty/demo"
    _top_heads(enrichment)
    out = tmp_path / "summary"
    assert main(["summary", "--enrichment", str(enrichment), "--contacts", "--epistasis",
                 "--note", "contact=Contact prediction is off (contacts.activate: false).",
                 "--note", "epistasis=The epistasis stage is off (epistasis.activate: false).", "-o", str(out)]) == 0  # fmt: skip
    page = (out / "summary.html").read_text()
    assert "Contact prediction is off (contacts.activate: false)." in page
    assert "The epistasis stage is off (epistasis.activate: false)." in page
    assert pd.read_parquet(out / "headline_epistasis.parquet").empty
