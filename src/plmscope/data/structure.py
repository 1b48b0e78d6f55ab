"""PDB / mmCIF chains to protein records (Biopython), with SITE annotations and DSSP labels."""

from __future__ import annotations

import gzip
import io
import shutil
import string
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
from Bio.Data.PDBData import protein_letters_3to1, protein_letters_3to1_extended
from Bio.PDB import MMCIFParser, PDBParser
from Bio.PDB.DSSP import make_dssp_dict
from Bio.PDB.MMCIF2Dict import MMCIF2Dict
from Bio.PDB.Residue import Residue

from plmscope.data.residues import STANDARD_AA
from plmscope.data.table import ProteinRecord
from plmscope.errors import located

_EXTRA_LETTERS = {"SEC": "U", "PYL": "O", "ASX": "B", "GLX": "Z", "UNK": "X"}
_BACKBONE = ("N", "CA", "C", "O")
_CIF_SUFFIXES = {".cif", ".mmcif"}
# Single-character chain ids for the temporary DSSP input (classic PDB has one column).
_DSSP_CHAIN_IDS = string.ascii_uppercase + string.ascii_lowercase + string.digits
_MKDSSP = "mkdssp"
_SS8 = frozenset("GHIBEST")
_DSSP_TIMEOUT_S = 600


@dataclass
class _Chain:
    """One parsed protein chain: its record and the Biopython residues behind it."""

    record: ProteinRecord
    residues: list[Residue]
    chain_id: str


def structure_format(path: str | Path) -> Literal["pdb", "mmcif"]:
    """Guess the format from the file name: ``.cif``/``.mmcif`` (optionally ``.gz``) is mmCIF."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return "mmcif" if suffixes and suffixes[-1] in _CIF_SUFFIXES else "pdb"


def read_structure(
    path: str | Path, *, chains: Sequence[str] | None = None, dssp: bool = False
) -> list[ProteinRecord]:
    """Read the protein chains of a PDB or mmCIF file (optionally gzipped).

    Only the first model is used. A chain becomes a record when it holds at least one standard
    amino acid or a modified one (HETATM records such as MSE, selenomethionine, read as their
    parent's letter, ``M``, as most structure tools do); waters and ligands are skipped, other
    polymer residues with a CA atom become ``X``. A CA coordinate that overflows float32 is an
    error naming the file and chain. Residues without a CA
    atom get NaN coordinates and ``valid`` False. ``sites`` holds the 0-based indices of the
    chain's residues named in SITE records (``_struct_site_gen`` in mmCIF), and is None when
    the file has no site annotation at all.

    Args:
        path: a ``.pdb``/``.ent`` or ``.cif`` file, optionally ``.gz``.
        chains: author chain ids to keep (default: every protein chain).
        dssp: also fill ``ss8`` with :func:`dssp_ss8` (the file is parsed only once).

    Returns:
        One record per protein chain in file order, id ``<PDB id or file stem>_<chain>``
        (just ``<PDB id or file stem>`` for a blank chain id), ``ca`` ``(L, 3)`` float32 Å.

    Raises:
        PlmscopeError: the file is missing or unreadable, has no CA atom or no protein chain
            at all, has malformed SITE records or an overflowing coordinate, or a requested
            chain is absent; with ``dssp``, see :func:`dssp_ss8`.
    """
    path = Path(path)
    if not dssp:
        return [c.record for c in _parse(path, chains)]
    _mkdssp(path)  # fail before parsing when the tool is missing
    everything = _parse(path, None)
    _check_chains(path, chains, [c.chain_id for c in everything])
    labels = _dssp_labels(path, everything)  # every chain present, so sheets between chains count
    kept = [c.record for c in everything if chains is None or c.chain_id in chains]
    for rec in kept:
        rec.ss8 = labels[rec.id]
    return kept


def dssp_ss8(path: str | Path, records: Sequence[ProteinRecord]) -> dict[str, str]:
    """Assign DSSP 8-state secondary structure to records read from ``path``.

    ``mkdssp`` (Debian package ``dssp``) runs on a temporary PDB file that holds the backbone
    atoms (N, CA, C, O) of every protein chain of the file's first model, all together so that
    sheets between chains are found (files with more than 62 protein chains are processed
    62 chains at a time); DSSP's labels depend on the backbone only. Chains and residues are
    renumbered in that file, so DSSP's output maps back to our residues exactly. Residues DSSP
    did not assign (coil, or missing backbone atoms) get ``-``, and so does DSSP 4's
    polyproline label ``P``, which is not one of the 8 classic states.

    Args:
        path: the structure file the records came from.
        records: records returned by :func:`read_structure` for ``path``.

    Returns:
        Mapping record id -> DSSP string of the record's length (letters ``GHIBEST-``).

    Raises:
        PlmscopeError: ``mkdssp`` is not installed or fails, or a record is not in ``path``.
    """
    path = Path(path)
    _mkdssp(path)  # fail before parsing when the tool is missing
    everything = _parse(path, None)
    parsed = {c.record.id: c.record for c in everything}
    for rec in records:
        own = parsed.get(rec.id)
        if own is None or own.sequence != rec.sequence:
            raise located(path, f"record {rec.id!r} does not come from this structure file")
    labels = _dssp_labels(path, everything)
    return {rec.id: labels[rec.id] for rec in records}


def _mkdssp(path: Path) -> str:
    """Path of the mkdssp executable, or a one-line error saying what to install."""
    exe = shutil.which(_MKDSSP)
    if exe is None:
        raise located(path, "mkdssp not found on PATH: install the 'dssp' package (e.g. apt-get install dssp)")
    return exe


def _dssp_labels(path: Path, chains: list[_Chain]) -> dict[str, str]:
    """DSSP strings of all given chains, run together (62 single-letter chain ids per run)."""
    exe = _mkdssp(path)
    labels: dict[str, str] = {}
    for start in range(0, len(chains), len(_DSSP_CHAIN_IDS)):
        labels.update(_run_dssp(path, exe, chains[start : start + len(_DSSP_CHAIN_IDS)]))
    return labels


def _run_dssp(path: Path, exe: str, chains: list[_Chain]) -> dict[str, str]:
    """Run mkdssp once on the backbone of up to 62 chains; return id -> ss8."""
    with tempfile.TemporaryDirectory(prefix="plmscope-dssp-") as tmp:
        pdb_in = Path(tmp) / "backbone.pdb"
        dssp_out = Path(tmp) / "backbone.dssp"
        pdb_in.write_text(_backbone_pdb(chains))
        try:
            proc = subprocess.run(
                [exe, "--output-format", "dssp", str(pdb_in), str(dssp_out)],
                capture_output=True,
                text=True,
                timeout=_DSSP_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            raise located(path, f"mkdssp did not finish within {_DSSP_TIMEOUT_S} s") from None
        if proc.returncode != 0 or not dssp_out.exists():
            detail = " ".join((proc.stderr or proc.stdout or "no output").split())[:300]
            raise located(path, f"mkdssp failed (exit code {proc.returncode}): {detail}")
        labels, _ = make_dssp_dict(str(dssp_out))
    out = {}
    for tag, chain in zip(_DSSP_CHAIN_IDS, chains):
        seq = chain.record.sequence
        ss = []
        for k in range(len(seq)):
            entry = labels.get((tag, (" ", k + 1, " ")))
            ss.append("-" if entry is None or entry[1] not in _SS8 else entry[1])
        out[chain.record.id] = "".join(ss)
    return out


def _backbone_pdb(chains: list[_Chain]) -> str:
    """PDB text with a HEADER and the N/CA/C/O atoms of each chain, renumbered 1..L."""
    lines = ["HEADER    PLMSCOPE BACKBONE FOR DSSP              01-JAN-00   XXXX              "]
    serial = 0
    for tag, chain in zip(_DSSP_CHAIN_IDS, chains):
        for number, (res, letter) in enumerate(zip(chain.residues, chain.record.sequence), start=1):
            name = _parent_name(res, letter)
            for atom_name in _BACKBONE:
                if atom_name not in res:
                    continue
                serial += 1
                x, y, z = (float(v) for v in res[atom_name].coord)
                lines.append(
                    f"ATOM  {serial % 100000:5d}  {atom_name:<3s} {name:>3s} {tag}{number:4d}    "
                    f"{x:8.3f}{y:8.3f}{z:8.3f}  1.00  0.00           {atom_name[0]}  "
                )
        serial += 1
        lines.append(f"TER   {serial % 100000:5d}      {name:>3s} {tag}{number:4d}")
    lines.append("END")
    return "\n".join(lines) + "\n"


_ONE_TO_THREE = {v: k for k, v in protein_letters_3to1.items()}


def _parent_name(res: Residue, letter: str) -> str:
    """Standard three-letter name for DSSP: the residue's own if standard, else its parent's."""
    name = res.get_resname().strip().upper()
    if name in protein_letters_3to1:
        return name
    return _ONE_TO_THREE.get(letter, "UNK")


def _residue_letter(res: Residue) -> str | None:
    """One-letter code of a polymer amino-acid residue, or None for waters and ligands."""
    het = res.id[0]
    if het == "W":
        return None
    name = res.get_resname().strip().upper()
    letter = protein_letters_3to1.get(name) or protein_letters_3to1_extended.get(name) or _EXTRA_LETTERS.get(name)
    if het != " ":
        # HETATM: a modified amino acid inside the chain (has a CA), otherwise a ligand.
        return letter if letter is not None and "CA" in res else None
    if letter is None:
        # ATOM record with an unknown name: an amino acid if it has a CA (nucleotides have none).
        return "X" if "CA" in res else None
    return letter


def _open_text(path: Path) -> str:
    """The file's text, decompressing ``.gz``."""
    try:
        if path.suffix.lower() == ".gz":
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
                return fh.read()
        return path.read_text(encoding="utf-8", errors="replace")
    except (OSError, EOFError) as exc:
        raise located(path, f"cannot read structure file ({exc})") from None


def _parse(path: Path, chains: Sequence[str] | None) -> list[_Chain]:
    """Parse the first model of ``path`` into protein chains."""
    if not path.is_file():
        raise located(path, "file not found")
    text = _open_text(path)
    if not text.strip():
        raise located(path, "file is empty")
    fmt = structure_format(path)
    stem = path.name.split(".")[0]
    cif_dict = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if fmt == "mmcif":
                parser = MMCIFParser(QUIET=True)
                structure = parser.get_structure(stem, io.StringIO(text))
                # the parser keeps the dictionary it read; re-read only if a future version does not
                cif_dict = getattr(parser, "_mmcif_dict", None) or MMCIF2Dict(io.StringIO(text))
                entry = cif_dict.get("_entry.id", [""])[0]
            else:
                structure = PDBParser(QUIET=True).get_structure(stem, io.StringIO(text))
                entry = structure.header.get("idcode", "") or _pdb_header_id(text)
    except Exception as exc:  # Biopython raises assorted errors on malformed files
        raise located(path, f"cannot parse {fmt.upper()} file ({type(exc).__name__}: {exc})") from None
    entry = entry.strip().upper() if entry and entry.strip() not in {"?", "."} else ""
    name = entry or stem
    models = list(structure)
    if not models or not any(
        "CA" in res and _residue_letter(res) is not None for chain in models[0] for res in chain
    ):
        raise located(path, "no amino-acid CA atoms found (not a protein structure?)")
    sites = _cif_sites(path, cif_dict) if fmt == "mmcif" else _pdb_sites(path, text)

    out = []
    available = []
    for chain in models[0]:
        residues, letters = [], []
        for res in chain:
            letter = _residue_letter(res)
            if letter is not None:
                residues.append(res)
                letters.append(letter)
        if not any(letter in STANDARD_AA for letter in letters):  # e.g. only MSE (-> M) counts
            continue
        available.append(chain.id)
        if chains is not None and chain.id not in chains:
            continue
        ca = np.full((len(residues), 3), np.nan, dtype=np.float32)
        for k, res in enumerate(residues):
            if "CA" in res:
                ca[k] = res["CA"].coord
        site_idx = None
        if sites is not None:
            site_idx = [k for k, res in enumerate(residues) if (chain.id, res.id[1], res.id[2].strip()) in sites]
        record = ProteinRecord(
            id=f"{name}_{chain.id}" if chain.id.strip() else name,
            sequence="".join(letters),
            ca=ca,
            valid=~np.isnan(ca).any(axis=1),
            sites=site_idx,
            source=f"{path}:chain {chain.id}",
        )
        out.append(_Chain(record, residues, chain.id))
    if not available:
        raise located(path, "no protein chain found (no chain holds a standard or modified amino acid)")
    _check_chains(path, chains, available)
    return out


def _check_chains(path: Path, chains: Sequence[str] | None, available: list[str]) -> None:
    """Raise when a requested chain id is not among the file's protein chains."""
    missing = [c for c in chains or () if c not in available]
    if missing:
        raise located(path, f"no protein chain {missing[0]!r} (protein chains: {', '.join(available)})")


def _pdb_header_id(text: str) -> str:
    """ID code from columns 63-66 of the HEADER line (old files Biopython does not parse)."""
    for line in text.splitlines():
        if line.startswith("HEADER"):
            return line[62:66].strip()
    return ""


def _pdb_sites(path: Path, text: str) -> set[tuple[str, int, str]] | None:
    """(chain, residue number, insertion code) of every residue named in SITE records."""
    found: set[tuple[str, int, str]] = set()
    any_site = False
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("SITE  "):
            continue
        any_site = True
        line = line.ljust(80)
        for start in (18, 29, 40, 51):  # four residues per line, 11 columns apart
            res_name = line[start : start + 3].strip()
            number = line[start + 5 : start + 9].strip()
            if not res_name and not number:
                continue
            try:
                found.add((line[start + 4], int(number), line[start + 9].strip()))
            except ValueError:
                raise located(path, f"malformed SITE record at line {line_no}: residue number {number!r}") from None
    return found if any_site else None


def _cif_sites(path: Path, cif: dict) -> set[tuple[str, int, str]] | None:
    """Site residues from mmCIF ``_struct_site_gen`` (author chain, number, insertion code)."""
    chains = cif.get("_struct_site_gen.auth_asym_id")
    if chains is None:
        return None
    numbers = cif.get("_struct_site_gen.auth_seq_id", [])
    codes = cif.get("_struct_site_gen.pdbx_auth_ins_code", ["?"] * len(chains))
    found = set()
    for chain, number, code in zip(chains, numbers, codes):
        if number in {"?", "."}:
            continue
        try:
            found.add((chain, int(number), "" if code in {"?", "."} else code))
        except ValueError:
            raise located(path, f"malformed _struct_site_gen.auth_seq_id {number!r}") from None
    return found
