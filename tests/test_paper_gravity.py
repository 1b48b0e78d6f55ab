"""Cross-layer summaries: layer profiles, center of gravity and per-amino-acid top heads on planted tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plmscope.analysis.enrichment import EnrichmentCounts, summarise
from plmscope.analysis.gravity import amino_acid_top_heads, center_of_gravity, gravity_table, layer_profiles
from plmscope.errors import PlmscopeError

# contact: 3 layers x 4 heads; proportions per head and thresholded weights per head
PROPORTIONS = np.array([[0.1, 0.1, 0.1, 0.1], [0.2, 0.4, 0.3, 0.3], [0.6, 0.6, 0.6, 0.6]])
N_ATTENTION = np.array([[1000, 1000, 1000, 1000], [1000, 3000, 1000, 1000], [1000, 1000, 1000, 1000]])


def _table(features=("contact", "helix"), *, extra=None) -> pd.DataFrame:
    n_att = np.stack([N_ATTENTION] * len(features)).astype(np.int64)
    n_feat = np.stack([np.round(PROPORTIONS * N_ATTENTION)] * len(features)).astype(np.int64)
    # helix: one masked head (10 weights, all on helix) that must be ignored, and a fully masked layer 3
    if "helix" in features:
        h = features.index("helix")
        n_att[h, 0, 3], n_feat[h, 0, 3] = 10, 10
        n_att[h, 2, :], n_feat[h, 2, :] = 5, 5
    if extra is not None:
        extra(n_att, n_feat)
    counts = EnrichmentCounts(tuple(features), n_att, n_feat, n_att.sum(axis=0))
    bg = pd.DataFrame({"feature": list(features), "n_eligible": 10_000, "n_feature": 500})
    bg["background"] = bg["n_feature"] / bg["n_eligible"]
    return summarise(counts, bg, min_count=100)


def test_center_of_gravity_known_values():
    assert center_of_gravity(np.array([0.1, 0.3, 0.6])) == pytest.approx(2.5)
    assert center_of_gravity(np.array([1.0, 0.0, 0.0, 0.0])) == pytest.approx(1.0)
    assert center_of_gravity(np.array([0.0, 0.0, 2.0])) == pytest.approx(3.0)
    # a fully masked layer (NaN) is skipped, not counted as zero weight at a wrong position
    assert center_of_gravity(np.array([0.5, np.nan, 0.5])) == pytest.approx(2.0)
    assert np.isnan(center_of_gravity(np.zeros(4)))
    assert np.isnan(center_of_gravity(np.full(3, np.nan)))


def test_layer_profiles_mean_pooled_and_max():
    profiles = layer_profiles(_table())
    contact = profiles[profiles["feature"] == "contact"].set_index("layer")
    np.testing.assert_allclose(contact["mean_proportion"], [0.1, 0.3, 0.6])
    # pooled: layer 2 weights head 2 (3000 weights at 0.4) three times as much
    np.testing.assert_allclose(contact["pooled_proportion"], [0.1, (200 + 1200 + 300 + 300) / 6000, 0.6])
    np.testing.assert_allclose(contact["max_proportion"], [0.1, 0.4, 0.6])
    assert contact["max_head"].tolist() == ["1-1", "2-2", "3-1"]  # ties go to the lowest head
    assert contact["layer_number"].tolist() == [1, 2, 3]
    assert contact["n_heads"].tolist() == [4, 4, 4]


def test_masked_heads_and_layers_are_ignored():
    profiles = layer_profiles(_table())
    helix = profiles[profiles["feature"] == "helix"].set_index("layer")
    assert helix.loc[0, "n_heads"] == 3
    assert helix.loc[0, "max_proportion"] == pytest.approx(0.1)  # the masked head at 100% is not the max
    assert helix.loc[0, "mean_proportion"] == pytest.approx(0.1)
    assert np.isnan(helix.loc[2, "mean_proportion"]) and helix.loc[2, "max_head"] == ""
    assert helix.loc[2, "n_heads"] == 0


def test_gravity_table_paper_and_pooled_centers_sorted():
    gravity = gravity_table(layer_profiles(_table()))
    by = gravity.set_index("feature")
    assert by.loc["contact", "center_of_gravity"] == pytest.approx(2.5)
    pooled = np.array([0.1, 2000 / 6000, 0.6])
    assert by.loc["contact", "center_of_gravity_pooled"] == pytest.approx((pooled * [1, 2, 3]).sum() / pooled.sum())
    assert by.loc["helix", "center_of_gravity"] == pytest.approx((0.1 + 2 * 0.3) / 0.4)
    assert by.loc["helix", "n_layers"] == 2 and by.loc["contact", "peak_layer_number"] == 3
    assert gravity["feature"].tolist() == ["helix", "contact"]  # lowest center first


def test_amino_acid_top_heads_one_row_per_amino_acid():
    def plant(n_att, n_feat):
        n_feat[0] = 0  # aa_A: only head 2-3 attends to alanine
        n_feat[0, 1, 2] = 700
        n_feat[1] = 0  # aa_C: head 3-4 at 50%
        n_feat[1, 2, 3] = 500

    top = amino_acid_top_heads(_table(("aa_A", "aa_C"), extra=plant))
    assert top["amino_acid"].tolist() == ["A", "C"]
    assert top["label"].tolist() == ["2-3", "3-4"]
    np.testing.assert_allclose(top["proportion"], [0.7, 0.5])
    assert (top["ci_low"] < top["proportion"]).all() and (top["ci_high"] > top["proportion"]).all()
    np.testing.assert_allclose(top["enrichment"], top["proportion"] / 0.05)


def test_amino_acid_top_heads_needs_amino_acids():
    with pytest.raises(PlmscopeError, match="no amino-acid features"):
        amino_acid_top_heads(_table(("contact",)))


def test_unknown_feature_and_empty_table_are_errors():
    with pytest.raises(PlmscopeError, match="no rows for feature"):
        layer_profiles(_table(), features=["strand"])
    with pytest.raises(PlmscopeError, match="empty"):
        layer_profiles(_table().iloc[:0])
