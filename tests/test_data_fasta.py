"""FASTA reader and sequence cleaning: accepted letters, rejected input, one-line errors."""

from pathlib import Path

import pytest

from plmscope.data.fasta import read_fasta
from plmscope.data.prepare import prepare
from plmscope.data.residues import STANDARD_AA, clean_sequence
from plmscope.errors import PlmscopeError

DATA = Path(__file__).parent / "data"


def _fails(path: Path, tmp_path: Path, *fragments: str) -> None:
    out = tmp_path / "proteins.parquet"
    with pytest.raises(PlmscopeError) as info:
        prepare([path], fmt="fasta", output=out)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_tiny_fasta():
    one, two = read_fasta(DATA / "tiny.fasta")
    assert one.id == "P1"  # first word of the header
    assert one.sequence == "MKTAYIAKQRQISFVKSHFS"  # lower case joined across lines, trailing '*' dropped
    assert two.id == "P2|x"
    assert two.sequence == "ACDXUZOBX"  # X U Z O B accepted
    assert one.ca is None and one.ss8 is None and one.sites is None
    assert one.source.endswith("tiny.fasta:P1")


def test_clean_sequence_rules():
    assert clean_sequence(" ac d\n*", where="f", record_id="r") == "ACD"
    assert len(STANDARD_AA) == 20
    with pytest.raises(PlmscopeError, match=r"^f: record 'r' has an internal stop '\*' at position 2$"):
        clean_sequence("A**", where="f", record_id="r")  # only ONE trailing '*' is removed
    with pytest.raises(PlmscopeError, match=r"^f: record 'r' has unknown residue '1' at position 3$"):
        clean_sequence("AC1", where="f", record_id="r")
    with pytest.raises(PlmscopeError, match=r"^f: record 'r' has an empty sequence$"):
        clean_sequence("*", where="f", record_id="r")


def test_prepare_fasta(tmp_path):
    out = tmp_path / "p.parquet"
    assert prepare([DATA / "tiny.fasta"], fmt="fasta", output=out) == 2
    assert out.exists()


@pytest.mark.parametrize(
    "name, fragments",
    [
        ("internal_stop.fasta", ["record 'S1' has an internal stop '*' at position 4"]),
        ("letter_j.fasta", ["record 'J1' has unknown residue 'J' at position 5"]),
        ("empty.fasta", ["file is empty"]),
        ("empty_sequence.fasta", ["record 'E1' has an empty sequence"]),
        ("not_fasta.fasta", ["not a FASTA file"]),
    ],
)
def test_bad_fasta(name, fragments, tmp_path):
    _fails(DATA / "bad" / name, tmp_path, *fragments)


def test_missing_fasta(tmp_path):
    _fails(tmp_path / "absent.fasta", tmp_path, "input not found")


def test_duplicate_fasta_ids(tmp_path):
    dup = tmp_path / "in.fasta"
    dup.write_text(">a\nMKV\n>a x\nGSW\n")
    with pytest.raises(PlmscopeError, match=r"in\.fasta: record id 'a' occurs more than once"):
        read_fasta(dup)


def test_fasta_as_editors_and_databases_write_it(tmp_path):
    """A UTF-8 byte-order mark, CRLF line ends and gzip compression (by content, any name) are read."""
    import gzip

    text = ">a desc\r\nMKV\r\nLA\r\n>b\r\nGSW\r\n"
    bom = tmp_path / "bom.fasta"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode())
    packed = tmp_path / "seqs.fa.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    for path in (bom, packed):
        got = [(r.id, r.sequence) for r in read_fasta(path)]
        assert got == [("a", "MKVLA"), ("b", "GSW")], path


def test_truncated_gzip_fasta_is_one_line(tmp_path):
    import gzip

    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    broken = tmp_path / "in" / "cut.fa.gz"
    broken.write_bytes(gzip.compress(b">a\nMKV\n" * 1000)[:40])
    _fails(broken, tmp_path / "out", "cannot read FASTA file")
