"""Parser for ProteinNet text records (``[ID] [PRIMARY] [EVOLUTIONARY] [TERTIARY] [MASK]``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from plmscope.data.residues import clean_sequence
from plmscope.data.table import ProteinRecord
from plmscope.errors import located

_HEADER = re.compile(r"^\[([A-Z0-9_]+)\]$")
_PICOMETRES_PER_ANGSTROM = 100.0
_ATOMS_PER_RESIDUE = 3  # N, CA, C
_CA = 1


_KEPT = frozenset({"ID", "PRIMARY", "TERTIARY", "MASK"})  # other sections are only counted


@dataclass
class _Section:
    """One ``[NAME]`` section: header line number, row count, and the rows of kept sections."""

    name: str
    line: int
    count: int = 0
    rows: list[tuple[int, str]] = field(default_factory=list)


def read_proteinnet(path: str | Path) -> list[ProteinRecord]:
    """Read every record of a ProteinNet text file.

    Only ``[ID]`` and ``[PRIMARY]`` are required. ``[TERTIARY]`` holds 3 rows (x, y, z) of 3L
    values (N, CA, C per residue) in picometres; the CA atoms are kept and converted to Å.
    ``[MASK]`` marks residues with coordinates (``+``) or without (``-``); masked residues get
    NaN coordinates and ``valid`` False. A record with coordinates but no mask has every residue
    valid. ``[EVOLUTIONARY]`` and any other section (``[RAMA]``, ``[CHI]``, ...) are skipped.
    The file is read line by line, so memory holds one raw record at a time.

    Args:
        path: the ProteinNet text file.

    Returns:
        One :class:`ProteinRecord` per record, in file order; ``ca`` is ``(L, 3)`` float32 Å.

    Raises:
        PlmscopeError: the file is missing or empty, or a record lacks ``[ID]``/``[PRIMARY]``,
            is truncated, has the wrong number of coordinates, a mask of the wrong length or
            non-numeric values, or two records share an id. The one-line message names the
            file, record and problem.
    """
    path = Path(path)
    if not path.is_file():
        raise located(path, "file not found")
    records: list[ProteinRecord] = []
    seen: set[str] = set()
    try:
        with path.open(encoding="utf-8") as handle:
            for number, sections in enumerate(_iter_records(path, handle), start=1):
                rec = _build_record(path, number, sections)
                if rec.id in seen:
                    raise located(path, f"record id {rec.id!r} occurs more than once")
                seen.add(rec.id)
                records.append(rec)
    except UnicodeDecodeError as exc:
        raise located(path, f"not a ProteinNet text file (not UTF-8 text: {exc.reason})") from None
    return records


def _iter_records(path: Path, lines: Iterable[str]) -> Iterator[dict[str, _Section]]:
    """Group non-blank lines into records, each a mapping section name -> section."""
    current: dict[str, _Section] | None = None
    section: _Section | None = None
    blank = True
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        blank = False
        match = _HEADER.match(line)
        if match:
            name = match.group(1)
            if name == "ID":
                if current is not None:
                    yield current
                current = {}
            elif current is None:
                raise located(path, f"line {number}: section [{name}] before the first [ID]")
            if name in current:
                label = _record_label(current, "?")
                raise located(
                    path, f"record {label}: section [{name}] repeated at line {number} (missing [ID] before it?)"
                )
            section = current[name] = _Section(name, number)
        elif section is None:
            raise located(path, f"line {number}: text before the first [ID] (not a ProteinNet file?)")
        else:
            section.count += 1
            if section.name in _KEPT:
                section.rows.append((number, line))
    if blank:
        raise located(path, "file is empty")
    if current is None:
        raise located(path, "no ProteinNet records ([ID] sections) found")
    yield current


def _record_label(sections: dict[str, _Section], number: int | str) -> str:
    """Name a record in messages: its quoted id when known, else ``#n``."""
    ident = sections.get("ID")
    if ident is not None and ident.rows:
        return repr(ident.rows[0][1])
    return f"#{number}"


def _build_record(path: Path, number: int, sections: dict[str, _Section]) -> ProteinRecord:
    """Validate one record's sections and turn them into a ProteinRecord."""
    label = _record_label(sections, number)
    for name in ("ID", "PRIMARY"):
        if name not in sections:
            raise located(path, f"record {label} has no [{name}] section")
    for name, sec in sections.items():
        if not sec.count:
            raise located(path, f"record {label}: section [{name}] (line {sec.line}) is empty (truncated record?)")
    rid_rows = sections["ID"].rows
    if len(rid_rows) != 1:
        raise located(path, f"record {label}: [ID] must be one line, found {len(rid_rows)}")
    rid = rid_rows[0][1]
    prim_rows = sections["PRIMARY"].rows
    if len(prim_rows) != 1:
        raise located(path, f"record {label}: [PRIMARY] must be one line, found {len(prim_rows)}")
    sequence = clean_sequence(prim_rows[0][1], where=path, record_id=rid)
    n = len(sequence)

    ca = valid = None
    if "TERTIARY" in sections:
        ca = _read_ca(path, label, sections["TERTIARY"], n)
        valid = np.ones(n, dtype=bool)
    if "MASK" in sections:
        mask = _read_mask(path, label, sections["MASK"], n)
        if ca is not None:
            valid = mask
            ca[~valid] = np.nan
    return ProteinRecord(id=rid, sequence=sequence, ca=ca, valid=valid, source=f"{path}:{rid}")


def _read_ca(path: Path, label: str, sec: _Section, n: int) -> np.ndarray:
    """Parse ``[TERTIARY]`` into ``(n, 3)`` float64 CA coordinates in Å."""
    if len(sec.rows) != 3:
        hint = " (truncated record?)" if len(sec.rows) < 3 else ""
        raise located(path, f"record {label}: [TERTIARY] has {len(sec.rows)} rows, expected 3 (x, y, z){hint}")
    expected = _ATOMS_PER_RESIDUE * n
    axes = []
    for axis, (line_no, line) in zip("xyz", sec.rows):
        tokens = line.split()
        if len(tokens) != expected:
            raise located(
                path,
                f"record {label}: [TERTIARY] {axis} row (line {line_no}) has {len(tokens)} values, "
                f"expected {expected} (N, CA, C for {n} residues)",
            )
        axes.append(_floats(path, label, line_no, tokens))
    xyz = np.stack(axes, axis=1)  # (3n, 3)
    # float64 here: ProteinRecord converts to float32 and refuses a value that overflows it
    return xyz[_CA::_ATOMS_PER_RESIDUE] / _PICOMETRES_PER_ANGSTROM


def _floats(path: Path, label: str, line_no: int, tokens: list[str]) -> np.ndarray:
    """Convert tokens to float64, naming the first non-numeric token on failure."""
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError:
        bad = next(t for t in tokens if not _is_float(t))
        raise located(path, f"record {label}: non-numeric coordinate {bad!r} at line {line_no}") from None
    if not np.isfinite(values).all():
        raise located(path, f"record {label}: non-finite coordinate at line {line_no}")
    return values


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _read_mask(path: Path, label: str, sec: _Section, n: int) -> np.ndarray:
    """Parse ``[MASK]`` (``+`` present, ``-`` missing) into an ``(n,)`` bool array."""
    if len(sec.rows) != 1:
        raise located(path, f"record {label}: [MASK] must be one line, found {len(sec.rows)}")
    line_no, mask = sec.rows[0]
    if len(mask) != n:
        raise located(
            path, f"record {label}: [MASK] (line {line_no}) has length {len(mask)}, sequence has {n} residues"
        )
    bad = set(mask) - {"+", "-"}
    if bad:
        pos = next(i for i, c in enumerate(mask, 1) if c in bad)
        raise located(path, f"record {label}: [MASK] has {mask[pos - 1]!r} at position {pos}, expected '+' or '-'")
    return np.frombuffer(mask.encode("ascii"), dtype=np.uint8) == ord("+")

