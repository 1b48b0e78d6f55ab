"""Contacts from CA coordinates: planted geometry, separation, missing residues, brute-force check."""

import numpy as np

from plmscope.data.contacts import contact_pairs, count_valid_pairs, pair_contacts


def _planted():
    """20 residues 20 Å apart on a line, with a few pairs moved close together."""
    ca = np.zeros((20, 3))
    ca[:, 0] = 20.0 * np.arange(20)
    ca[12] = ca[2] + [0, 5.0, 0]  # contact 2-12 (5 Å, separation 10)
    ca[6] = ca[0] + [8.0, 0, 0]  # exactly 8 Å: not a contact (strictly less than)
    ca[9] = ca[7] + [0, 0, 7.9]  # close, but separation 2 < 6
    ca[19] = ca[13] + [0, 3.0, 0]  # close, but residue 13 is marked missing
    valid = np.ones(20, dtype=bool)
    valid[13] = False
    ca[17] = np.nan
    valid[17] = False
    return ca, valid


def _pairs(i, j):
    return sorted(zip(i.tolist(), j.tolist()))


def test_planted_contacts():
    ca, valid = _planted()
    assert _pairs(*contact_pairs(ca, valid)) == [(2, 12), (12, 2)]
    assert _pairs(*contact_pairs(ca, valid, min_separation=2)) == [(2, 12), (7, 9), (9, 7), (12, 2)]
    assert _pairs(*contact_pairs(ca, valid, cutoff=8.01)) == [(0, 6), (2, 12), (6, 0), (12, 2)]
    i, j = contact_pairs(ca, valid)
    assert i.dtype == np.int64 and list(i) == [2, 12]  # sorted by i then j


def test_pair_labels():
    ca, valid = _planted()
    i = np.array([2, 12, 0, 7, 13, 1, 3])
    j = np.array([12, 2, 6, 9, 19, 17, 4])
    labels = pair_contacts(ca, valid, i, j)
    assert labels.dtype == np.int8
    assert labels.tolist() == [1, 1, 0, 0, -1, -1, 0]
    assert pair_contacts(ca, valid, i, j, min_separation=2).tolist() == [1, 1, 0, 1, -1, -1, 0]
    assert pair_contacts(ca, valid, i, j, cutoff=8.01).tolist() == [1, 1, 1, 0, -1, -1, 0]


def test_line_of_residues():
    """Points 3.8 Å apart: neighbours up to |i-j| = 2 (7.6 Å) are within 8 Å."""
    ca = np.zeros((10, 3))
    ca[:, 0] = 3.8 * np.arange(10)
    valid = np.ones(10, dtype=bool)
    assert _pairs(*contact_pairs(ca, valid)) == []  # default min_separation 6
    i, j = contact_pairs(ca, valid, min_separation=1)
    assert len(i) == 2 * (9 + 8) and set(np.abs(i - j).tolist()) == {1, 2}
    i, j = contact_pairs(ca, valid, min_separation=2)
    assert len(i) == 2 * 8 and set(np.abs(i - j).tolist()) == {2}


def test_matches_dense_brute_force():
    rng = np.random.default_rng(7)
    steps = rng.normal(size=(150, 3))
    ca = np.cumsum(3.8 * steps / np.linalg.norm(steps, axis=1, keepdims=True), axis=0)  # random walk chain
    valid = rng.random(150) > 0.1
    ca[~valid] = np.nan
    dist = np.linalg.norm(ca[:, None] - ca[None], axis=-1)
    sep = np.abs(np.arange(150)[:, None] - np.arange(150)[None])
    dense = (dist < 8.0) & (sep >= 6) & valid[:, None] & valid[None]
    i, j = contact_pairs(ca, valid)
    assert _pairs(i, j) == _pairs(*np.nonzero(dense))
    assert len(i) > 50
    ii, jj = np.meshgrid(np.arange(150), np.arange(150), indexing="ij")
    labels = pair_contacts(ca, valid, ii.ravel(), jj.ravel()).reshape(150, 150)
    expected = np.where(valid[:, None] & valid[None], dense.astype(np.int8), -1)
    np.testing.assert_array_equal(labels, expected)


def test_count_valid_pairs():
    rng = np.random.default_rng(3)
    valid = rng.random(40) > 0.3
    sep = np.abs(np.arange(40)[:, None] - np.arange(40)[None])
    both = valid[:, None] & valid[None]
    for s in (0, 1, 6, 39, 50):
        assert count_valid_pairs(valid, min_separation=s) == int((both & (sep >= s)).sum()), s
    assert count_valid_pairs(valid) == int(valid.sum()) ** 2


def test_degenerate_inputs():
    i, j = contact_pairs(np.zeros((1, 3)), np.ones(1, bool))
    assert len(i) == len(j) == 0
    i, j = contact_pairs(np.full((5, 3), np.nan), np.zeros(5, bool))
    assert len(i) == 0
    assert count_valid_pairs(np.zeros(0, bool), min_separation=6) == 0
