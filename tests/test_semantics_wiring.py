"""The semantics switch wired through the verbs (prepare, attention, enrichment, paper), and attention shards."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from plmscope.cli import build_parser
from plmscope.data.sampling import provis_sample_indices
from plmscope.data.table import read_proteins, write_proteins
from plmscope.errors import PlmscopeError
from plmscope.models.tiny import save_tiny_model
from plmscope.runs.attention import run_attention
from plmscope.runs.enrichment import run_enrichment
from plmscope.runs.paper_analyses import run_paper_analyses
from plmscope.runs.prepare import run_prepare

MAX_RESIDUES = 40


@pytest.fixture(scope="module")
def demo(tmp_path_factory, repo_dir_module):
    """A tiny BERT, 5 demo proteins (with structure), attention unsharded and in 2 shards."""
    root = tmp_path_factory.mktemp("semantics")
    model = save_tiny_model("bert", root / "bert", layers=2, heads=2, max_positions=64, init_scale=2.0)
    table = root / "proteins.parquet"
    write_proteins(read_proteins(repo_dir_module / "resources/demo/proteins.parquet")[:5], table)
    options = dict(model=str(model), theta=0.1, max_residues=MAX_RESIDUES, max_tokens=200, progress=False)
    run_attention(table, root / "whole", **options)
    for k in range(2):
        run_attention(table, root / f"shard{k}", shard=f"{k}/2", **options)
    return root, model, table


@pytest.fixture(scope="module")
def repo_dir_module():
    from pathlib import Path

    return Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("semantics", ["plmscope", "provis"])
def test_enrichment_of_shards_equals_the_unsharded_run(demo, semantics):
    root, _, table = demo
    whole = run_enrichment(root / "whole", table, root / f"enr_whole_{semantics}", min_count=1, semantics=semantics)
    sharded = run_enrichment([root / "shard0", root / "shard1"], table, root / f"enr_shards_{semantics}", min_count=1,
                             semantics=semantics)  # fmt: skip
    assert whole["attention_rows"] == sharded["attention_rows"] > 0
    for name in ("enrichment", "backgrounds", "top_heads"):
        a = pd.read_parquet(root / f"enr_whole_{semantics}" / f"{name}.parquet")
        b = pd.read_parquet(root / f"enr_shards_{semantics}" / f"{name}.parquet")
        pd.testing.assert_frame_equal(a, b, check_exact=semantics == "plmscope", rtol=1e-12)
    meta = json.loads((root / f"enr_shards_{semantics}" / "meta.json").read_text())
    assert meta["semantics"] == semantics and len(meta["attention_dir"]) == 2


def test_provis_enrichment_sums_weights_and_records_its_semantics(demo):
    root, _, table = demo
    run_enrichment(root / "whole", table, root / "prov", min_count=1, semantics="provis")
    run_enrichment(root / "whole", table, root / "plm", min_count=1, semantics="plmscope")
    prov = pd.read_parquet(root / "prov/enrichment.parquet")
    plm = pd.read_parquet(root / "plm/enrichment.parquet")
    assert "weight_total" in prov.columns and "weight_total" not in plm.columns
    # provis keeps weights > theta and sums them: every weight <= 1, so sums never exceed the counts
    assert (prov["weight_total"] <= prov["n_rows"] + 1e-9).all()
    assert json.loads((root / "prov/meta.json").read_text())["semantics"] == "provis"
    assert json.loads((root / "plm/meta.json").read_text())["semantics"] == "plmscope"


def test_shards_partition_the_proteins_and_reject_bad_specs(demo):
    root, model, table = demo
    ids = [pd.read_parquet(root / f"shard{k}/proteins.parquet")["protein_id"].tolist() for k in range(2)]
    whole = pd.read_parquet(root / "whole/proteins.parquet")["protein_id"].tolist()
    assert sorted(ids[0] + ids[1]) == sorted(whole) and not set(ids[0]) & set(ids[1])
    for bad in ("2/2", "1", "a/b", "-1/2"):
        with pytest.raises(PlmscopeError, match="shard must be K/N"):
            run_attention(table, root / "bad", model=str(model), max_residues=MAX_RESIDUES, shard=bad, progress=False)
    with pytest.raises(PlmscopeError, match="also in another shard"):
        run_enrichment([root / "whole", root / "shard0"], table, root / "dup", min_count=1)


def test_provis_attention_runs_float32_and_refuses_another_dtype(demo, tmp_path):
    root, model, table = demo
    meta = json.loads((root / "whole/meta.json").read_text())
    assert meta["semantics"] == "plmscope"
    out = tmp_path / "att"
    run_attention(table, out, model=str(model), max_residues=MAX_RESIDUES, semantics="provis", shard="0/5", progress=False)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["semantics"] == "provis" and meta["dtype"] == "float32"
    with pytest.raises(PlmscopeError, match="float32"):
        run_attention(table, tmp_path / "x", model=str(model), max_residues=MAX_RESIDUES, semantics="provis",
                      dtype="float16", progress=False)  # fmt: skip


def test_provis_sample_keeps_the_randperm_order(tmp_path, repo_dir_module):
    source = repo_dir_module / "resources/demo/proteins.parquet"
    records = read_proteins(source)
    for semantics in ("provis", "plmscope"):
        run_prepare([source], fmt="table", output=tmp_path / f"{semantics}.parquet", sample=5, seed=123, semantics=semantics)
    provis = [r.id for r in read_proteins(tmp_path / "provis.parquet")]
    assert provis == [records[i].id for i in provis_sample_indices(len(records), 5, 123)]
    order = {r.id: n for n, r in enumerate(records)}
    plm = [r.id for r in read_proteins(tmp_path / "plmscope.parquet")]
    assert plm == sorted(plm, key=order.get)


def test_paper_analyses_follow_the_enrichment_semantics(demo):
    root, _, table = demo
    run_enrichment(root / "whole", table, root / "prov_p", min_count=1, semantics="provis")
    run_paper_analyses(root / "prov_p", root / "paper_prov", model_key="tiny", dpi=30)
    gravity = pd.read_parquet(root / "paper_prov/gravity.parquet")
    assert set(gravity["semantics"]) == {"provis"} and "center_of_gravity_layer_number" in gravity.columns
    assert json.loads((root / "paper_prov/meta.json").read_text())["semantics"] == "provis"
    with pytest.raises(PlmscopeError, match="enrichment ran under semantics 'provis'"):
        run_paper_analyses(root / "prov_p", root / "paper_bad", model_key="tiny", semantics="plmscope")


def test_cli_semantics_flags_default_to_plmscope():
    parser = build_parser()
    args = {
        "prepare": ["prepare", "--format", "table", "x", "-o", "o"],
        "attention": ["attention", "--proteins", "p", "--model", "m", "-o", "o"],
        "enrichment": ["enrichment", "--attention", "a", "b", "--proteins", "p", "-o", "o"],
        "paper": ["paper", "--enrichment", "e", "-o", "o"],
    }
    for verb, argv in args.items():
        assert parser.parse_args(argv).semantics == "plmscope", verb
        assert parser.parse_args([*argv, "--semantics", "provis"]).semantics == "provis", verb
    assert parser.parse_args(args["enrichment"]).attention == ["a", "b"]
    assert parser.parse_args([*args["attention"], "--shard", "1/4"]).shard == "1/4"
