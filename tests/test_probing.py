"""Linear probes: metrics with known answers, residue-aligned hidden states, and planted layers that probes find."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import f1_score
from transformers import AutoModel, AutoTokenizer

import plmscope.models.registry as registry
from plmscope.analysis.probing import (
    attention_pair_features,
    binary_f1,
    candidate_pairs,
    chance_pooled_precision,
    make_probe,
    one_vs_all_f1,
    embedding_pair_features,
    pooled_precision_at_k,
    sample_pairs,
    split_proteins,
    ss_codes,
    top_k_size,
)
from plmscope.data.contacts import pair_contacts
from plmscope.data.table import read_proteins, write_proteins
from plmscope.errors import PlmscopeError
from plmscope.models.registry import load_adapter
from plmscope.models.tiny import save_tiny_model
from plmscope.runs.probing import RESULT_COLUMNS, _pair_scores, run_probing

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "resources/demo/proteins.parquet"
FAMILIES = ["bert", "esm", "albert", "xlnet"]
LEADING = {"bert": 1, "esm": 1, "albert": 1, "xlnet": 0}
SEQS = ["MKTAYIAKQRQISFVKSHFSRQ", "EVQLVESGGG", "ACDEFGHIKLMNPQRSTVWY"]


# ---- metrics -------------------------------------------------------------------------------------
def test_precision_at_k_pools_the_top_k_of_each_protein():
    scores = [np.array([0.9, 0.8, 0.1, 0.7, 0.2]), np.array([0.5, 0.6, 0.4])]
    labels = [np.array([1, 0, 1, 1, 0]), np.array([0, 1, 0])]
    # protein 1: top 3 = 0.9 (1), 0.8 (0), 0.7 (1) -> 2 hits; protein 2: top 1 = 0.6 (1) -> 1 hit
    assert pooled_precision_at_k(scores, labels, [3, 1]) == (pytest.approx(3 / 4), 4)
    # k larger than the candidates takes them all; k = 0 skips the protein
    assert pooled_precision_at_k(scores, labels, [10, 0]) == (pytest.approx(3 / 5), 5)
    value, taken = pooled_precision_at_k(scores, labels, [0, 0])
    assert np.isnan(value) and taken == 0
    # ties are broken by candidate order (stable), so the result is deterministic
    assert pooled_precision_at_k([np.zeros(4)], [np.array([0, 1, 1, 1])], [1]) == (0.0, 1)
    with pytest.raises(PlmscopeError, match="3 scores for 2 labels"):
        pooled_precision_at_k([np.zeros(3)], [np.zeros(2)], [1])
    with pytest.raises(PlmscopeError, match="k values"):
        pooled_precision_at_k(scores, labels, [1])


def test_chance_precision_and_top_k_size():
    labels = [np.array([1, 0, 0, 0]), np.array([1, 1])]
    assert chance_pooled_precision(labels, [2, 1]) == pytest.approx((2 * 0.25 + 1 * 1.0) / 3)
    assert top_k_size(100, 5) == 20 and top_k_size(147, 20) == 7 and top_k_size(9, 20) == 0
    with pytest.raises(PlmscopeError):
        top_k_size(10, 0)


def test_f1_matches_scikit_learn_and_one_vs_all():
    rng = np.random.default_rng(0)
    truth, predicted = rng.random(200) < 0.3, rng.random(200) < 0.4
    assert binary_f1(truth, predicted) == pytest.approx(f1_score(truth, predicted))
    assert np.isnan(binary_f1(np.zeros(5, bool), np.zeros(5, bool)))
    codes = ss_codes("HHHEE-TTGB")
    assert codes.tolist() == [0, 0, 0, 1, 1, -1, 2, 2, 0, 1]
    scores = one_vs_all_f1(codes, {"helix": codes == 0, "strand": np.ones(10, bool)})
    assert scores["helix"] == 1.0 and scores["strand"] == pytest.approx(2 * 3 / (2 * 3 + 7))
    assert "turn_bend" not in scores


def test_pair_features_are_symmetric_and_attention_is_symmetrised():
    h = np.random.default_rng(1).normal(size=(6, 4)).astype(np.float32)
    i, j = np.array([0, 2, 5]), np.array([3, 4, 1])
    x = embedding_pair_features(h, i, j)
    assert x.shape == (3, 8)
    np.testing.assert_allclose(x, embedding_pair_features(h, j, i))
    np.testing.assert_allclose(x[:, :4], h[i] * h[j])
    a = np.random.default_rng(2).uniform(size=(2, 6, 6)).astype(np.float32)
    f = attention_pair_features(a, i, j)
    assert f.shape == (3, 2)
    np.testing.assert_allclose(f[1], (a[:, 2, 4] + a[:, 4, 2]) / 2)


def test_candidate_and_sampled_pairs():
    valid = np.ones(20, dtype=bool)
    valid[3] = False
    i, j = candidate_pairs(valid, min_separation=6)
    assert (j - i >= 6).all() and valid[i].all() and valid[j].all()
    assert len(i) == sum(1 for a in range(20) for b in range(a + 6, 20) if valid[a] and valid[b])
    si, sj = sample_pairs(valid, min_separation=6, max_pairs=10, rng=np.random.default_rng(0))
    assert len(si) == 10 and set(zip(si, sj)) <= set(zip(i, j))
    again = sample_pairs(valid, min_separation=6, max_pairs=10, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(si, again[0])
    assert len(sample_pairs(valid, min_separation=6, max_pairs=None, rng=np.random.default_rng(0))[0]) == len(i)


def test_split_is_seeded_disjoint_and_stratified():
    ids = [f"p{k}" for k in range(20)]
    strata = [k < 4 for k in range(20)]
    train, valid = split_proteins(ids, valid_fraction=0.3, seed=7, strata=strata)
    assert sorted(train + valid) == sorted(ids) and not set(train) & set(valid)
    assert len(valid) == 1 + 5  # round(4 * 0.3) of the first stratum, round(16 * 0.3) of the second
    assert sum(strata[ids.index(p)] for p in valid) == 1
    assert (train, valid) == split_proteins(ids, valid_fraction=0.3, seed=7, strata=strata)
    assert split_proteins(ids, valid_fraction=0.3, seed=8, strata=strata)[1] != valid
    with pytest.raises(PlmscopeError, match="valid_fraction"):
        split_proteins(ids, valid_fraction=1.0, seed=0)
    with pytest.raises(PlmscopeError, match="at least 2"):
        split_proteins(["a"], valid_fraction=0.5, seed=0)


def test_folded_pair_scores_equal_the_pipeline():
    rng = np.random.default_rng(3)
    h = rng.normal(size=(30, 5))
    i, j = candidate_pairs(np.ones(30, bool), min_separation=2)
    y = rng.random(len(i)) < 0.3
    probe = make_probe(C=0.5).fit(embedding_pair_features(h, i, j), y)
    np.testing.assert_allclose(_pair_scores(probe, h, i, j), probe.decision_function(embedding_pair_features(h, i, j)),
                               rtol=1e-5, atol=1e-6)  # fmt: skip


# ---- hidden states of the adapters -----------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return {fam: save_tiny_model(fam, root / fam, layers=2, heads=2, hidden=16, seed=5) for fam in FAMILIES}


@pytest.mark.parametrize("family", FAMILIES)
def test_hidden_states_are_residue_aligned(tiny_dirs, family):
    adapter = load_adapter(tiny_dirs[family], max_residues=40, device="cpu")
    tokenizer = AutoTokenizer.from_pretrained(tiny_dirs[family])
    model = AutoModel.from_pretrained(tiny_dirs[family]).eval()
    batch = adapter.encode(SEQS)
    with torch.inference_mode():
        states = adapter.hidden_states(batch)
        assert len(states) == 3  # embeddings + 2 layers
        lr = max(map(len, SEQS))
        for b, seq in enumerate(SEQS):
            enc = tokenizer(seq if family == "esm" else " ".join(seq), return_tensors="pt")
            raw = model(**enc, output_hidden_states=True).hidden_states
            s, n = LEADING[family], len(seq)
            for ours, theirs in zip(states, raw):
                assert ours.shape == (3, lr, 16)
                torch.testing.assert_close(ours[b, :n], theirs[0, s : s + n], atol=1e-5, rtol=1e-4)
                assert float(ours[b, n:].abs().sum()) == 0.0


# ---- probes on planted features ------------------------------------------------------------------
class PlantedAdapter:
    """Stands in for a model: layer ``embed_layer`` of the hidden states encodes the labels linearly, and
    head 0 of attention layer ``attention_layer`` (1-based) is the contact map; everything else is noise."""

    n_special = 2
    max_residues = 1000

    def __init__(self, records, *, num_layers=3, num_heads=2, dim=8, embed_layer=2, attention_layer=1, seed=0):
        self.num_layers, self.num_heads = num_layers, num_heads
        rng = np.random.default_rng(seed)
        self.hidden, self.attention = {}, {}
        for r in records:
            n = len(r.sequence)
            layers = [rng.normal(size=(n, dim)).astype(np.float32) for _ in range(num_layers + 1)]
            ss = ss_codes(r.ss8)
            planted = layers[embed_layer]
            planted[:, :3] = np.stack([ss == 0, ss == 1, ss == 2], axis=1)
            planted[:, 3] = 0.0
            if r.sites is not None:
                planted[r.sites, 3] = 1.0
            planted[:, 4:7] = np.nan_to_num(r.ca, nan=0.0) / 10.0
            self.hidden[r.id] = layers
            heads = rng.uniform(0, 0.1, size=(num_layers, num_heads, n, n)).astype(np.float32)
            i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
            contact = pair_contacts(r.ca, r.valid, i.ravel(), j.ravel(), min_separation=1).reshape(n, n) == 1
            heads[attention_layer - 1, 0] = contact
            self.attention[r.id] = heads

    def encode(self, sequences, *, ids):
        return SimpleNamespace(ids=list(ids), lengths=[len(s) for s in sequences])

    @staticmethod
    def _stack(arrays, shape):
        """Zero-padded ``(B, *shape)`` tensor of per-protein arrays."""
        out = np.zeros((len(arrays), *shape), dtype=np.float32)
        for b, a in enumerate(arrays):
            out[b][tuple(slice(0, s) for s in a.shape)] = a
        return torch.from_numpy(out)

    def hidden_states(self, batch):
        lr, dim = max(batch.lengths), self.hidden[batch.ids[0]][0].shape[1]
        return tuple(
            self._stack([self.hidden[p][layer] for p in batch.ids], (lr, dim)) for layer in range(self.num_layers + 1)
        )

    def attentions(self, batch):
        lr = max(batch.lengths)
        return tuple(
            self._stack([self.attention[p][layer] for p in batch.ids], (self.num_heads, lr, lr))
            for layer in range(self.num_layers)
        )


def _oracle_precision(proteins, task, divisor, *, cutoff=8.0, min_separation=6):
    """precision@L/divisor of a perfect ranking (below 1 when a protein has fewer positives than k)."""
    hits = taken = 0
    for r in proteins:
        n = len(r.sequence)
        if task == "binding_site":
            positives, candidates = len(r.sites), n
        else:
            i, j = candidate_pairs(r.valid, min_separation=min_separation)
            labels = pair_contacts(r.ca, r.valid, i, j, cutoff=cutoff, min_separation=min_separation)
            positives = int((labels == 1).sum())
            candidates = len(i)
        k = min(top_k_size(n, divisor), candidates)
        hits += min(k, positives)
        taken += k
    return hits / taken


def test_planted_layers_are_found_and_others_are_near_chance(tmp_path, monkeypatch):
    records = read_proteins(DEMO)
    adapter = PlantedAdapter(records)
    monkeypatch.setattr(registry, "load_adapter", lambda *args, **kwargs: adapter)
    out = tmp_path / "probing"
    summary = run_probing(DEMO, out, model="planted", valid_fraction=0.3, seed=0, threads=1, max_pairs_per_protein=300)
    table = pd.read_csv(out / "probing.csv")
    assert list(table.columns) == list(RESULT_COLUMNS)
    assert summary["train_proteins"] + summary["valid_proteins"] == len(records)
    split = pd.read_csv(out / "split.csv")
    valid = [r for r in records if r.id in set(split.loc[split["split"] == "valid", "protein_id"])]

    def value(probe, task, layer):
        row = table[(table["probe"] == probe) & (table["task"] == task) & (table["layer"] == layer)]
        assert len(row) == 1
        return float(row["score"].iloc[0])

    noise = [0, 1, 3]
    for task in ("helix", "strand", "turn_bend"):
        assert value("embedding", task, 2) > 0.99
        assert max(value("embedding", task, layer) for layer in noise) < 0.65
    sites_valid = [r for r in valid if r.sites is not None]
    assert value("embedding", "binding_site", 2) == pytest.approx(_oracle_precision(sites_valid, "binding_site", 20))
    assert max(value("embedding", "binding_site", layer) for layer in noise) < 0.5
    # contacts from the coordinates planted in layer 2 through |h_i - h_j| (a linear ranking by L1 distance)
    assert value("embedding", "contact", 2) > 0.8
    assert max(value("embedding", "contact", layer) for layer in noise) < 0.3
    # attention: head 0 of layer 1 is the contact map
    assert value("attention", "contact", 1) == pytest.approx(_oracle_precision(valid, "contact", 5))
    assert max(value("attention", "contact", layer) for layer in (2, 3)) < 0.3
    chance = table[(table["task"] == "contact")]["chance"]
    assert chance.nunique() == 1 and 0 < chance.iloc[0] < 0.15
    assert (out / "probing.png").stat().st_size > 1000 and (out / "probing.svg").exists()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["tasks"] == ["helix", "strand", "turn_bend", "binding_site", "contact"] and meta["skipped_tasks"] == {}


def test_layers_per_pass_gives_the_same_results(tmp_path, monkeypatch):
    records = read_proteins(DEMO)[:8]
    small = tmp_path / "small.parquet"
    write_proteins(records, small)
    adapter = PlantedAdapter(records, num_layers=2)
    monkeypatch.setattr(registry, "load_adapter", lambda *args, **kwargs: adapter)
    run_probing(small, tmp_path / "all", model="planted", tasks=["helix", "contact"], threads=1)
    run_probing(small, tmp_path / "split", model="planted", tasks=["helix", "contact"], threads=1, layers_per_pass=1)
    a, b = pd.read_csv(tmp_path / "all/probing.csv"), pd.read_csv(tmp_path / "split/probing.csv")
    key = ["probe", "task", "layer"]
    pd.testing.assert_frame_equal(a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True))


# ---- a real (tiny) model end to end, and errors -------------------------------------------------
def test_tiny_bert_end_to_end_with_a_validation_table(tmp_path, tiny_dirs):
    records = sorted(read_proteins(DEMO), key=lambda r: len(r.sequence))[:8]
    train, valid = tmp_path / "train.parquet", tmp_path / "valid.parquet"
    write_proteins(records[:5], train)
    write_proteins(records[5:], valid)
    out = tmp_path / "probing"
    summary = run_probing(train, out, model=str(tiny_dirs["bert"]), valid_proteins_path=valid, max_residues=60,
                          device="cpu", threads=1, tasks=["helix", "strand", "contact"])  # fmt: skip
    table = pd.read_csv(out / "probing.csv")
    assert len(table) == 3 * 3 + 2  # 3 tasks on embeddings + 2 layers, attention contacts on 2 layers
    assert table["score"].between(0, 1).all()
    assert (summary["train_proteins"], summary["valid_proteins"]) == (5, 3)
    split = pd.read_csv(out / "split.csv")
    assert split["n_residues"].max() == 60  # truncated to max_residues like the attention stage


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(PlmscopeError, match="unknown or empty"):
        run_probing(DEMO, tmp_path / "x", model="antiberty", tasks=["loops"])
    with pytest.raises(PlmscopeError, match="also in the training table"):
        run_probing(DEMO, tmp_path / "x", model="antiberty", valid_proteins_path=DEMO)
    with pytest.raises(PlmscopeError, match="max_pairs_per_protein"):
        run_probing(DEMO, tmp_path / "x", model="antiberty", max_pairs_per_protein=0)
    with pytest.raises(PlmscopeError, match="C: must be positive"):
        run_probing(DEMO, tmp_path / "x", model="antiberty", C=0)
    assert not (tmp_path / "x").exists()


def test_no_usable_task_is_an_error(tmp_path, monkeypatch):
    records = [r for r in read_proteins(DEMO) if r.sites is None][:6]
    table = tmp_path / "nosites.parquet"
    write_proteins(records, table)
    adapter = PlantedAdapter(records, num_layers=1, embed_layer=1)
    monkeypatch.setattr(registry, "load_adapter", lambda *args, **kwargs: adapter)
    with pytest.raises(PlmscopeError, match="binding_site: 0 training and 0 validation proteins"):
        run_probing(table, tmp_path / "x", model="planted", tasks=["binding_site"], threads=1)
    assert not (tmp_path / "x").exists()
