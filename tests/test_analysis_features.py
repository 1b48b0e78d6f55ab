"""Feature arrays of analysed proteins: offsets, truncation, annotations, token and pair features."""

from __future__ import annotations

import numpy as np
import pytest

from plmscope.analysis.features import (
    AMINO_ACID_FEATURES,
    FEATURES,
    backgrounds,
    check_contact_options,
    check_features,
    feature_arrays,
    pair_values,
)
from plmscope.data.table import ProteinRecord
from plmscope.errors import PlmscopeError


def _records():
    ca = np.stack([10.0 * np.arange(10), np.zeros(10), np.zeros(10)], axis=1)
    ca[7] = ca[0] + [0, 4, 0]  # contact (0, 7)
    ca[9] = ca[1] + [0, 4, 0]  # contact (1, 9), beyond the analysed prefix of 8
    ca[3] = np.nan
    return [
        ProteinRecord("A", "ACDKKWYHGA", ca=ca, ss8="HHGEE-TSBI", sites=[1, 9], ptms=[]),
        ProteinRecord("B", "WWK", ss8=None, sites=None, ptms=[2]),
    ]


def test_offsets_truncation_and_tokens():
    arrays = feature_arrays(_records(), {"B": 3, "A": 8})
    assert arrays.ids == ("B", "A")
    assert arrays.lengths.tolist() == [3, 8] and arrays.offsets.tolist() == [0, 3, 11]
    assert arrays.ca.shape == (11, 3) and np.isnan(arrays.ca[:3]).all()
    assert arrays.valid.tolist() == [False] * 3 + [True, True, True, False, True, True, True, True]
    assert np.flatnonzero(arrays.has("binding_site")).tolist() == [3 + 1]  # site 9 lies beyond 8
    assert np.flatnonzero(arrays.has("ptm")).tolist() == [2]
    assert np.flatnonzero(arrays.has("helix")).tolist() == [3, 4, 5]  # H H G
    assert np.flatnonzero(arrays.has("strand")).tolist() == [6, 7]
    assert np.flatnonzero(arrays.has("turn_bend")).tolist() == [9, 10]  # T S
    assert np.flatnonzero(arrays.has("aa_W")).tolist() == [0, 1, 8]
    assert arrays.annotated_for("binding_site").tolist() == [False, True]
    assert arrays.annotated_for("ptm").tolist() == [True, True]  # an empty list is an annotation
    assert arrays.annotated_for("helix").tolist() == [False, True]
    assert arrays.annotated_for("contact").tolist() == [False, True]
    assert arrays.annotated_for("aa_A").tolist() == [True, True]
    assert arrays.codes["aa"][[0, 2]].tolist() == [18, 8]  # W, K in ACDEFGHIKLMNPQRSTVWY


def test_pair_values_vectorised_over_proteins():
    arrays = feature_arrays(_records(), {"B": 3, "A": 8})
    protein = np.array([1, 1, 1, 1, 0])
    i = np.array([0, 7, 0, 3, 0])
    j = np.array([7, 0, 1, 0, 2])
    eligible, value = pair_values(arrays, "contact", protein, i, j)
    assert eligible.tolist() == [True, True, True, False, False]  # residue 3 missing; B has no structure
    assert value.tolist() == [True, True, False, False, False]
    eligible, value = pair_values(arrays, "ptm", protein, i, j)
    assert eligible.all() and value.tolist() == [False, False, False, False, True]
    eligible, value = pair_values(arrays, "binding_site", protein, i, j)
    assert eligible.tolist() == [True] * 4 + [False] and value.tolist() == [False, False, True, False, False]


def test_backgrounds():
    arrays = feature_arrays(_records(), {"B": 3, "A": 8})
    bg = backgrounds(arrays, features=["contact", "binding_site", "aa_W", "strand"]).set_index("feature")
    # A: 7 residues with coordinates among the first 8 -> 49 ordered pairs, 2 of them contacts.
    assert (bg.at["contact", "n_eligible"], bg.at["contact", "n_feature"]) == (49, 2)
    assert bg.at["contact", "background"] == pytest.approx(2 / 49)
    assert (bg.at["binding_site", "n_eligible"], bg.at["binding_site", "n_feature"]) == (8, 1)
    assert (bg.at["aa_W", "n_eligible"], bg.at["aa_W", "n_feature"]) == (11, 3)
    assert (bg.at["strand", "n_eligible"], bg.at["strand", "n_feature"]) == (8, 2)
    wide = backgrounds(arrays, features=["contact"], cutoff=11.0).set_index("feature")
    assert wide.at["contact", "n_feature"] == 4  # adds (1, 7) at 10.8 Å, |i - j| = 6
    none = backgrounds(feature_arrays(_records(), {"B": 3}), features=["contact"])
    assert none["n_eligible"].item() == 0 and np.isnan(none["background"].item())


def test_check_features_and_options():
    assert check_features(None) == FEATURES
    assert len(AMINO_ACID_FEATURES) == 20 and len(FEATURES) == 26
    assert check_features(["ptm", "contact", "ptm"]) == ("ptm", "contact")
    with pytest.raises(PlmscopeError, match="unknown feature"):
        check_features(["aa_J"])
    with pytest.raises(PlmscopeError, match="contact_min_separation"):
        check_contact_options(8.0, 0)
    with pytest.raises(PlmscopeError, match="contact_cutoff"):
        check_contact_options(float("nan"), 6)


def test_analysed_ids_and_lengths_checked():
    with pytest.raises(PlmscopeError, match="not in the protein table: 'Z'"):
        feature_arrays(_records(), {"A": 8, "Z": 3})
    with pytest.raises(PlmscopeError, match="protein 'B': 4 residues analysed but the sequence has 3"):
        feature_arrays(_records(), {"B": 4})
