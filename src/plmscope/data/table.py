"""The protein table: one row per chain, the single format every later stage reads.

Columns (Parquet):
    id (str), sequence (str, upper-case one-letter codes),
    ca (list<list<float32>[3]>, CA coordinates in Å; null when the source has no structure;
        residues without coordinates hold NaN),
    valid (list<bool>, residue has coordinates; null when the source has no structure),
    ss8 (str, DSSP 8-state per residue, '-' for coil/unassigned; null when unknown),
    sites, ptms (list<int32>, 0-based residue indices; null when unknown),
    source (str, where the record came from: file path and record key).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from plmscope.errors import PlmscopeError, located
from plmscope.io import atomic_path

PROTEIN_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("sequence", pa.string()),
        ("ca", pa.list_(pa.list_(pa.float32(), 3))),
        ("valid", pa.list_(pa.bool_())),
        ("ss8", pa.string()),
        ("sites", pa.list_(pa.int32())),
        ("ptms", pa.list_(pa.int32())),
        ("source", pa.string()),
    ]
)


@dataclass
class ProteinRecord:
    """One protein chain.

    Attributes:
        id: unique identifier (e.g. ``"1A8O_A"``).
        sequence: one-letter amino-acid codes, length L.
        ca: ``(L, 3)`` float array of CA coordinates in Å (NaN where missing), or None.
        valid: ``(L,)`` bool array, True where the residue has coordinates, or None.
        ss8: DSSP 8-state string of length L, or None.
        sites: sorted 0-based indices of binding-site residues, or None if unannotated.
        ptms: sorted 0-based indices of post-translationally modified residues, or None.
        source: provenance, e.g. ``"data/x.pdb:chain A"``.
    """

    id: str
    sequence: str
    ca: np.ndarray | None = None
    valid: np.ndarray | None = None
    ss8: str | None = None
    sites: list[int] | None = None
    ptms: list[int] | None = None
    source: str = ""

    def __post_init__(self) -> None:
        n = len(self.sequence)
        where = self.source or self.id
        if n == 0:
            raise located(where, f"record {self.id!r} has an empty sequence")
        if self.ca is not None:
            self.ca = _float32_coordinates(where, self.id, self.ca)
            if len(self.ca) != n:
                raise located(where, f"record {self.id!r} has {len(self.ca)} coordinates for {n} residues")
            if self.valid is None:
                self.valid = ~np.isnan(self.ca).any(axis=1)
        if self.valid is not None:
            self.valid = np.asarray(self.valid, dtype=bool)
            if len(self.valid) != n:
                raise located(where, f"record {self.id!r} has a mask of length {len(self.valid)} for {n} residues")
            if self.ca is not None:  # NaN means "no coordinates": never valid
                self.valid = self.valid & ~np.isnan(self.ca).any(axis=1)
        if self.ss8 is not None and len(self.ss8) != n:
            raise located(where, f"record {self.id!r} has {len(self.ss8)} secondary-structure labels for {n} residues")
        for name in ("sites", "ptms"):
            idx = getattr(self, name)
            if idx is not None:
                idx = sorted({int(k) for k in idx})
                if idx and (idx[0] < 0 or idx[-1] >= n):
                    raise located(where, f"record {self.id!r} has {name} index outside 0..{n - 1}")
                setattr(self, name, idx)


def _float32_coordinates(where: object, rid: str, values) -> np.ndarray:
    """``values`` as ``(L, 3)`` float32; an infinite value, or one that overflows float32, is an error.

    NaN stays (it marks a residue without coordinates).
    """
    raw = np.asarray(values)
    with np.errstate(over="ignore", invalid="ignore"):
        ca = raw.astype(np.float32).reshape(-1, 3)
    bad = np.isinf(ca)
    if bad.any():
        residue = int(np.argmax(bad.any(axis=1))) + 1
        original = raw.reshape(-1, 3)[residue - 1][bad[residue - 1]][0]
        why = "is infinite (or overflowed float32)" if np.isinf(original) else f"overflows float32 ({float(original):g})"
        raise located(where, f"record {rid!r}: a CA coordinate of residue {residue} {why}")
    return ca


def records_to_table(records: Iterable[ProteinRecord]) -> pa.Table:
    """Convert records to an Arrow table with :data:`PROTEIN_SCHEMA`; ids must be unique."""
    cols: dict[str, list] = {name: [] for name in PROTEIN_SCHEMA.names}
    seen: set[str] = set()
    for r in records:
        if r.id in seen:
            raise PlmscopeError(f"{r.source or r.id}: duplicate protein id {r.id!r}")
        seen.add(r.id)
        cols["id"].append(r.id)
        cols["sequence"].append(r.sequence)
        cols["ca"].append(None if r.ca is None else r.ca.tolist())
        cols["valid"].append(None if r.valid is None else r.valid.tolist())
        cols["ss8"].append(r.ss8)
        cols["sites"].append(r.sites)
        cols["ptms"].append(r.ptms)
        cols["source"].append(r.source)
    return pa.Table.from_pydict(cols, schema=PROTEIN_SCHEMA)


def write_proteins(records: Iterable[ProteinRecord], path: str | Path) -> int:
    """Write records atomically to a zstd Parquet file; return the number of rows."""
    table = records_to_table(records)
    if table.num_rows == 0:
        raise PlmscopeError(f"{path}: no protein records to write")
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return table.num_rows


def read_proteins(path: str | Path) -> list[ProteinRecord]:
    """Read a protein table written by :func:`write_proteins`."""
    path = Path(path)
    if not path.exists():
        raise located(path, "file not found")
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise located(path, f"not a readable Parquet protein table ({exc})") from None
    missing = set(PROTEIN_SCHEMA.names) - set(table.column_names)
    if missing:
        raise located(path, f"protein table lacks columns {sorted(missing)}")
    out = []
    for row in table.to_pylist():
        ca = None if row["ca"] is None else np.array(
            [[np.nan] * 3 if c is None else c for c in row["ca"]], dtype=np.float32
        )
        try:
            record = ProteinRecord(
                id=row["id"],
                sequence=row["sequence"],
                ca=ca,
                valid=None if row["valid"] is None else np.array(row["valid"], dtype=bool),
                ss8=row["ss8"],
                sites=row["sites"],
                ptms=row["ptms"],
                source=row["source"] or "",
            )
        except PlmscopeError as exc:  # name the table being read, not only the row's origin
            raise located(path, str(exc)) from None
        out.append(record)
    return out


def read_sequences(path: str | Path) -> list[tuple[str, str]]:
    """``(id, sequence)`` of every protein of a protein table, in table order, without the structure columns.

    Raises:
        PlmscopeError: the file is missing or not a protein table, has no rows, or has a null or
            empty id or sequence.
    """
    path = Path(path)
    if not path.exists():
        raise located(path, "file not found")
    try:
        parquet = pq.ParquetFile(path)  # not pq.read_table: that imports pyarrow.dataset and pandas (~0.2 s)
        missing = [c for c in ("id", "sequence") if c not in parquet.schema_arrow.names]
        if missing:
            raise located(path, f"protein table lacks columns {missing}")
        for column in ("id", "sequence"):
            kind = parquet.schema_arrow.field(column).type
            if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
                raise located(path, f"protein table column {column!r} holds {kind}, not text")
        table = parquet.read(columns=["id", "sequence"])
    except (pa.ArrowException, OSError) as exc:
        raise located(path, f"not a readable Parquet protein table ({' '.join(str(exc).split())})") from None
    ids, seqs = table.column("id").to_pylist(), table.column("sequence").to_pylist()
    if not ids:
        raise located(path, "protein table has no proteins")
    for k, (pid, seq) in enumerate(zip(ids, seqs)):
        if not pid:
            raise located(path, f"row {k} has an empty protein id")
        if not seq:
            raise located(path, f"protein {pid!r} has an empty sequence")
    return list(zip(ids, seqs))
