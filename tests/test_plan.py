"""Datasets plan what they support (plan verb), small datasets degrade to notes, and the sequence-only verbs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from plmscope.cli import main
from plmscope.data.plan import capabilities, plan_analyses
from plmscope.data.table import ProteinRecord, write_proteins


def _structured(pid: str, n: int, *, seed: int = 0, sites=None) -> ProteinRecord:
    rng = np.random.default_rng(seed)
    ca = np.cumsum(rng.normal(0, 2.0, size=(n, 3)), axis=0).astype(np.float32)
    return ProteinRecord(pid, "".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), size=n)), ca=ca, sites=sites)


def test_sequences_only_plan_skips_structure_and_label_analyses_with_reasons():
    caps = capabilities([ProteinRecord("a", "MKTAYIAKQR"), ProteinRecord("b", "ACDEFGHIKLMNP")])
    assert caps == {"n_proteins": 2, "n_coordinates": 0, "n_contact_proteins": 0, "n_ss8": 0, "n_sites": 0,
                    "n_ptms": 0, "min_length": 10, "max_length": 13}  # fmt: skip
    plan = plan_analyses(caps, contacts_train_proteins=5)
    assert plan["views"] and "CA coordinates" in plan["views"]
    assert plan["contacts"].startswith("0 proteins with CA coordinates") and "needs 6" in plan["contacts"]
    assert "no protein carries probe labels" in plan["probing"]
    for runs in ("robustness", "contact_maps", "sequence_views"):
        assert plan[runs] is None


def test_structures_without_sites_still_plan_contacts_views_and_probing():
    records = [_structured(f"p{k}", 40, seed=k, sites=[]) for k in range(3)]
    caps = capabilities(records)
    assert caps["n_coordinates"] == 3 and caps["n_sites"] == 0  # an empty site list annotates nothing
    plan = plan_analyses(caps, contacts_train_proteins=2)
    assert all(reason is None for reason in plan.values())
    assert plan_analyses(caps, contacts_train_proteins=3)["contacts"] is not None


def test_plan_verb_writes_json_and_markdown_and_logs_each_skip(tmp_path, caplog):
    table = tmp_path / "seqs.parquet"
    write_proteins([ProteinRecord("a", "MKTAYIAKQRQISFVKSHFS")], table)
    out, md = tmp_path / "plan" / "seqs.json", tmp_path / "plan" / "seqs.md"
    with caplog.at_level("INFO"):
        assert main(["plan", "--proteins", str(table), "--dataset", "seqs", "-o", str(out), "--markdown", str(md),
                     "--contacts-train-proteins", "1", "--inactive", "robustness"]) == 0  # fmt: skip
    doc = json.loads(out.read_text())
    assert doc["capabilities"]["n_proteins"] == 1
    assert doc["analyses"]["contacts"]["run"] is False and doc["analyses"]["sequence_views"]["run"] is True
    assert "switched off" in doc["analyses"]["robustness"]["reason"]
    page = md.read_text()
    assert "| contacts | skipped: 0 proteins with CA coordinates" in page and "| sequence_views | runs |" in page
    skips = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert sum("contacts skipped" in m for m in skips) == 1 and not any("robustness" in m for m in skips)


def _straight(pid: str, n: int) -> ProteinRecord:
    """A straight chain, CA 3.8 Å apart: residues |i - j| >= 6 are >= 22.8 Å apart (no contact at 8 Å)."""
    ca = np.zeros((n, 3), dtype=np.float32)
    ca[:, 0] = 3.8 * np.arange(n)
    return ProteinRecord(pid, "ACDEFGHIKLMNPQRSTVWY"[:n], ca=ca)


def test_structures_without_any_contact_skip_contacts_only():
    records = [_straight(f"s{k}", 12 + k) for k in range(4)]
    caps = capabilities(records)
    assert caps["n_coordinates"] == 4 and caps["n_contact_proteins"] == 0
    plan = plan_analyses(caps, contacts_train_proteins=2)
    assert plan["contacts"] == ("none of the 4 proteins with CA coordinates has a contact at |i - j| >= 6; "
                                "the contact regression has no positive pair to train on")  # fmt: skip
    assert plan["views"] is None and plan["probing"] is None
    # one protein with a contact is enough to plan the regression; a 25 Å cutoff makes every chain count
    assert capabilities(records + [_structured("blob", 40)])["n_contact_proteins"] == 1
    assert capabilities(records, contact_cutoff=25.0)["n_contact_proteins"] == 4


def test_plan_verb_skips_contacts_of_a_table_without_contacts_and_names_it_once(tmp_path, caplog):
    table = tmp_path / "straight.parquet"
    write_proteins([_straight(f"s{k}", 12 + k) for k in range(4)], table)
    out, md = tmp_path / "straight.json", tmp_path / "straight.md"
    with caplog.at_level("INFO"):
        assert main(["plan", "--proteins", str(table), "--dataset", "straight", "-o", str(out), "--markdown", str(md),
                     "--contacts-train-proteins", "2"]) == 0  # fmt: skip
    doc = json.loads(out.read_text())
    assert doc["capabilities"]["n_contact_proteins"] == 0
    assert doc["analyses"]["contacts"]["run"] is False and "no positive pair" in doc["analyses"]["contacts"]["reason"]
    assert doc["analyses"]["views"]["run"] is True and doc["analyses"]["probing"]["run"] is True
    assert "| contacts | skipped: none of the 4 proteins with CA coordinates has a contact" in md.read_text()
    assert sum("contacts skipped" in r.getMessage() for r in caplog.records) == 1
    # the configured cutoff reaches the count: at 25 Å every chain has a contact and contacts run
    assert main(["plan", "--proteins", str(table), "--dataset", "straight", "-o", str(out),
                 "--contacts-train-proteins", "2", "--contact-cutoff", "25"]) == 0  # fmt: skip
    assert json.loads(out.read_text())["analyses"]["contacts"]["run"] is True
    assert main(["plan", "--proteins", str(table), "--dataset", "straight", "-o", str(out),
                 "--contact-cutoff", "-1"]) == 1  # fmt: skip


def test_regression_table_reproduces_the_fitted_probabilities():
    from plmscope.analysis.contact_prediction import fit_regression, predict_from_table, regression_table

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 6)) * [1, 2, 3, 0.5, 1, 4] + 1.0
    y = (x[:, 0] + 0.3 * x[:, 2] + rng.normal(0, 0.5, size=400) > 1.5).astype(int)
    for standardize in (True, False):
        model = fit_regression(x, y, C=1.0, standardize=standardize)
        table = regression_table(model, num_layers=2, num_heads=3)
        assert list(table[["layer", "head"]].itertuples(index=False, name=None)) == [(0, 0), (0, 1), (0, 2),
                                                                                      (1, 0), (1, 1), (1, 2)]
        np.testing.assert_allclose(predict_from_table(table, x), model.predict_proba(x)[:, 1], rtol=1e-9, atol=1e-12)


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    from plmscope.models.tiny import save_tiny_model

    return save_tiny_model("bert", tmp_path_factory.mktemp("models") / "bert", layers=2, heads=2, max_positions=64)


def test_seqview_and_contact_maps_verbs_on_sequences_without_structure(tiny_bert, tmp_path):
    """A sequence-only table gets one attention page per protein and a contact probability map per protein."""
    from plmscope.runs.contacts import run_contacts

    structured = tmp_path / "structured.parquet"
    write_proteins([_structured(f"s{k}", 30 + 4 * k, seed=k) for k in range(3)], structured)
    fit = tmp_path / "contacts"
    run_contacts(structured, fit, model=str(tiny_bert), train_proteins=2, C=1.0, n_maps=0, max_residues=60,
                 device="cpu", progress=False)  # fmt: skip
    regression = pd.read_parquet(fit / "regression.parquet")
    assert len(regression) == 4 and {"feature_mean", "coefficient", "intercept"} <= set(regression.columns)

    seqs = tmp_path / "seqs.parquet"
    write_proteins([ProteinRecord("q|1", "MKTAYIAKQRQISFVKSHFSRQ"), ProteinRecord("q2", "ACDEFGHIKLMNPQRSTVWY")], seqs)
    maps = tmp_path / "maps"
    assert main(["contact-maps", "--proteins", str(seqs), "--model", str(tiny_bert), "--regression", str(fit),
                 "-o", str(maps), "--device", "cpu", "--max-residues", "60", "--no-progress"]) == 0  # fmt: skip
    probs = pd.read_parquet(maps / "contact_probs.parquet")
    assert list(probs.columns) == ["protein_id", "i_1based", "j_1based", "probability"]
    assert set(probs["protein_id"]) == {"q|1", "q2"}
    assert probs["i_1based"].min() == 1 and (probs["j_1based"] - probs["i_1based"]).min() == 6
    assert probs["j_1based"][probs["protein_id"] == "q2"].max() == 20
    assert probs["probability"].between(0, 1).all()
    assert (maps / "contact_map_q_1.png").stat().st_size > 0 and (maps / "contact_map_q2.png").stat().st_size > 0

    attention = tmp_path / "attention"
    assert main(["attention", "--proteins", str(seqs), "--model", str(tiny_bert), "-o", str(attention),
                 "--theta", "0.05", "--device", "cpu", "--max-residues", "60"]) == 0  # fmt: skip
    views = tmp_path / "seqviews"
    assert main(["seqview", "--proteins", str(seqs), "--attention", str(attention), "-o", str(views)]) == 0
    assert sorted(p.name for p in views.glob("*.html")) == ["index.html", "q2.html", "q_1.html"]
    page = (views / "q2.html").read_text()
    assert "ACDEFGHIKLMNPQRSTVWY" in page or "q2" in page
    assert 'href="q_1.html"' in (views / "index.html").read_text()
