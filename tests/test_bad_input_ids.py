"""Protein ids are user data: ids that are not file names (``a/b``, ``..``, 300 characters, non-ASCII,
two ids cleaning to the same name) still give one distinct page or map per protein."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plmscope.cli import main
from plmscope.data.table import ProteinRecord, write_proteins
from plmscope.io import FILE_STEM_MAX, file_names

LONG = "x" * 300
IDS = ["a/b", "a_b", "..", LONG, "ä☃"]


def test_file_names_are_safe_distinct_and_short():
    names = file_names([*IDS, "A_B"], suffix=".html", reserved=["index.html"])
    assert names[:3] == ["a_b.html", "a_b-2.html", "protein.html"]
    assert names[3] == "x" * FILE_STEM_MAX + ".html"
    assert names[4] == "_.html" and names[5] == "A_B-3.html"  # case-insensitive file systems
    assert file_names(["index"], suffix=".html", reserved=["index.html"]) == ["index-2.html"]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    from plmscope.models.tiny import save_tiny_model

    return save_tiny_model("bert", tmp_path_factory.mktemp("models") / "bert", layers=2, heads=2, max_positions=64)


def _sequences(tmp_path):
    rng = np.random.default_rng(1)
    seqs = tmp_path / "seqs.parquet"
    write_proteins([ProteinRecord(pid, "".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), size=20 + k)))
                    for k, pid in enumerate(IDS)], seqs)  # fmt: skip
    return seqs


def test_seqview_writes_one_page_per_awkward_id(tiny_bert, tmp_path):
    seqs = _sequences(tmp_path)
    attention, views = tmp_path / "attention", tmp_path / "views"
    assert main(["attention", "--proteins", str(seqs), "--model", str(tiny_bert), "-o", str(attention),
                 "--theta", "0.05", "--device", "cpu", "--max-residues", "60"]) == 0  # fmt: skip
    assert main(["seqview", "--proteins", str(seqs), "--attention", str(attention), "-o", str(views)]) == 0
    pages = sorted(p.name for p in views.glob("*.html"))
    assert len(pages) == len(IDS) + 1 and all(len(name) <= FILE_STEM_MAX + 5 for name in pages)


def test_contact_maps_write_one_map_per_awkward_id(tiny_bert, tmp_path):
    from plmscope.runs.contacts import run_contacts

    rng = np.random.default_rng(0)
    structured = tmp_path / "structured.parquet"
    write_proteins([ProteinRecord(f"s{k}", "".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), size=30 + 4 * k)),
                                  ca=np.cumsum(rng.normal(0, 2.0, size=(30 + 4 * k, 3)), axis=0).astype(np.float32))
                    for k in range(3)], structured)  # fmt: skip
    fit = tmp_path / "contacts"
    run_contacts(structured, fit, model=str(tiny_bert), train_proteins=2, C=1.0, n_maps=0, max_residues=60,
                 device="cpu", progress=False)  # fmt: skip
    maps = tmp_path / "maps"
    assert main(["contact-maps", "--proteins", str(_sequences(tmp_path)), "--model", str(tiny_bert),
                 "--regression", str(fit), "-o", str(maps), "--device", "cpu", "--max-residues", "60",
                 "--no-progress"]) == 0  # fmt: skip
    assert set(pd.read_parquet(maps / "contact_probs.parquet")["protein_id"]) == set(IDS)
    assert len(list(maps.glob("contact_map_*.png"))) == len(IDS)
