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


def test_long_protein_cuts_the_model_input_with_the_labels(tmp_path, monkeypatch):
    """A 600-residue chain: the binding-site probe (BindingSiteDataset keeps 512 residues) and the attention
    contact probe (512 tokens: 510 residues) read features of a forward pass over exactly those residues, not
    the first residues of a pass over the whole chain; the labels keep the planted sites below the cut."""
    import torch

    import plmscope.runs.probing as probing
    from plmscope.analysis.provis_probing import ProvisProbeResult
    from plmscope.models.registry import load_adapter

    model = save_tiny_model("bert", tmp_path / "bert", layers=LAYERS, heads=2, hidden=16, max_positions=640, seed=7)
    rng = np.random.default_rng(11)
    long = _protein(0, 600, rng)
    long = ProteinRecord(id="long", sequence=long.sequence, ca=long.ca, valid=long.valid, ss8=long.ss8,
                         sites=[5, 300, 509, 511, 512, 590])  # fmt: skip
    train, valid = tmp_path / "train.parquet", tmp_path / "valid.parquet"
    write_proteins([long, _protein(1, 30, rng)], train)
    write_proteins([_protein(2, 25, rng)], valid)
    seen = []

    def capture(kind, train_features, train_labels, valid_features, valid_labels, **_):
        seen.append((kind, [np.array(x) for x in train_features], [np.array(y) for y in train_labels]))
        return ProvisProbeResult(metrics={"score": 0.5}, best_epoch=0, epochs_run=1)

    monkeypatch.setattr(probing, "train_provis_probe", capture)
    run_probing(train, tmp_path / "out", model=str(model), valid_proteins_path=valid, semantics="provis",
                tasks=["binding_site", "contact"], device="cpu", threads=1, max_residues=600)  # fmt: skip

    adapter = load_adapter(str(model), max_residues=600, device="cpu", dtype="float32")
    with torch.inference_mode():
        passes = {n: adapter.encode([long.sequence[:n]]) for n in (510, 512, 600)}
        hidden = {n: [h[0].numpy() for h in adapter.hidden_states(b)] for n, b in passes.items()}
        attention = {n: [a[0].numpy() for a in adapter.attentions(b)] for n, b in passes.items()}
    by_kind = {}
    for kind, features, labels in seen:
        by_kind.setdefault(kind, []).append((features[0], labels[0]))  # the long protein comes first
    assert sorted(by_kind) == ["contact_attention", "contact_embedding", "token"]

    for layer, (x, y) in enumerate(by_kind["token"], start=1):  # binding sites, layers 1..N in order
        assert x.shape == (512, 16) and y.shape == (512,)
        assert np.flatnonzero(y).tolist() == [5, 300, 509, 511]  # sites 512 and 590 fall past the cut
        np.testing.assert_allclose(x, hidden[512][layer][:512], atol=1e-4)
        assert np.abs(x - hidden[600][layer][:512]).max() > 1e-3  # not the whole chain's pass, cut afterwards
    for layer, (x, y) in enumerate(by_kind["contact_attention"], start=1):
        assert x.shape == (2, 510, 510) and y.shape == (510, 510)
        np.testing.assert_allclose(x, attention[510][layer - 1][:, :510, :510], atol=1e-5)
        assert np.abs(x - attention[600][layer - 1][:, :510, :510]).max() > 1e-4
    for layer, (x, y) in enumerate(by_kind["contact_embedding"], start=1):  # ProteinNet: the whole chain
        assert x.shape == (600, 16) and y.shape == (600, 600)
        np.testing.assert_allclose(x, hidden[600][layer], atol=1e-4)
