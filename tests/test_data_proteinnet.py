"""ProteinNet text parser: real records, a tiny fixture and malformed inputs."""

from pathlib import Path

import numpy as np
import pytest

from plmscope.data.prepare import prepare
from plmscope.data.proteinnet import read_proteinnet
from plmscope.errors import PlmscopeError

DATA = Path(__file__).parent / "data"
TEN_IDS = [
    "4W8Q_1_A", "2J58_1_A", "3EAF_1_A", "3RZG_1_A", "4PR7_1_A",
    "3J9M_35_a", "4XHT_1_A", "4WVU_1_A", "2QXX_1_A", "3VC5_d3vc5a1",
]  # fmt: skip


def _fails(path: Path, tmp_path: Path, *fragments: str) -> str:
    """Run prepare on a bad input; check the one-line message and that nothing was written."""
    out = tmp_path / "proteins.parquet"
    with pytest.raises(PlmscopeError) as info:
        prepare([path], fmt="proteinnet", output=out)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []
    return message


def test_t0366_sample(shared_data):
    (rec,) = read_proteinnet(shared_data / "proteinnet" / "text_sample_T0366.txt")
    assert rec.id == "TBM#T0366"
    assert len(rec.sequence) == 106
    assert rec.sequence.startswith("TENLYFQSMGLRTVEMKKGP")
    # mask starts "----------++++++++----": the first 10 residues have no coordinates
    assert not rec.valid[:10].any() and rec.valid[10:18].all() and not rec.valid[18:22].any()
    assert int(rec.valid.sum()) == 84
    assert np.isnan(rec.ca[:10]).all()
    # residue 10 (0-based): N, CA, C are columns 30-32 of the three [TERTIARY] rows, in pm
    np.testing.assert_allclose(rec.ca[10], [16.077, 30.578, 10.599], atol=1e-4)
    assert rec.ss8 is None and rec.sites is None


def test_ten_records(shared_data):
    records = read_proteinnet(shared_data / "proteinnet" / "proteinnetpy_test_10records.txt")
    assert [r.id for r in records] == TEN_IDS
    assert [len(r.sequence) for r in records] == [242, 359, 391, 209, 222, 142, 103, 98, 190, 133]
    assert [int(r.valid.sum()) for r in records] == [234, 356, 384, 204, 171, 82, 94, 79, 189, 133]
    assert records[0].sequence.startswith("NGIVPDAGHQGPDVSAVNGG")
    for rec in records:
        # consecutive CA atoms of a chain sit 3.8 Å apart: checks the CA pick and pm -> Å
        both = rec.valid[:-1] & rec.valid[1:]
        gaps = np.linalg.norm(np.diff(rec.ca, axis=0), axis=1)[both]
        assert 3.7 < np.median(gaps) < 3.9, rec.id
        assert np.isnan(rec.ca[~rec.valid]).all() and not np.isnan(rec.ca[rec.valid]).any()


def test_tiny_fixture():
    one, two = read_proteinnet(DATA / "tiny.proteinnet")
    assert (one.id, one.sequence, two.id, two.sequence) == ("TINY_1", "MKVL", "TINY_2", "GSAW")
    assert one.valid.tolist() == [True, True, False, True]
    np.testing.assert_allclose(one.ca[[0, 1, 3]], [[0, 0, 0], [3.8, 0, 0], [11.4, 0, 0]], atol=1e-6)
    assert np.isnan(one.ca[2]).all()
    assert two.ca is None and two.valid is None  # [ID] and [PRIMARY] only


def test_prepare_writes_table(tmp_path):
    from plmscope.data.table import read_proteins

    out = tmp_path / "p.parquet"
    assert prepare([DATA / "tiny.proteinnet"], fmt="proteinnet", output=out) == 2
    back = read_proteinnet(DATA / "tiny.proteinnet")
    got = read_proteins(out)
    assert [r.id for r in got] == [r.id for r in back]
    np.testing.assert_array_equal(got[0].ca, back[0].ca)


@pytest.mark.parametrize(
    "name, fragments",
    [
        ("truncated.proteinnet", ["'TINY_1'", "[TERTIARY] has 1 rows, expected 3", "truncated"]),
        ("wrong_coords.proteinnet", ["'TINY_1'", "y row", "has 11 values, expected 12"]),
        ("mask_length.proteinnet", ["'TINY_1'", "[MASK]", "length 3, sequence has 4 residues"]),
        ("non_numeric.proteinnet", ["'TINY_1'", "non-numeric coordinate '1O2.5'"]),
        ("missing_primary.proteinnet", ["'NOSEQ'", "no [PRIMARY] section"]),
        ("empty.proteinnet", ["file is empty"]),
    ],
)
def test_bad_inputs(name, fragments, tmp_path):
    _fails(DATA / "bad" / name, tmp_path, *fragments)


def test_missing_file(tmp_path):
    _fails(tmp_path / "absent.txt", tmp_path, "input not found")


def test_text_before_first_id(tmp_path):
    bad = tmp_path / "in" / "x.txt"
    bad.parent.mkdir()
    bad.write_text("MKV\n[ID]\nA\n[PRIMARY]\nMKV\n")
    out = tmp_path / "p.parquet"
    with pytest.raises(PlmscopeError, match=r"x\.txt: line 1: text before the first \[ID\]"):
        prepare([bad], fmt="proteinnet", output=out)
    assert not out.exists()


def test_duplicate_ids(tmp_path):
    bad = tmp_path / "dup.txt"
    bad.write_text("[ID]\nA\n[PRIMARY]\nMKV\n\n[ID]\nA\n[PRIMARY]\nGSW\n")
    with pytest.raises(PlmscopeError, match=r"dup\.txt: record id 'A' occurs more than once"):
        read_proteinnet(bad)


def test_bad_residue_letter(tmp_path):
    bad = tmp_path / "j.txt"
    bad.write_text("[ID]\nA\n[PRIMARY]\nMKJV\n")
    with pytest.raises(PlmscopeError, match=r"j\.txt: record 'A' has unknown residue 'J' at position 3"):
        read_proteinnet(bad)
