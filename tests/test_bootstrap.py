"""Per-protein attention counts and the protein-level bootstrap: sums, known cases, coverage, seeding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from plmscope.analysis.bootstrap import ProteinCounter, bootstrap_heads, bootstrap_ratio
from plmscope.analysis.enrichment import enrichment
from plmscope.analysis.features import feature_arrays
from plmscope.data.table import ProteinRecord
from plmscope.errors import PlmscopeError

LAYERS, HEADS = 2, 3


def _records() -> list[ProteinRecord]:
    line = np.stack([10.0 * np.arange(12), np.zeros(12), np.zeros(12)], axis=1)
    ca = line.copy()
    ca[8] = ca[0] + [0, 5, 0]  # one contact (0, 8)
    return [
        ProteinRecord("A", "ACDEFGHIKLMN", ca=ca, ss8="HHHHEEEE----", sites=[2, 8]),
        ProteinRecord("B", "KKKKKAAAAA", sites=None),  # no structure, no sites
        ProteinRecord("C", "MKTAYIAKQRQI", ca=line, ss8="------------", sites=[0]),
    ]


def _rows(rng: np.random.Generator, n: int, lengths: dict[str, int]) -> pa.Table:
    ids = rng.choice(list(lengths), size=n)
    length = np.array([lengths[p] for p in ids])
    return pa.table(
        {
            "protein_id": pa.array(ids, pa.string()),
            "layer": pa.array(rng.integers(0, LAYERS, n), pa.int16()),
            "head": pa.array(rng.integers(0, HEADS, n), pa.int16()),
            "i": pa.array((rng.random(n) * length).astype(np.int32), pa.int32()),
            "j": pa.array((rng.random(n) * length).astype(np.int32), pa.int32()),
        }
    )


def test_per_protein_counts_sum_to_the_enrichment_counts():
    records = _records()
    arrays = feature_arrays(records, {"A": 12, "B": 10, "C": 12})
    rng = np.random.default_rng(0)
    batches = [_rows(rng, 400, {"A": 12, "B": 10, "C": 12}) for _ in range(3)]
    counter = ProteinCounter(arrays, num_layers=LAYERS, num_heads=HEADS)
    for batch in batches:
        counter.add(batch)
    per_protein = counter.counts()
    total = enrichment(batches, arrays, num_layers=LAYERS, num_heads=HEADS)
    assert per_protein.features == total.features and per_protein.ids == ("A", "B", "C")
    np.testing.assert_array_equal(per_protein.n_attention.sum(axis=1), total.n_attention)
    np.testing.assert_array_equal(per_protein.n_feature.sum(axis=1), total.n_feature)
    f = per_protein.features.index("binding_site")
    assert per_protein.annotated[f].tolist() == [True, False, True]
    assert per_protein.n_attention[f, 1].sum() == 0  # protein B has no site annotation


def test_per_protein_counts_of_a_hand_made_batch():
    arrays = feature_arrays(_records(), {"A": 12, "B": 10, "C": 12})
    counter = ProteinCounter(arrays, num_layers=LAYERS, num_heads=HEADS, features=["contact", "binding_site"])
    counter.add(
        {
            "protein_id": ["A", "A", "A", "C", "B"],
            "layer": [1, 1, 0, 1, 1],
            "head": [2, 2, 2, 2, 2],
            "i": [0, 8, 0, 0, 0],
            "j": [8, 2, 3, 8, 6],
        }
    )
    counts = counter.counts()
    # contact: A's (0, 8) is one; (8, 2) is not; C has none; B has no structure (not eligible)
    assert counts.n_attention[0, :, 1, 2].tolist() == [2, 0, 1]
    assert counts.n_feature[0, :, 1, 2].tolist() == [1, 0, 0]
    # binding_site (attended residue j): A's sites are 2 and 8, C's is 0; B unannotated
    assert counts.n_feature[1, :, 1, 2].tolist() == [2, 0, 0]
    assert counts.n_attention[1, 0, 0, 2] == 1 and counts.n_feature[1, 0, 0, 2] == 0
    with pytest.raises(PlmscopeError, match="outside 2 layers x 3 heads x 12 residues"):
        counter.add({"protein_id": ["A"], "layer": [0], "head": [0], "i": [0], "j": [12]})
    with pytest.raises(PlmscopeError, match="'Z'"):
        counter.add({"protein_id": ["Z"], "layer": [0], "head": [0], "i": [0], "j": [0]})


def test_bootstrap_ratio_is_seeded_and_degenerate_when_proteins_agree():
    num = np.array([[2.0, 1.0], [4.0, 0.0], [6.0, 3.0]])
    den = np.array([[10.0, 5.0], [20.0, 5.0], [30.0, 5.0]])
    est, low, high, se = bootstrap_ratio(num, den, n_boot=500, seed=3)
    # column 0: every protein has ratio 0.2, so every replicate is 0.2
    assert est[0] == pytest.approx(0.2) and low[0] == pytest.approx(0.2) and high[0] == pytest.approx(0.2)
    assert se[0] == pytest.approx(0.0, abs=1e-12)
    assert est[1] == pytest.approx(4 / 15) and low[1] < est[1] < high[1] and 0 <= low[1] and high[1] <= 0.6
    again = bootstrap_ratio(num, den, n_boot=500, seed=3)
    other = bootstrap_ratio(num, den, n_boot=500, seed=4)
    np.testing.assert_array_equal(again[1], low)
    assert not np.array_equal(other[1], low) or not np.array_equal(other[2], high)


def test_bootstrap_ratio_zero_denominators_and_errors():
    est, low, high, se = bootstrap_ratio(np.zeros((4, 1)), np.zeros((4, 1)), n_boot=50)
    assert np.isnan([est[0], low[0], high[0], se[0]]).all()
    with pytest.raises(PlmscopeError, match="n_boot"):
        bootstrap_ratio(np.ones((2, 1)), np.ones((2, 1)), n_boot=0)
    with pytest.raises(PlmscopeError, match="must both be"):
        bootstrap_ratio(np.ones((2, 1)), np.ones((3, 1)))


def test_bootstrap_interval_covers_the_true_proportion():
    # proteins of varying size; each head's numerator ~ Binomial(den, p) with p = 0.3
    rng = np.random.default_rng(11)
    hits = 0
    trials = 60
    for _ in range(trials):
        den = rng.integers(20, 200, size=(40, 1)).astype(float)
        num = rng.binomial(den.astype(int), 0.3).astype(float)
        _, low, high, _ = bootstrap_ratio(num, den, n_boot=400, seed=int(rng.integers(1 << 30)))
        hits += low[0] <= 0.3 <= high[0]
    assert 0.85 * trials <= hits <= trials  # nominal 95%


def test_bootstrap_heads_resamples_annotated_proteins_only():
    arrays = feature_arrays(_records(), {"A": 12, "B": 10, "C": 12})
    counter = ProteinCounter(arrays, num_layers=LAYERS, num_heads=HEADS, features=["binding_site", "helix"])
    counter.add(_rows(np.random.default_rng(1), 600, {"A": 12, "B": 10, "C": 12}))
    counts = counter.counts()
    heads = pd.DataFrame({"feature": ["binding_site", "helix", "binding_site"], "layer": [0, 1, 1], "head": [2, 0, 1]})
    table = bootstrap_heads(counts, heads, n_boot=300, seed=0)
    assert table["label"].tolist() == ["1-3", "2-2", "2-1"]
    assert table["n_proteins"].tolist() == [2, 2, 2]  # B lacks sites and ss8
    f = counts.features.index("binding_site")
    row = table.iloc[0]
    assert row["n_attention"] == counts.n_attention[f, :, 0, 2].sum()
    assert row["proportion"] == pytest.approx(counts.n_feature[f, :, 0, 2].sum() / row["n_attention"])
    assert (table["ci_low"] <= table["proportion"]).all() and (table["proportion"] <= table["ci_high"]).all()
    with pytest.raises(PlmscopeError, match="'contact' was not counted"):
        bootstrap_heads(counts, pd.DataFrame({"feature": ["contact"], "layer": [0], "head": [0]}))
