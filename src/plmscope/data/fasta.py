"""FASTA protein sequences (no structure) to protein records, via Biopython SeqIO.

Accepts what editors and databases write: gzip-compressed files (recognised by their magic
bytes, whatever the name), a UTF-8 byte-order mark, Windows (CRLF) line endings.
"""

from __future__ import annotations

import gzip
import io
import zlib
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
    text = _read_text(path)
    if not text.strip():
        raise located(path, "file is empty")
    if not text.lstrip().startswith(">"):
        raise located(path, "not a FASTA file (the first non-blank character is not '>')")
    records: list[ProteinRecord] = []
    seen: set[str] = set()
    with io.StringIO(text) as handle:
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


def _read_text(path: Path) -> str:
    """The file's text: gunzipped if it starts with the gzip magic bytes, a UTF-8 BOM dropped."""
    try:
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise located(path, f"cannot read FASTA file ({exc})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise located(path, f"not a FASTA text file (not UTF-8 text: {exc.reason})") from None
