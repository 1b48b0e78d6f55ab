"""run_attention end to end on a tiny BERT and a 3-protein table."""

from __future__ import annotations

import logging

import numpy as np
import pyarrow.dataset as ds
import pytest
import torch

from plmscope.attention.dataset import read_analysed, read_attention, read_counts, read_meta
from plmscope.data.table import ProteinRecord, write_proteins
from plmscope.errors import PlmscopeError
from plmscope.models.registry import load_adapter
from plmscope.models.tiny import save_tiny_model
from plmscope.runs.attention import run_attention

PROTEINS = {"p1": "MKTAYIAKQRQISFVKSHFSRQLEERLG", "p2": "EVQLVESGGG", "p3": "ACDEFGHIKLMNPQRSTVWYUX"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    model = save_tiny_model("bert", root / "bert", layers=2, heads=2, max_positions=64)
    table = root / "proteins.parquet"
    write_proteins([ProteinRecord(id=k, sequence=s) for k, s in PROTEINS.items()], table)
    return model, table


def test_end_to_end(tiny, tmp_path, caplog):
    model, table = tiny
    out = tmp_path / "attention" / "tiny"
    with caplog.at_level(logging.INFO, logger="plmscope"):
        summary = run_attention(table, out, model=str(model), theta=0.3, max_residues=25, max_tokens=40,
                                progress=False)
    meta = read_meta(out)
    assert summary["n_rows"] == meta["n_rows"] > 0
    assert (meta["n_proteins"], meta["n_truncated"], meta["n_skipped"]) == (3, 1, 0)
    assert meta["n_nonstandard"] == 2 and meta["family"] == "bert" and meta["theta"] == 0.3
    assert "1 of 3 proteins truncated to their first 25 residues" in caplog.text
    assert "2 non-standard residues" in caplog.text
    analysed = {r["protein_id"]: r for r in read_analysed(out).to_pylist()}
    assert analysed["p1"]["n_residues"] == 25 and analysed["p1"]["truncated"]
    assert analysed["p3"]["n_residues"] == 22 and not analysed["p3"]["truncated"]

    # the stored rows are exactly the thresholded attention of each protein run on its own
    adapter = load_adapter(model, max_residues=25, device="cpu")
    table_rows = read_attention(out)
    counts = np.zeros((2, 2), dtype=np.int64)
    for pid, seq in PROTEINS.items():
        with torch.inference_mode():
            layers = adapter.attentions(adapter.encode([seq[:25]]))
        got = table_rows.filter(ds.field("protein_id") == pid)
        for layer_no, layer in enumerate(layers):
            keep = layer[0] >= 0.3
            counts[layer_no] += keep.sum(dim=(1, 2)).numpy()
            sub = got.filter(ds.field("layer") == layer_no)
            assert sub.num_rows == int(keep.sum())
            h, i, j = (sub.column(c).to_numpy().astype(np.int64) for c in ("head", "i", "j"))
            np.testing.assert_allclose(sub.column("weight").to_numpy(), layer[0][h, i, j].numpy(), atol=1e-6)
            assert (i < len(seq[:25])).all() and (j < len(seq[:25])).all()
    np.testing.assert_array_equal(read_counts(out), counts)


def test_skip_mode_records_skipped_proteins(tiny, tmp_path):
    model, table = tiny
    summary = run_attention(table, tmp_path / "out", model=str(model), max_residues=25, long_sequences="skip",
                            progress=False)
    assert summary["n_skipped"] == 1 and summary["skipped"] == ["p1"]
    assert sorted(read_analysed(tmp_path / "out").column("protein_id").to_pylist()) == ["p2", "p3"]


def test_error_leaves_no_output_directory(tiny, tmp_path):
    model, table = tiny
    out = tmp_path / "out"
    with pytest.raises(PlmscopeError, match="protein 'p1' has 28 residues, over the limit of 25"):
        run_attention(table, out, model=str(model), max_residues=25, long_sequences="error", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_failure_during_batches_leaves_no_output_directory(tmp_path):
    model = save_tiny_model("bert", tmp_path / "m", max_positions=64)
    table = tmp_path / "p.parquet"
    write_proteins([ProteinRecord(id="ok", sequence="MKT"), ProteinRecord(id="bad", sequence="MKJ")], table)
    with pytest.raises(PlmscopeError, match="protein 'bad' has residue 'J' at position 3"):
        run_attention(table, tmp_path / "out", model=str(model), max_residues=20, max_tokens=5, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "p.parquet"]


def test_bad_theta_and_missing_table(tiny, tmp_path):
    model, table = tiny
    with pytest.raises(PlmscopeError, match="theta"):
        run_attention(table, tmp_path / "o", model=str(model), theta=0, max_residues=25)
    with pytest.raises(PlmscopeError, match="file not found"):
        run_attention(tmp_path / "none.parquet", tmp_path / "o", model=str(model), max_residues=25)
    assert not (tmp_path / "o").exists()


def test_options_are_checked_before_the_model_loads(tiny, tmp_path):
    _, table = tiny
    for options, problem in [
        ({"long_sequences": "cut"}, "long_sequences must be one of truncate, skip, error, window"),
        ({"max_tokens": 0}, "max_tokens must be a positive integer"),
        ({"proteins_per_part": 0}, "proteins_per_part must be a positive integer"),
        ({"long_sequences": "window", "window_stride": 600}, "window_stride must be an integer from 1 to"),
    ]:
        with pytest.raises(PlmscopeError, match=problem):
            run_attention(table, tmp_path / "o", model="no-such-model", **options)
    with pytest.raises(PlmscopeError, match="no protein is left to analyse"):
        run_attention(table, tmp_path / "o", model="no-such-model", max_residues=5, long_sequences="skip")
    assert list(tmp_path.iterdir()) == []
