"""FASTA protein sequences (no structure) to protein records, via Biopython SeqIO."""

from __future__ import annotations

from pathlib import Path

from Bio import SeqIO

from plmscope.data.residues import clean_sequence
from plmscope.data.table import ProteinRecord
from plmscope.errors import located


def read_fasta(path: str | Path) -> list[ProteinRecord]:
    """Read the protein sequences of a FASTA file.

    Args:
        path: the FASTA file.

    Returns:
        One record per entry in file order; the id is the first word of the header, the
        sequence is cleaned by :func:`~plmscope.data.residues.clean_sequence` (upper case,
        one trailing ``*`` removed); ``ca``/``ss8``/``sites``/``ptms`` are None.

    Raises:
        PlmscopeError: the file is missing, empty, not FASTA, has a record with an empty or
            invalid sequence, an empty header, or a repeated id.
    """
    path = Path(path)
    if not path.is_file():
        raise located(path, "file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise located(path, f"not a FASTA text file (not UTF-8 text: {exc.reason})") from None
    if not text.strip():
        raise located(path, "file is empty")
    if not text.lstrip().startswith(">"):
        raise located(path, "not a FASTA file (the first non-blank character is not '>')")
    records: list[ProteinRecord] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as handle:
        for number, entry in enumerate(SeqIO.parse(handle, "fasta"), start=1):
            rid = entry.id
            if not rid:
                raise located(path, f"record #{number} has an empty header")
            if rid in seen:
                raise located(path, f"record id {rid!r} occurs more than once")
            seen.add(rid)
            sequence = clean_sequence(str(entry.seq), where=path, record_id=rid)
            records.append(ProteinRecord(id=rid, sequence=sequence, source=f"{path}:{rid}"))
    if not records:
        raise located(path, "no FASTA records found")
    return records
