"""prepare(): format dispatch, atomic output, and the embedded demo dataset."""

import csv
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from plmscope.data.prepare import prepare
from plmscope.data.table import read_proteins
from plmscope.errors import PlmscopeError

DATA = Path(__file__).parent / "data"


def test_prepare_structures_with_dssp(shared_data, tmp_path):
    if shutil.which("mkdssp") is None:
        pytest.skip("mkdssp not installed (Debian package dssp)")
    out = tmp_path / "proteins.parquet"
    n = prepare([shared_data / "pdb" / "1A8O.pdb", shared_data / "pdb" / "1LCD.pdb"], fmt="pdb", output=out, dssp=True)
    assert n == 2
    a8o, lcd = read_proteins(out)
    assert (a8o.id, lcd.id) == ("1A8O_A", "1LCD_A")
    assert len(a8o.ss8) == 70 and "H" in a8o.ss8
    assert lcd.sites == [23] and a8o.sites is None
    assert [p.name for p in tmp_path.iterdir()] == ["proteins.parquet"]  # no temp files left


def test_prepare_stops_at_first_bad_input(tmp_path):
    out = tmp_path / "proteins.parquet"
    with pytest.raises(PlmscopeError, match=r"letter_j\.fasta: record 'J1' has unknown residue 'J'"):
        prepare([DATA / "tiny.fasta", DATA / "bad" / "letter_j.fasta"], fmt="fasta", output=out)
    assert not out.exists()


def test_missing_input_named_before_parsing(tmp_path):
    out = tmp_path / "proteins.parquet"
    missing = tmp_path / "nope.fasta"
    with pytest.raises(PlmscopeError, match=rf"^{missing}: input not found$"):
        prepare([DATA / "tiny.fasta", missing], fmt="fasta", output=out)
    assert not out.exists()


def test_duplicate_ids_across_inputs(tmp_path):
    out = tmp_path / "proteins.parquet"
    with pytest.raises(PlmscopeError, match="duplicate protein id 'P1'"):
        prepare([DATA / "tiny.fasta", DATA / "tiny.fasta"], fmt="fasta", output=out)
    assert not out.exists()


def test_existing_output_kept_on_error(tmp_path):
    out = tmp_path / "proteins.parquet"
    assert prepare([DATA / "tiny.fasta"], fmt="fasta", output=out) == 2
    before = out.read_bytes()
    with pytest.raises(PlmscopeError):
        prepare([DATA / "bad" / "internal_stop.fasta"], fmt="fasta", output=out)
    assert out.read_bytes() == before


def test_option_errors(tmp_path):
    out = tmp_path / "proteins.parquet"
    with pytest.raises(PlmscopeError, match="unknown input format 'genbank'"):
        prepare([DATA / "tiny.fasta"], fmt="genbank", output=out)
    with pytest.raises(PlmscopeError, match="DSSP secondary structure needs structure files"):
        prepare([DATA / "tiny.fasta"], fmt="fasta", output=out, dssp=True)
    with pytest.raises(PlmscopeError, match="no input files given"):
        prepare([], fmt="fasta", output=out)
    assert not out.exists()


def test_demo_dataset(repo_dir):
    demo = repo_dir / "resources" / "demo"
    table = demo / "proteins.parquet"
    assert table.stat().st_size < 1_000_000
    records = read_proteins(table)
    with (demo / "provenance.tsv").open() as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert list(rows[0]) == ["id", "package", "file", "chain", "licence", "length", "n_sites"]
    by_id = {row["id"]: row for row in rows}
    assert [r.id for r in records] == [row["id"] for row in rows]
    assert 12 <= len(records) <= 16
    assert len({r.sequence for r in records}) == len(records)  # one chain per distinct protein
    assert 2000 <= sum(len(r.sequence) for r in records) <= 3000
    for rec in records:
        row = by_id[rec.id]
        assert 40 <= len(rec.sequence) <= 300 and int(row["length"]) == len(rec.sequence)
        assert rec.ss8 is not None and len(rec.ss8) == len(rec.sequence)
        assert set(rec.ss8) <= set("GHIBEST-") and set(rec.ss8) != {"-"}
        assert rec.ca is not None and rec.valid.mean() > 0.9
        assert row["n_sites"] == ("" if rec.sites is None else str(len(rec.sites)))
        assert row["licence"] and row["package"] in {"python-biopython-doc", "freesasa", "pymol-data", "emboss-test"}
        gaps = np.linalg.norm(np.diff(rec.ca, axis=0), axis=1)
        assert 3.7 < np.nanmedian(gaps) < 3.9  # CA trace in Å
    assert sum(rec.sites is not None and len(rec.sites) > 0 for rec in records) >= 3


@pytest.mark.slow
def test_demo_rebuild_matches_committed(repo_dir, tmp_path, monkeypatch):
    """scripts/build_demo.py reproduces the committed demo table (needs the Debian packages)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_demo", repo_dir / "scripts" / "build_demo.py")
    build_demo = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "build_demo", build_demo)  # dataclasses look their module up
    spec.loader.exec_module(build_demo)
    if shutil.which("mkdssp") is None or not all(Path(p.file).exists() for p in build_demo.PICKS):
        pytest.skip("demo sources need Debian packages dssp, python-biopython-doc, freesasa, pymol-data, emboss-test")
    assert build_demo.main(["--out", str(tmp_path)]) == 0
    assert (tmp_path / "provenance.tsv").read_text() == (repo_dir / "resources/demo/provenance.tsv").read_text()
    fresh = read_proteins(tmp_path / "proteins.parquet")
    committed = read_proteins(repo_dir / "resources/demo/proteins.parquet")
    for a, b in zip(fresh, committed, strict=True):
        for field in ("id", "sequence", "ss8", "sites", "ptms", "source"):
            assert getattr(a, field) == getattr(b, field), (a.id, field)
        np.testing.assert_array_equal(a.ca, b.ca)


def test_merge_tables(tmp_path):
    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"
    prepare([DATA / "tiny.fasta"], fmt="fasta", output=first)
    prepare([DATA / "tiny.proteinnet"], fmt="proteinnet", output=second)
    merged = tmp_path / "merged.parquet"
    assert prepare([first, second], fmt="table", output=merged) == 4
    assert [r.id for r in read_proteins(merged)] == ["P1", "P2|x", "TINY_1", "TINY_2"]


def test_sample_is_seeded_order_preserving_and_bounded(tmp_path):
    from plmscope.data.prepare import sample_records
    from plmscope.data.table import ProteinRecord

    records = [ProteinRecord(id=f"p{k}", sequence="ACDE") for k in range(50)]
    first = sample_records(records, n=10, seed=123)
    again = sample_records(records, n=10, seed=123)
    other = sample_records(records, n=10, seed=7)
    assert [r.id for r in first] == [r.id for r in again]
    assert [r.id for r in first] != [r.id for r in other]
    assert len(first) == 10 and len({r.id for r in first}) == 10
    positions = [int(r.id[1:]) for r in first]
    assert positions == sorted(positions)
    assert sample_records(records, n=500, seed=1) == records
