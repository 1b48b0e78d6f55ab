"""Binding-site background rate on the real provis validation split (paper: 4.83% on the train split)."""

from __future__ import annotations

import numpy as np

from plmscope.analysis.features import backgrounds, feature_arrays
from plmscope.data.tape_lmdb import read_tape_lmdb

MAX_RESIDUES = 510
"""Residues analysed per protein: the attention stage's default (512 BERT tokens minus <cls>/<sep>)."""


def test_binding_site_background_on_the_provis_validation_split(shared_data):
    records = read_tape_lmdb(shared_data / "tape_lmdb" / "binding_site_valid.lmdb")
    assert len(records) == 1418
    analysed = {r.id: min(len(r.sequence), MAX_RESIDUES) for r in records}
    arrays = feature_arrays(records, analysed)
    row = backgrounds(arrays, features=["binding_site"]).iloc[0]

    # counted independently from the records: labelled residues within the analysed prefix
    n_sites = sum(int(np.sum(np.asarray(r.sites) < analysed[r.id])) for r in records if r.sites is not None)
    n_residues = sum(analysed[r.id] for r in records if r.sites is not None)
    assert (row["n_feature"], row["n_eligible"]) == (n_sites, n_residues)

    rate = float(row["background"])
    print(f"provis binding_site_valid background: {rate:.4%} ({n_sites}/{n_residues} residues, "
          f"first {MAX_RESIDUES} residues of {len(records)} chains)")
    assert 0.01 < rate < 0.2


def test_provis_semantics_binding_site_background_keeps_511_residues(shared_data):
    from plmscope.analysis.provis_enrichment import provis_backgrounds

    records = read_tape_lmdb(shared_data / "tape_lmdb" / "binding_site_valid.lmdb")
    row = provis_backgrounds(records, features=["binding_site"]).iloc[0]
    labelled = [r for r in records if r.sites is not None]
    # provis: labels padded with -1 for <cls>, cut to 512 entries -> the first 511 residues
    assert row["n_eligible"] == sum(min(len(r.sequence), 511) for r in labelled)
    assert row["n_feature"] == sum(int(np.sum(np.asarray(r.sites) < 511)) for r in labelled)
    plm = backgrounds(feature_arrays(records, {r.id: min(len(r.sequence), MAX_RESIDUES) for r in records}),
                      features=["binding_site"]).iloc[0]
    assert row["n_eligible"] - plm["n_eligible"] == sum(len(r.sequence) > 510 for r in labelled)
