"""PDB/mmCIF chains, SITE records and DSSP labels."""

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from plmscope.data import structure
from plmscope.data.prepare import prepare
from plmscope.data.structure import dssp_ss8, read_structure, structure_format
from plmscope.errors import PlmscopeError

DATA = Path(__file__).parent / "data"
ABETA = "LVFFAEDVGSNKGAIIGLMVGGVVIA"
needs_mkdssp = pytest.mark.skipif(shutil.which("mkdssp") is None, reason="mkdssp not installed (Debian package dssp)")


def test_2beg_five_chains(shared_data):
    records = read_structure(shared_data / "pdb" / "2BEG.pdb")
    assert [r.id for r in records] == ["2BEG_A", "2BEG_B", "2BEG_C", "2BEG_D", "2BEG_E"]
    assert all(r.sequence == ABETA for r in records)  # residues 17-42 of amyloid beta
    # first model, 'ATOM 2 CA LEU A 17 -15.394 -4.793 -3.408'
    np.testing.assert_allclose(records[0].ca[0], [-15.394, -4.793, -3.408], atol=1e-3)
    assert all(r.valid.all() and r.sites is None for r in records)


def test_1a8o_pdb_and_cif_agree(shared_data):
    (pdb,) = read_structure(shared_data / "pdb" / "1A8O.pdb")
    (cif,) = read_structure(shared_data / "pdb" / "1A8O.cif")
    assert pdb.id == cif.id == "1A8O_A"
    assert len(pdb.sequence) == 70
    assert pdb.sequence.startswith("MDIRQGPKEPFRDYVDRFYKTL")  # residue 151 is MSE (HETATM) -> M
    assert pdb.sequence == cif.sequence
    np.testing.assert_allclose(pdb.ca[0], [20.255, 33.101, 26.891], atol=1e-3)
    np.testing.assert_allclose(pdb.ca[-1], [22.536, 47.781, 8.491], atol=1e-3)  # CA GLY A 220
    np.testing.assert_allclose(pdb.ca, cif.ca, atol=1e-3)


def test_1lcd_protein_chain_and_site(shared_data):
    records = read_structure(shared_data / "pdb" / "1LCD.pdb")
    assert [r.id for r in records] == ["1LCD_A"]  # DNA chains B and C are skipped
    (rec,) = records
    assert len(rec.sequence) == 51
    # SITE AC1 names VAL A 24 (plus waters and DNA bases): residue index 23
    assert rec.sites == [23] and rec.sequence[23] == "V"
    np.testing.assert_allclose(rec.ca[23], [13.250, 27.320, 22.290], atol=1e-3)  # model 1


def test_tiny_fixture():
    a, c = read_structure(DATA / "tiny_site.pdb")
    assert (a.id, a.sequence, c.id, c.sequence) == ("9TST_A", "MMGAK", "9TST_C", "GX")
    # MSE (HETATM) -> M; GLY 3 has no CA; ALA 3A has an insertion code; HOH and the DNA chain are skipped
    assert a.valid.tolist() == [True, True, False, True, True]
    assert np.isnan(a.ca[2]).all()
    np.testing.assert_allclose(a.ca[[0, 1, 3, 4]], [[0, 0, 0], [3.8, 0, 0], [11.4, 0, 0], [15.2, 0, 0]], atol=1e-4)
    # SITE names MSE A 2, ALA A 3A, HOH A 101, DA B 1 and UNK C 2
    assert a.sites == [1, 3] and c.sites == [1]
    assert a.source.endswith("tiny_site.pdb:chain A")


def test_chain_selection_and_gzip(tmp_path):
    gz = tmp_path / "tiny_site.pdb.gz"
    gz.write_bytes(gzip.compress((DATA / "tiny_site.pdb").read_bytes()))
    (c,) = read_structure(gz, chains=["C"])
    assert (c.id, c.sequence, c.sites) == ("9TST_C", "GX", [1])
    with pytest.raises(PlmscopeError, match=r"tiny_site\.pdb\.gz: no protein chain 'B' \(protein chains: A, C\)"):
        read_structure(gz, chains=["B"])


def test_format_from_suffix():
    assert structure_format("x/1abc.cif.gz") == "mmcif"
    assert structure_format("1abc.mmcif") == "mmcif"
    assert structure_format("pdb1abc.ent.gz") == "pdb"
    assert structure_format("1abc.pdb") == "pdb"


@needs_mkdssp
def test_dssp_matches_reference_file(shared_data):
    """Our mkdssp run on the backbone reproduces the DSSP file shipped for 2BEG."""
    from Bio.PDB.DSSP import make_dssp_dict

    records = read_structure(shared_data / "pdb" / "2BEG.pdb")
    ours = dssp_ss8(shared_data / "pdb" / "2BEG.pdb", records)
    reference, _ = make_dssp_dict(str(shared_data / "pdb" / "2BEG.dssp"))
    for rec in records:
        chain = rec.id[-1]
        expected = "".join(reference[(chain, (" ", 17 + k, " "))][1] for k in range(len(rec.sequence)))
        assert ours[rec.id] == expected
    assert "EEEEEEEE" in ours["2BEG_A"]


@needs_mkdssp
def test_dssp_helical_protein(shared_data):
    (rec,) = read_structure(shared_data / "pdb" / "1A8O.pdb")
    ss = dssp_ss8(shared_data / "pdb" / "1A8O.pdb", [rec])[rec.id]
    assert len(ss) == 70 and set(ss) <= set("GHIBEST-")
    assert ss.count("H") > 35  # the capsid C-terminal domain is mostly helical


@needs_mkdssp
def test_dssp_tiny_fixture_and_prepare(tmp_path):
    out = tmp_path / "p.parquet"
    assert prepare([DATA / "tiny_site.pdb"], fmt="pdb", output=out, dssp=True) == 2
    from plmscope.data.table import read_proteins

    a, c = read_proteins(out)
    assert a.ss8 == "-----" and c.ss8 == "--"  # too short for any secondary structure
    assert a.sites == [1, 3]


@needs_mkdssp
def test_read_with_dssp_keeps_inter_chain_sheets(shared_data):
    """DSSP runs with every chain present even when one chain is requested."""
    (c,) = read_structure(shared_data / "pdb" / "2BEG.pdb", chains=["C"], dssp=True)
    assert c.id == "2BEG_C" and c.ss8 == "-EEEEEEEEES--SEEEEEEEEEEE-"
    alone = _single_chain_ss8(shared_data / "pdb" / "2BEG.pdb", "C")
    assert alone.count("E") < c.ss8.count("E")  # an isolated fibril strand has no partner strands


def _single_chain_ss8(path, chain):
    """DSSP of one chain written alone (no neighbouring chains)."""
    (rec,) = [c for c in structure._parse(path, [chain])]
    return structure._dssp_labels(path, [rec])[rec.record.id]


def test_dssp_missing_executable(monkeypatch, shared_data):
    monkeypatch.setattr(structure.shutil, "which", lambda name: None)
    records = read_structure(shared_data / "pdb" / "1A8O.pdb")
    with pytest.raises(PlmscopeError, match=r"1A8O\.pdb: mkdssp not found on PATH: install the 'dssp' package"):
        dssp_ss8(shared_data / "pdb" / "1A8O.pdb", records)


@needs_mkdssp
def test_dssp_rejects_foreign_record(shared_data):
    (rec,) = read_structure(shared_data / "pdb" / "1A8O.pdb")
    with pytest.raises(PlmscopeError, match="does not come from this structure file"):
        dssp_ss8(shared_data / "pdb" / "2BEG.pdb", [rec])


def _fails(path: Path, tmp_path: Path, *fragments: str) -> None:
    out = tmp_path / "proteins.parquet"
    with pytest.raises(PlmscopeError) as info:
        prepare([path], fmt="pdb", output=out)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    assert not out.exists()


def test_no_ca_atoms(tmp_path):
    _fails(DATA / "bad" / "no_ca.pdb", tmp_path, "no amino-acid CA atoms found")


def test_empty_and_missing_structure(tmp_path):
    empty = tmp_path / "empty.pdb"
    empty.write_text("")
    _fails(empty, tmp_path, "file is empty")
    _fails(tmp_path / "absent.pdb", tmp_path, "input not found")


def test_malformed_site_record(tmp_path):
    bad = tmp_path / "site.pdb"
    text = (DATA / "tiny_site.pdb").read_text().replace("SITE     1 AC2  1 UNK C   2", "SITE     1 AC2  1 UNK C  2x")
    bad.write_text(text)
    _fails(bad, tmp_path, "malformed SITE record at line 4")


def test_garbage_cif(tmp_path):
    bad = tmp_path / "x.cif"
    bad.write_text("this is not mmCIF\n")
    _fails(bad, tmp_path, "cannot parse MMCIF file")
