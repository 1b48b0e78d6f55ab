"""Build the embedded demo protein table from real structures shipped in Debian packages."""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from pathlib import Path

from plmscope.data.structure import read_structure
from plmscope.data.table import ProteinRecord, write_proteins
from plmscope.errors import PlmscopeError
from plmscope.io import atomic_path

BIOPYTHON = "/usr/share/doc/python-biopython-doc/Tests/PDB"
FREESASA = "/usr/share/freesasa/test-data"
PYMOL = "/usr/share/pymol/data"
EMBOSS = "/usr/share/EMBOSS/test/data/structure"

LICENCES = {
    # From each package's /usr/share/doc/<package>/copyright ("Files: *" stanza).
    "python-biopython-doc": "Biopython License Agreement (Debian copyright: Files: *, License: other)",
    "freesasa": "Expat/MIT, (c) 2016 Simon Mitternacht (Debian copyright: Files: *)",
    "pymol-data": "PyMOL license (permissive), (c) 1998-2016 Warren L. DeLano (Debian copyright: Files: *)",
    "emboss-test": "EMBOSS licence: GPL applications, LGPL libraries (Debian copyright: Files: *)",
}


@dataclass(frozen=True)
class Pick:
    """One chain of one packaged structure file."""

    package: str
    file: str
    chain: str


# 16 distinct proteins, 51-247 residues each; six carry SITE / _struct_site_gen annotations.
PICKS = (
    Pick("python-biopython-doc", f"{BIOPYTHON}/1A8O.pdb.gz", "A"),  # HIV-1 capsid C-terminal domain
    Pick("python-biopython-doc", f"{BIOPYTHON}/1LCD.pdb.gz", "A"),  # lac repressor headpiece (SITE)
    Pick("python-biopython-doc", f"{BIOPYTHON}/2OFG.cif.gz", "X"),
    Pick("python-biopython-doc", f"{BIOPYTHON}/4CUP.cif.gz", "A"),  # sites from mmCIF
    Pick("python-biopython-doc", f"{BIOPYTHON}/1A7G.cif.gz", "E"),  # sites from mmCIF
    Pick("python-biopython-doc", f"{BIOPYTHON}/2XHE.pdb.gz", "B"),
    Pick("python-biopython-doc", f"{BIOPYTHON}/4ZHL.cif.gz", "U"),
    Pick("freesasa", f"{FREESASA}/1a0q.pdb", "L"),  # catalytic antibody light chain (SITE)
    Pick("freesasa", f"{FREESASA}/1a0q.pdb", "H"),  # catalytic antibody heavy chain (SITE)
    Pick("freesasa", f"{FREESASA}/1ubq.pdb", "A"),  # ubiquitin
    Pick("pymol-data", f"{PYMOL}/tut/1hpv.pdb", "A"),  # HIV-1 protease
    Pick("pymol-data", f"{PYMOL}/demo/1tii.pdb", "A"),  # heat-labile enterotoxin A
    Pick("emboss-test", f"{EMBOSS}/2hhb.ent", "A"),  # haemoglobin alpha
    Pick("emboss-test", f"{EMBOSS}/2hhb.ent", "B"),  # haemoglobin beta
    Pick("emboss-test", f"{EMBOSS}/pdb/4at1.ent", "B"),  # aspartate transcarbamoylase regulatory (SITE)
    Pick("emboss-test", f"{EMBOSS}/pdb/1fx2.ent", "A"),
)

PROVENANCE_COLUMNS = ("id", "package", "file", "chain", "licence", "length", "n_sites")


def build(picks: tuple[Pick, ...] = PICKS) -> list[tuple[ProteinRecord, Pick]]:
    """Read each picked chain with DSSP labels (computed with all chains of its file present)."""
    by_chain: dict[tuple[str, str], ProteinRecord] = {}
    for file in dict.fromkeys(p.file for p in picks):  # each file parsed, and DSSP run, once
        for rec in read_structure(file, chains=[p.chain for p in picks if p.file == file], dssp=True):
            by_chain[file, rec.source.rsplit(":chain ", 1)[1]] = rec  # source is "<file>:chain <id>"
    out: list[tuple[ProteinRecord, Pick]] = []
    sequences: dict[str, str] = {}
    for pick in picks:
        rec = by_chain[pick.file, pick.chain]
        if rec.sequence in sequences:
            raise PlmscopeError(f"{pick.file}: chain {pick.chain} repeats the sequence of {sequences[rec.sequence]}")
        sequences[rec.sequence] = rec.id
        out.append((rec, pick))
    return out


def write_provenance(rows: list[tuple[ProteinRecord, Pick]], path: Path) -> None:
    """Write ``provenance.tsv`` (one line per protein) atomically."""
    with atomic_path(path) as tmp:
        with tmp.open("w", newline="") as fh:
            writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
            writer.writerow(PROVENANCE_COLUMNS)
            for rec, pick in rows:
                n_sites = "" if rec.sites is None else len(rec.sites)
                writer.writerow(
                    [rec.id, pick.package, pick.file, pick.chain, LICENCES[pick.package], len(rec.sequence), n_sites]
                )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "resources" / "demo")
    args = parser.parse_args(argv)
    try:
        missing = sorted({p.package for p in PICKS if not Path(p.file).exists()})
        if missing:
            raise PlmscopeError(f"demo sources not found: install the Debian packages {', '.join(missing)}")
        rows = build()
        n = write_proteins([rec for rec, _ in rows], args.out / "proteins.parquet")
        write_provenance(rows, args.out / "provenance.tsv")
    except PlmscopeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    total = sum(len(rec.sequence) for rec, _ in rows)
    print(f"wrote {n} proteins ({total} residues) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
