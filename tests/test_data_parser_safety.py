"""Parsers refuse coordinates that overflow float32 and read selenomethionine (MSE) as M."""

import pickle
from pathlib import Path

import lmdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from plmscope.data.prepare import prepare
from plmscope.data.structure import read_structure
from plmscope.data.table import (
    PROTEIN_SCHEMA,
    ProteinRecord,
    read_proteins,
    write_proteins,
)
from plmscope.errors import PlmscopeError

CHAIN = [("ALA", 1, (0.0, 0.0, 0.0)), ("MSE", 2, (3.8, 0.0, 0.0)), ("GLY", 3, (7.6, 0.0, 0.0))]


def _atom(serial: int, name: str, res: str, chain: str, number: int, xyz, *, het: bool) -> str:
    """One PDB ATOM/HETATM line; a coordinate may be given as text (e.g. '1e300') to fit 8 columns."""
    cols = "".join(f"{v:>8s}" if isinstance(v, str) else f"{v:8.3f}" for v in xyz)
    record = "HETATM" if het else "ATOM  "
    return f"{record}{serial:5d} {name:<4s} {res:>3s} {chain}{number:4d}    {cols}  1.00  0.00           {name[0]}  "


def _pdb(residues, chain: str = "A") -> str:
    """PDB text with N and CA atoms per residue; MSE (selenomethionine) as HETATM, as the PDB writes it."""
    lines, serial = ["HEADER    TEST                                    01-JAN-00   1TST              "], 0
    for res, number, xyz in residues:
        for name, shift in (("N", -1.0), ("CA", 0.0)):
            serial += 1
            pos = xyz if name == "CA" else tuple(v + shift if not isinstance(v, str) else 0.0 for v in xyz)
            lines.append(_atom(serial, name, res, chain, number, pos, het=res == "MSE"))
    return "\n".join([*lines, "END"]) + "\n"


def _cif(residues) -> str:
    """Minimal mmCIF text with the CA atom of each residue (MSE as HETATM)."""
    head = [
        "data_1TST", "_entry.id 1TST", "loop_",
        *(f"_atom_site.{k}" for k in (
            "group_PDB", "id", "type_symbol", "label_atom_id", "label_alt_id", "label_comp_id",
            "label_asym_id", "label_entity_id", "label_seq_id", "pdbx_PDB_ins_code", "Cartn_x", "Cartn_y",
            "Cartn_z", "occupancy", "B_iso_or_equiv", "auth_seq_id", "auth_asym_id", "pdbx_PDB_model_num",
        )),
    ]  # fmt: skip
    rows = [
        f"{'HETATM' if res == 'MSE' else 'ATOM'} {k} C CA . {res} A 1 {number} ? {x} {y} {z} 1.00 0.00 {number} A 1"
        for k, (res, number, (x, y, z)) in enumerate(residues, start=1)
    ]
    return "\n".join([*head, *rows, "#"]) + "\n"


def _fails(path: Path, fmt: str, tmp_path: Path, *fragments: str) -> str:
    """prepare() on a bad input: one line naming the INPUT file, nothing written."""
    out = tmp_path / "out" / "proteins.parquet"
    with pytest.raises(PlmscopeError) as info:
        prepare([path], fmt=fmt, output=out)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path)), message
    assert str(out) not in message
    for fragment in fragments:
        assert fragment in message, message
    assert not out.exists() and not out.parent.exists()
    return message


# --- selenomethionine ------------------------------------------------------------------------


def test_mse_hetatm_residues_read_as_m_inside_a_chain(tmp_path):
    path = tmp_path / "mixed.pdb"
    path.write_text(_pdb(CHAIN))
    (rec,) = read_structure(path)
    assert rec.id == "1TST_A" and rec.sequence == "AMG"
    np.testing.assert_allclose(rec.ca[1], [3.8, 0.0, 0.0])
    assert rec.valid.all()


@pytest.mark.parametrize("suffix", [".pdb", ".cif"])
def test_a_chain_of_only_mse_is_a_protein_chain(tmp_path, suffix):
    residues = [("MSE", k, (3.8 * k, 0.0, 0.0)) for k in range(1, 5)]
    path = tmp_path / f"mse{suffix}"
    path.write_text(_pdb(residues) if suffix == ".pdb" else _cif(residues))
    (rec,) = read_structure(path)
    assert rec.sequence == "MMMM"
    out = tmp_path / "t.parquet"
    assert prepare([path], fmt="pdb", output=out) == 1
    assert read_proteins(out)[0].sequence == "MMMM"


def test_a_file_without_protein_chains_names_the_input(tmp_path):
    # CA atoms of an unknown polymer residue only: no protein chain; the error names the input, not the output
    path = tmp_path / "unknown.pdb"
    path.write_text(_pdb([("UNL", k, (3.8 * k, 0.0, 0.0)) for k in range(1, 4)]).replace("HETATM", "ATOM  "))
    _fails(path, "pdb", tmp_path, "no protein chain found")


# --- coordinates that overflow float32 --------------------------------------------------------


def test_pdb_coordinate_overflowing_float32_is_an_error(tmp_path):
    residues = [CHAIN[0], ("GLY", 2, ("1e300", "0.0", "0.0")), CHAIN[2]]
    path = tmp_path / "huge.pdb"
    path.write_text(_pdb(residues))
    _fails(path, "pdb", tmp_path, "chain A", "record '1TST_A'", "CA coordinate of residue 2", "is infinite")


def test_mmcif_coordinate_overflowing_float32_is_an_error(tmp_path):
    residues = [CHAIN[0], ("GLY", 2, ("1e300", "0.0", "0.0")), CHAIN[2]]
    path = tmp_path / "huge.cif"
    path.write_text(_cif(residues))
    _fails(path, "pdb", tmp_path, "chain A", "CA coordinate of residue 2")


def test_proteinnet_coordinate_overflowing_float32_is_an_error(tmp_path):
    n = 2
    rows = [["100.0"] * (3 * n) for _ in range(3)]
    rows[1][4] = "1e300"  # y of the CA (atom 1) of residue 2, in picometres
    text = "[ID]\nP1\n[PRIMARY]\nMK\n[TERTIARY]\n" + "\n".join("\t".join(r) for r in rows) + "\n[MASK]\n++\n\n"
    path = tmp_path / "huge.txt"
    path.write_text(text)
    _fails(path, "proteinnet", tmp_path, "record 'P1'", "CA coordinate of residue 2", "overflows float32 (1e+298)")


def test_tape_lmdb_coordinate_overflowing_float32_is_an_error(tmp_path):
    path = tmp_path / "huge.lmdb"
    env = lmdb.open(str(path), map_size=1 << 24, subdir=True)
    tertiary = np.zeros((3, 3))
    tertiary[2, 0] = 1e300
    with env.begin(write=True) as txn:
        txn.put(b"num_examples", pickle.dumps(1))
        txn.put(b"0", pickle.dumps({"id": "T1", "primary": "MKV", "tertiary": tertiary}))
    env.close()
    _fails(path, "tape-lmdb", tmp_path, "record 'T1'", "residue 3", "overflows float32 (1e+300)")


def test_table_with_an_infinite_coordinate_is_an_error_naming_the_table(tmp_path):
    good = tmp_path / "good.parquet"
    write_proteins([ProteinRecord(id="A", sequence="MK", ca=np.zeros((2, 3)), source="x.pdb:chain A")], good)
    table = pq.read_table(good).to_pylist()
    table[0]["ca"] = [[0.0, 0.0, 0.0], [float("inf"), 0.0, 0.0]]
    path = tmp_path / "inf.parquet"
    pq.write_table(pa.Table.from_pylist(table, schema=PROTEIN_SCHEMA), path)
    _fails(path, "table", tmp_path, "record 'A'", "CA coordinate of residue 2 is infinite")


def test_a_nan_coordinate_is_never_valid(tmp_path):
    rec = ProteinRecord(id="A", sequence="MK", ca=[[0, 0, 0], [np.nan, 1, 1]], valid=[True, True])
    assert rec.valid.tolist() == [True, False]
