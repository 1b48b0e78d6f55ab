"""Null models: re-initialised weights, shuffled sequences, and the robustness run checked against the pipeline."""

from __future__ import annotations

import json
import logging
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import torch

from plmscope.data.shuffle import shuffle_sequences
from plmscope.data.table import ProteinRecord, read_proteins, write_proteins
from plmscope.errors import PlmscopeError

SEQUENCES = ("MKTAYIAKQRQISFVKSHFSRQLEERLG", "EVQLVESGGGLVQPGGSLRLSCAAS")


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    from plmscope.models.tiny import save_tiny_model

    root = tmp_path_factory.mktemp("null")
    families = ("bert", "esm")
    return {family: save_tiny_model(family, root / family, layers=2, heads=2, max_positions=64) for family in families}


def _attention(adapter, sequence: str) -> torch.Tensor:
    with torch.inference_mode():
        return torch.stack([a[0] for a in adapter.attentions(adapter.encode([sequence]))])


# ---- reinitialise -----------------------------------------------------------------------------
@pytest.mark.parametrize("family", ["bert", "esm"])
def test_reinitialise_replaces_every_weight_and_keeps_the_adapter_working(tiny_models, family, caplog):
    from plmscope.models.null import reinitialise
    from plmscope.models.registry import load_adapter

    adapter = load_adapter(tiny_models[family], max_residues=60, device="cpu")
    pretrained = {k: v.detach().clone() for k, v in adapter.model.named_parameters()}
    before = _attention(adapter, SEQUENCES[0])
    with caplog.at_level(logging.WARNING, logger="plmscope"):
        assert reinitialise(adapter, seed=1) is adapter
    assert "kept their values" not in caplog.text
    # the tiny checkpoint is itself a fresh init: its norm scales (1) and biases (0) equal any new draw
    drawn = {k for k, v in pretrained.items() if v.numel() > 1 and bool(v.amin() != v.amax())}
    assert len(drawn) >= 10
    unchanged = [k for k, v in adapter.model.named_parameters() if k in drawn and torch.equal(v, pretrained[k])]
    assert unchanged == []
    assert adapter.name.endswith("(random weights, seed 1)") and not adapter.model.training

    after = _attention(adapter, SEQUENCES[0])
    assert after.shape == before.shape == (2, 2, len(SEQUENCES[0]), len(SEQUENCES[0]))
    assert torch.isfinite(after).all() and not torch.allclose(after, before)
    assert (after.sum(dim=-1) <= 1 + 1e-5).all()  # rows of a softmax, special tokens stripped

    # the same seed gives the same weights, another seed other weights
    twin = reinitialise(load_adapter(tiny_models[family], max_residues=60, device="cpu"), seed=1)
    other = reinitialise(load_adapter(tiny_models[family], max_residues=60, device="cpu"), seed=2)
    for (name, p), (_, q), (_, r) in zip(adapter.model.named_parameters(), twin.model.named_parameters(),
                                         other.model.named_parameters()):  # fmt: skip
        assert torch.equal(p, q), name
    assert any(not torch.equal(p, r) for p, r in zip(adapter.model.parameters(), other.model.parameters()))


def test_reinitialise_std_sets_the_weight_scale_and_is_restored(tiny_models):
    from plmscope.models.null import reinitialise
    from plmscope.models.registry import load_adapter

    adapter = load_adapter(tiny_models["bert"], max_residues=60, device="cpu")
    saved = adapter.model.config.initializer_range
    reinitialise(adapter, seed=0, std=0.05)
    linear = [m for m in adapter.model.modules() if isinstance(m, torch.nn.Linear)]
    weights = torch.cat([m.weight.detach().reshape(-1) for m in linear])
    assert float(weights.std()) == pytest.approx(0.05, rel=0.15)
    assert adapter.model.config.initializer_range == saved
    with pytest.raises(PlmscopeError, match="std must be positive"):
        reinitialise(adapter, seed=0, std=0.0)


# ---- shuffle_sequences ------------------------------------------------------------------------
def _records() -> list[ProteinRecord]:
    rng = np.random.default_rng(0)
    out = []
    for k, n in enumerate((30, 42, 36, 45)):
        ca = rng.uniform(0, 16, size=(n, 3)).astype(np.float32)
        ca[3] = np.nan
        out.append(
            ProteinRecord(
                f"P{k}",
                "".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), size=n)),
                ca=ca,
                ss8="".join(rng.choice(list("HGIEBTS-"), size=n)),
                sites=sorted(rng.choice(n, size=4, replace=False).tolist()),
                ptms=None if k % 2 else [1, 5],
                source=f"test:{k}",
            )
        )
    return out


def test_shuffle_keeps_composition_and_every_label_in_place():
    records = _records()
    original = [r.sequence for r in records]
    shuffled = shuffle_sequences(records, seed=7)
    assert [r.sequence for r in records] == original  # input untouched
    assert [r.id for r in shuffled] == [r.id for r in records]
    assert any(s.sequence != r.sequence for s, r in zip(shuffled, records))
    for s, r in zip(shuffled, records):
        assert Counter(s.sequence) == Counter(r.sequence)
        np.testing.assert_array_equal(s.ca, r.ca)
        np.testing.assert_array_equal(s.valid, r.valid)
        assert (s.ss8, s.sites, s.ptms) == (r.ss8, r.sites, r.ptms)
        assert "shuffled, seed 7" in s.source
        assert s.ca is not r.ca
    assert [r.sequence for r in shuffle_sequences(records, seed=7)] == [r.sequence for r in shuffled]
    assert [r.sequence for r in shuffle_sequences(records, seed=8)] != [r.sequence for r in shuffled]


# ---- the robustness run -----------------------------------------------------------------------
def test_run_null_models_matches_the_pipeline_run_per_condition(tiny_models, tmp_path):
    from plmscope.models.null import reinitialise
    from plmscope.models.registry import load_adapter
    from plmscope.runs.attention import run_attention
    from plmscope.runs.enrichment import run_enrichment
    from plmscope.analysis.robustness import CONDITIONS
    from plmscope.attention.extract import extract_attention
    from plmscope.runs.robustness import run_null_models

    model = str(tiny_models["bert"])
    records = _records()
    table = tmp_path / "proteins.parquet"
    write_proteins(records, table)
    out = tmp_path / "robustness"
    summary = run_null_models(table, out, model=model, theta=0.3, thresholds=(0.1, 0.5), top_k=2, seed=0,
                              random_std=0.5, n_boot=200, min_count=1, max_residues=60, device="cpu",
                              progress=False)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proteins.parquet", "robustness"]  # scratch removed
    assert set(summary["attention_rows"]) == set(CONDITIONS)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["thresholds"] == [0.1, 0.3, 0.5]

    # each condition, run through the ordinary attention + enrichment verbs at theta, gives the same numbers
    shuffled = tmp_path / "ref" / "shuffled.parquet"
    write_proteins(shuffle_sequences(read_proteins(table), seed=0), shuffled)
    run_attention(table, tmp_path / "ref" / "real", model=model, theta=0.3, max_residues=60, device="cpu",
                  progress=False)  # fmt: skip
    run_attention(shuffled, tmp_path / "ref" / "shuffled", model=model, theta=0.3, max_residues=60, device="cpu",
                  progress=False)  # fmt: skip
    adapter = reinitialise(load_adapter(model, max_residues=60, device="cpu"), seed=0, std=0.5)
    extract_attention(adapter, [(r.id, r.sequence) for r in records], tmp_path / "ref" / "random_weights", theta=0.3,
                      progress=False)  # fmt: skip
    reference = {}
    for condition in CONDITIONS:
        run_enrichment(tmp_path / "ref" / condition, table, tmp_path / "ref" / f"{condition}_enrichment", min_count=1)
        reference[condition] = pd.read_parquet(tmp_path / "ref" / f"{condition}_enrichment" / "enrichment.parquet")

    null = pd.read_parquet(out / "null_models.parquet")
    top = pd.read_parquet(tmp_path / "ref" / "real_enrichment" / "enrichment.parquet")
    top = top[~top["masked"] & (top["rank"] <= 2)]
    assert sorted(zip(null["feature"], null["label"])) == sorted(zip(top["feature"], top["label"]))
    for condition in CONDITIONS:
        ref = reference[condition].set_index(["feature", "layer", "head"])
        for row in null.itertuples():
            r = ref.loc[(row.feature, row.layer, row.head)]
            assert getattr(row, f"n_attention_{condition}") == r["n_attention"]
            expected = r["n_feature"] / r["n_attention"] if r["n_attention"] else np.nan
            np.testing.assert_allclose(getattr(row, f"proportion_{condition}"), expected, equal_nan=True)
    assert summary["attention_rows"]["random_weights"] > 0  # std 0.5 gives peaked attention

    # the sweep: counts shrink as the threshold rises; at theta it is the null-model table
    sweep = pd.read_parquet(out / "threshold_sweep.parquet")
    for _, group in sweep.groupby(["condition", "feature", "layer", "head"]):
        counts = group.sort_values("threshold")["n_attention"].to_numpy()
        assert (np.diff(counts) <= 0).all()
    at_theta = sweep[(sweep["condition"] == "real") & (sweep["threshold"] == 0.3)]
    merged = at_theta.merge(null, on=["feature", "layer", "head"])
    np.testing.assert_allclose(merged["proportion"], merged["proportion_real"])

    # bootstrap: the point estimate is the micro-averaged proportion and lies inside its interval
    boot = pd.read_parquet(out / "bootstrap.parquet")
    real = boot[boot["condition"] == "real"].merge(null, on=["feature", "layer", "head"])
    np.testing.assert_allclose(real["proportion"], real["proportion_real"])
    assert (real["ci_low"] <= real["proportion"] + 1e-12).all()
    assert (real["proportion"] <= real["ci_high"] + 1e-12).all()
    np.testing.assert_allclose(null["ci_low_real"], real.set_index(["feature", "layer", "head"]).loc[
        list(zip(null["feature"], null["layer"], null["head"])), "ci_low"].to_numpy())  # fmt: skip

    best = pd.read_parquet(out / "best_heads.parquet")
    assert set(best["condition"]) == set(CONDITIONS) and set(best["threshold"]) == {0.1, 0.3, 0.5}
    for name in ("null_models", "threshold_sweep"):
        for fmt in ("png", "svg"):
            assert (out / f"{name}.{fmt}").stat().st_size > 0


def test_run_null_models_rejects_bad_options_before_running(tmp_path):
    from plmscope.runs.robustness import run_null_models

    table = tmp_path / "proteins.parquet"
    write_proteins(_records(), table)
    with pytest.raises(PlmscopeError, match="thresholds"):
        run_null_models(table, tmp_path / "out", model="unused", thresholds=(0.0, 0.3))
    with pytest.raises(PlmscopeError, match="long_sequences"):
        run_null_models(table, tmp_path / "out", model="unused", long_sequences="window")
    with pytest.raises(PlmscopeError, match="n_boot"):
        run_null_models(table, tmp_path / "out", model="unused", n_boot=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proteins.parquet"]
