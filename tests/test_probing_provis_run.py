"""The probing verb under provis semantics (issue #14) on a tiny random BERT: outputs, layers 1..N, labels, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from plmscope.analysis.provis_probing import PROVIS_GRAVITY_COLUMNS, PROVIS_RESULT_COLUMNS, provis_probe_jobs, provis_record_labels
from plmscope.cli import main
from plmscope.data.table import ProteinRecord, write_proteins
from plmscope.errors import PlmscopeError
from plmscope.models.tiny import save_tiny_model
from plmscope.runs.probing import run_probing

LAYERS = 2


def _protein(index: int, length: int, rng: np.random.Generator) -> ProteinRecord:
    """A random chain: a 3.8 Å random walk (so some pairs |i-j| >= 6 are contacts), DSSP states, sites."""
    steps = rng.normal(size=(length, 3))
    ca = np.cumsum(3.8 * steps / np.linalg.norm(steps, axis=1, keepdims=True), axis=0)
    valid = np.ones(length, dtype=bool)
    valid[0] = False
    ca[0] = np.nan
    ss8 = "".join(rng.choice(list("HHHEEETS-"), size=length))
    sites = sorted(rng.choice(length, size=3, replace=False).tolist())
    seq = "".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), size=length))
    return ProteinRecord(id=f"p{index}", sequence=seq, ca=ca, valid=valid, ss8=ss8, sites=sites)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("provis_probe")
    model = save_tiny_model("bert", root / "bert", layers=LAYERS, heads=2, hidden=16, seed=5)
    rng = np.random.default_rng(3)
    records = [_protein(k, int(rng.integers(20, 40)), rng) for k in range(5)]
    train, valid = root / "train.parquet", root / "valid.parquet"
    write_proteins(records[:3], train)
    write_proteins(records[3:], valid)
    return {"model": model, "train": train, "valid": valid, "root": root}


def test_provis_run_writes_labelled_layers_1_to_n(tiny, tmp_path):
    out = tmp_path / "probing"
    summary = run_probing(tiny["train"], out, model=str(tiny["model"]), valid_proteins_path=tiny["valid"],
                          semantics="provis", max_epochs=2, device="cpu", threads=1, max_residues=60)  # fmt: skip
    assert summary["semantics"] == "provis" and (summary["train_proteins"], summary["valid_proteins"]) == (3, 2)
    table = pd.read_csv(out / "probing.csv")
    assert list(table.columns) == list(PROVIS_RESULT_COLUMNS)
    assert set(table["semantics"]) == {"provis"}
    assert sorted(set(table["layer"])) == list(range(1, LAYERS + 1))  # no embedding-layer probe
    probes = set(zip(table["probe"], table["task"]))
    assert probes == {("embedding", t) for t in ("helix", "strand", "turn_bend", "binding_site", "contact")} | {
        ("attention", "contact")
    }
    assert len(table) == 6 * LAYERS
    assert (table["epochs_run"] <= 2).all() and table["best_epoch"].between(0, 1).all()
    assert table["score"].dropna().between(0, 1).all()
    gravity = pd.read_csv(out / "probing_gravity.csv")
    assert list(gravity.columns) == list(PROVIS_GRAVITY_COLUMNS) and len(gravity) == 6
    assert gravity["center_of_gravity_0based"].dropna().between(0, LAYERS - 1).all()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["semantics"] == "provis" and "1-based" in meta["layers"] and "0-based" in meta["gravity"]
    assert meta["settings"]["contact_embedding"]["learning_rate"] == 5e-5
    assert meta["settings"]["helix"]["num_epochs"] == 2
    assert (out / "probing.png").exists() and (out / "split.csv").exists()
    assert not list(out.parent.glob(".provis-probe-*"))  # scratch features removed


def test_provis_layers_per_pass_gives_the_same_table(tiny, tmp_path):
    common = dict(model=str(tiny["model"]), valid_proteins_path=tiny["valid"], semantics="provis", max_epochs=1,
                  device="cpu", threads=1, tasks=["helix", "contact"], max_residues=60)  # fmt: skip
    run_probing(tiny["train"], tmp_path / "a", **common)
    run_probing(tiny["train"], tmp_path / "b", layers_per_pass=1, **common)
    a, b = pd.read_csv(tmp_path / "a/probing.csv"), pd.read_csv(tmp_path / "b/probing.csv")
    key = ["probe", "task", "layer"]
    pd.testing.assert_frame_equal(a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True))


def test_provis_needs_a_validation_table(tiny, tmp_path):
    with pytest.raises(PlmscopeError, match="give --valid-proteins"):
        run_probing(tiny["train"], tmp_path / "x", model=str(tiny["model"]), semantics="provis")
    with pytest.raises(PlmscopeError, match="semantics: must be one of"):
        run_probing(tiny["train"], tmp_path / "x", model=str(tiny["model"]), semantics="tape")
    with pytest.raises(PlmscopeError, match="max_epochs"):
        run_probing(tiny["train"], tmp_path / "x", model=str(tiny["model"]), valid_proteins_path=tiny["valid"],
                    semantics="provis", max_epochs=0)  # fmt: skip
    assert not (tmp_path / "x").exists()


def test_provis_labels_follow_the_task_limits():
    rng = np.random.default_rng(0)
    record = _protein(0, 600, rng)
    labels = provis_record_labels(record, provis_probe_jobs(["helix", "binding_site", "contact"]), limit=550)
    assert labels["helix"].shape == (550,)
    assert labels["binding_site"].shape == (512,)  # BindingSiteDataset crops to 512
    assert labels["contact_embedding"].shape == (550, 550)
    assert labels["contact_attention"].shape == (510, 510)
    assert (labels["contact_embedding"][0] == -1).all()  # residue 0 has no coordinates
    assert (labels["contact_embedding"] == labels["contact_embedding"].T).all()


def test_plmscope_rows_say_plmscope_and_cli_runs_provis(tiny, tmp_path):
    out = tmp_path / "cli"
    code = main(["probe", "--proteins", str(tiny["train"]), "--valid-proteins", str(tiny["valid"]), "--model",
                 str(tiny["model"]), "-o", str(out), "--semantics", "provis", "--max-epochs", "1", "--device", "cpu",
                 "--tasks", "strand", "binding_site", "--threads", "1", "--max-residues", "60"])  # fmt: skip
    assert code in (0, None)
    table = pd.read_csv(out / "probing.csv")
    assert set(table["semantics"]) == {"provis"} and set(table["task"]) == {"strand", "binding_site"}
    assert sorted(set(table["layer"])) == [1, 2]
    out = tmp_path / "cli_plmscope"
    main(["probe", "--proteins", str(tiny["train"]), "--valid-proteins", str(tiny["valid"]), "--model",
          str(tiny["model"]), "-o", str(out), "--device", "cpu", "--tasks", "helix", "--threads", "1",
          "--max-residues", "60"])  # fmt: skip
    table = pd.read_csv(out / "probing.csv")
    assert set(table["semantics"]) == {"plmscope"} and 0 in set(table["layer"])


def test_probing_comparison_lists_both_semantics_labelled():
    from plmscope.analysis.comparison import probing_comparison, probing_markdown

    provis = pd.DataFrame({"semantics": "provis", "probe": "embedding", "task": "helix", "layer": [1, 2],
                           "metric": "f1", "score": [0.2, 0.6]})  # fmt: skip
    gravity = pd.DataFrame({"probe": ["embedding"], "task": ["helix"], "center_of_gravity_0based": [0.75]})
    plmscope = pd.DataFrame({"semantics": "plmscope", "probe": "embedding", "task": "helix", "layer": [0, 1, 2],
                             "metric": "f1", "score": [0.7, 0.3, 0.1]})  # fmt: skip
    frame = probing_comparison([("m", "d", provis, gravity), ("m", "d", plmscope, None)])
    assert frame["semantics"].tolist() == ["plmscope", "provis"]
    assert frame["best_layer"].tolist() == [0, 2] and frame["layers_probed"].tolist() == ["0..2", "1..2"]
    assert np.isnan(frame["center_of_gravity_0based"][0]) and frame["center_of_gravity_0based"][1] == 0.75
    text = probing_markdown(frame)
    assert "| provis |" in text and "| plmscope |" in text and "0-based" in text
