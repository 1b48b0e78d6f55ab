"""TAPE LMDB reader: the real binding-site / PTM splits and small LMDBs built in the test."""

import pickle
from pathlib import Path

import lmdb
import numpy as np
import pytest

from plmscope.data.prepare import prepare
from plmscope.data.tape_lmdb import SS8_CLASSES, read_tape_lmdb
from plmscope.errors import PlmscopeError

FIRST_SEQ_PREFIX = "QNLKSTDRAVQQMLDKAKRE"


def _make_lmdb(path: Path, items: dict[str, object], *, raw: dict[str, bytes] | None = None) -> Path:
    """Write an LMDB whose values are the pickled items (and optional raw byte values)."""
    env = lmdb.open(str(path), map_size=1 << 24, subdir=True)
    with env.begin(write=True) as txn:
        for key, value in items.items():
            txn.put(key.encode(), pickle.dumps(value))
        for key, value in (raw or {}).items():
            txn.put(key.encode(), value)
    env.close()
    return path


def _fails(path: Path, tmp_path: Path, *fragments: str) -> None:
    """prepare() on a bad LMDB: one-line error naming it and the problem, no output."""
    out = tmp_path / "out" / "proteins.parquet"
    with pytest.raises(PlmscopeError) as info:
        prepare([path], fmt="tape-lmdb", output=out)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    assert not out.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_binding_site_split(shared_data):
    path = shared_data / "tape_lmdb" / "binding_site_valid.lmdb"
    records = read_tape_lmdb(path)
    assert len(records) == 1418
    assert len({r.id for r in records}) == 1418
    first = records[0]
    assert first.id == "4udx.X" and first.sequence.startswith(FIRST_SEQ_PREFIX)
    # positions start at author number 4, so site 39 is residue 35 (0-based)
    assert first.sites[:4] == [35, 38, 43, 44] and len(first.sites) == 24
    assert first.ptms is None and first.ca is None and first.ss8 is None
    assert all(r.sites is not None for r in records)
    assert sum(len(r.sites) for r in records) > 10_000


def test_binding_site_rule_matches_raw_values(shared_data):
    path = shared_data / "tape_lmdb" / "binding_site_valid.lmdb"
    records = read_tape_lmdb(path)
    env = lmdb.open(str(path), readonly=True, lock=False)
    with env.begin() as txn:
        for key in ("0", "700", "1417"):
            item = pickle.loads(txn.get(key.encode()))
            rec = records[int(key)]
            assert rec.id == item["id"] and rec.sequence == item["primary"]
            expected = [k for k, p in enumerate(item["positions"]) if p in set(item["sites"])]
            assert rec.sites == expected
    env.close()


def test_ptm_split(shared_data):
    records = read_tape_lmdb(shared_data / "tape_lmdb" / "protein_modification_valid.lmdb")
    assert len(records) == 1418
    assert records[0].id == "4udx.X"
    assert records[0].ptms == [44, 47, 52, 66, 291, 522]
    assert all(r.ptms is not None and r.sites is None for r in records)


def test_proteinnet_kind(tmp_path):
    ca = np.arange(12, dtype=np.float32).reshape(4, 3)
    full = np.stack([ca - 1, ca, ca + 1], axis=1)  # (L, 3 atoms, 3): CA in the middle
    items = {
        "num_examples": 2,
        "0": {"id": "P1", "primary": "MKVL", "tertiary": full, "valid_mask": np.array([1, 1, 0, 1], bool)},
        "1": {"id": "P2", "primary": "GSAW", "tertiary": ca},  # (L, 3), no mask
    }
    one, two = read_tape_lmdb(_make_lmdb(tmp_path / "pn.lmdb", items))
    assert one.valid.tolist() == [True, True, False, True]
    np.testing.assert_array_equal(one.ca[[0, 1, 3]], ca[[0, 1, 3]])
    assert np.isnan(one.ca[2]).all()
    np.testing.assert_array_equal(two.ca, ca)
    assert two.valid.all()


def test_secondary_structure_kind(tmp_path):
    items = {
        "num_examples": 2,
        "0": {"id": "S1", "primary": "ACDEFGHIK", "ss8": np.array([0, 1, 2, 3, 4, 5, 6, 7, 1])},
        "1": {"id": "S2", "primary": "MKV", "ss8": [7, 7, 4]},
    }
    one, two = read_tape_lmdb(_make_lmdb(tmp_path / "ss.lmdb", items))
    assert SS8_CLASSES == "GHIBEST-"
    assert one.ss8 == "GHIBEST-H" and two.ss8 == "--E"


def test_missing_id_and_duplicates(tmp_path):
    site = {"primary": "MKVLA", "positions": [10, 11, 11, 12, 13], "sites": [11, 13]}
    items = {
        "num_examples": 4,
        "0": dict(site),  # no id -> <stem>_<key>
        "1": {**site, "id": "D"},
        "2": {**site, "id": "D"},  # identical content: dropped
        "3": {**site, "id": "D", "sites": [10]},  # same id, different labels: kept as D#3
    }
    records = read_tape_lmdb(_make_lmdb(tmp_path / "sites.lmdb", items))
    assert [r.id for r in records] == ["sites_0", "D", "D#3"]
    # a repeated author number (lost insertion code) labels every residue carrying it
    assert records[0].sites == [1, 2, 4]
    assert records[2].sites == [0]


def test_prepare_writes_table(tmp_path):
    items = {"num_examples": 1, "0": {"id": "A", "primary": "MKV", "positions": [1, 2, 3], "modifications": [2]}}
    out = tmp_path / "p.parquet"
    assert prepare([_make_lmdb(tmp_path / "a.lmdb", items)], fmt="tape-lmdb", output=out) == 1
    assert out.exists()


def test_missing_num_examples(tmp_path):
    path = _make_lmdb(tmp_path / "nonum.lmdb", {"0": {"id": "A", "primary": "MKV"}})
    _fails(path, tmp_path, "no 'num_examples' key")


def test_missing_record_key(tmp_path):
    path = _make_lmdb(tmp_path / "gap.lmdb", {"num_examples": 2, "0": {"id": "A", "primary": "MKV"}})
    _fails(path, tmp_path, "record key '1' is missing (num_examples = 2)")


def test_unpickling_failure(tmp_path):
    path = _make_lmdb(tmp_path / "corrupt.lmdb", {"num_examples": 1}, raw={"0": b"\x80\x04garbage"})
    _fails(path, tmp_path, "value of key '0' cannot be unpickled")


def test_wrong_tertiary_shape(tmp_path):
    items = {"num_examples": 1, "0": {"id": "A", "primary": "MKV", "tertiary": np.zeros((2, 3))}}
    _fails(_make_lmdb(tmp_path / "shape.lmdb", items), tmp_path, "record 'A'", "'tertiary' has shape (2, 3)")


def test_bad_residue(tmp_path):
    items = {"num_examples": 1, "0": {"id": "A", "primary": "MK*V"}}
    _fails(_make_lmdb(tmp_path / "stop.lmdb", items), tmp_path, "record 'A' has an internal stop '*' at position 3")


def test_not_a_directory(tmp_path):
    path = tmp_path / "file.lmdb"
    path.write_text("not lmdb")
    _fails(path, tmp_path, "expected a TAPE .lmdb directory")


def test_missing_input(tmp_path):
    _fails(tmp_path / "absent.lmdb", tmp_path, "input not found")


def test_bad_ss8_class(tmp_path):
    items = {"num_examples": 1, "0": {"id": "A", "primary": "MKV", "ss8": np.array([0, 8, 1])}}
    _fails(_make_lmdb(tmp_path / "ss.lmdb", items), tmp_path, "record 'A'", "'ss8' must hold integer classes 0..7")
