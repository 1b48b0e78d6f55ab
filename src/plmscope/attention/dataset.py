"""The thresholded-attention dataset on disk: Parquet parts, per-head counts, analysed proteins, meta.

Layout of an output directory (written atomically, all or nothing)::

    attention/part-00000.parquet ...   rows (protein_id, layer, head, i, j, weight), zstd
    counts.parquet                     (layer, head, n_thresholded) for every head
    proteins.parquet                   (protein_id, n_residues, n_residues_original, truncated,
                                        n_nonstandard, n_unknown, n_windows) for every analysed protein
    meta.json                          model, family, num_layers, num_heads, theta, max_residues,
                                       long_sequences, n_proteins, n_truncated, n_skipped,
                                       n_nonstandard, ... (see AttentionWriter)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from plmscope.errors import PlmscopeError, located
from plmscope.io import atomic_path

if TYPE_CHECKING:  # imported where read: pyarrow.dataset pulls in pandas (~0.2 s) and writing never needs it
    import pyarrow.dataset as ds

FORMAT = "plmscope-attention/1"

ATTENTION_SCHEMA = pa.schema(
    [
        ("protein_id", pa.string()),
        ("layer", pa.int16()),
        ("head", pa.int16()),
        ("i", pa.int32()),
        ("j", pa.int32()),
        ("weight", pa.float32()),
    ]
)
"""One row per thresholded weight: query residue ``i`` attends to key residue ``j`` (0-based)."""

COUNTS_SCHEMA = pa.schema([("layer", pa.int16()), ("head", pa.int16()), ("n_thresholded", pa.int64())])

PROTEINS_SCHEMA = pa.schema(
    [
        ("protein_id", pa.string()),
        ("n_residues", pa.int32()),
        ("n_residues_original", pa.int32()),
        ("truncated", pa.bool_()),
        ("n_nonstandard", pa.int32()),
        ("n_unknown", pa.int32()),
        ("n_windows", pa.int32()),
    ]
)
"""One row per analysed protein; ``n_windows`` > 1 when a long protein was run in overlapping windows
(then ``n_residues`` is its full length and ``truncated`` is False)."""

def open_part_writer(path: str | Path) -> pq.ParquetWriter:
    """A Parquet writer for one part of attention rows (:data:`ATTENTION_SCHEMA`).

    zstd compression; dictionary encoding for the integer and id columns; ``weight`` stored with
    the standard BYTE_STREAM_SPLIT encoding, which lets zstd compress the float bytes (about 40%
    smaller files than dictionary-encoded weights; read by pyarrow, DuckDB, Spark, ...).
    """
    return pq.ParquetWriter(
        path,
        ATTENTION_SCHEMA,
        compression="zstd",
        use_dictionary=["protein_id", "layer", "head", "i", "j"],
        column_encoding={"weight": "BYTE_STREAM_SPLIT"},
    )


REQUIRED_META = ("model", "family", "num_layers", "num_heads", "theta", "max_residues", "long_sequences")


class AttentionWriter:
    """Write a thresholded-attention dataset into ``out_dir`` atomically.

    Use as a context manager: the directory appears at ``out_dir`` only when the block exits
    without an exception (then :meth:`close` runs); on an exception nothing is left behind.

    Args:
        out_dir: final output directory (replaced if it exists).
        meta: at least :data:`REQUIRED_META`; stored in ``meta.json`` with the counts added here
            (``n_proteins``, ``n_truncated``, ``n_windowed``, ``n_windows``, ``n_skipped``,
            ``skipped``, ``n_nonstandard``, ``n_unknown``, ``n_rows``, ``n_parts``, ``format``).
        rows_per_part: start a new ``part-NNNNN.parquet`` after about this many rows.
        row_group_rows: rows buffered before a Parquet row group is written.

    Attributes:
        meta: the metadata; after :meth:`close`, exactly what ``meta.json`` holds.
        counts: ``(layers, heads)`` int64 thresholded weights so far.
        n_rows: attention rows written so far.
    """

    def __init__(
        self,
        out_dir: str | Path,
        *,
        meta: dict,
        rows_per_part: int = 20_000_000,
        row_group_rows: int = 1_000_000,
    ):
        missing = [k for k in REQUIRED_META if k not in meta]
        if missing:
            raise PlmscopeError(f"{out_dir}: attention meta lacks {missing}")
        self.out_dir = Path(out_dir)
        self.meta = dict(meta)
        self.rows_per_part = int(rows_per_part)
        self.row_group_rows = int(row_group_rows)
        self.counts = np.zeros((int(meta["num_layers"]), int(meta["num_heads"])), dtype=np.int64)
        self.n_rows = 0
        self._proteins: dict[str, list] = {name: [] for name in PROTEINS_SCHEMA.names}
        self._seen: set[str] = set()
        self._skipped: list[str] = []
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._part = -1
        self._part_rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._closed = False
        self._stack = contextlib.ExitStack()
        self.tmp = self._stack.enter_context(atomic_path(self.out_dir, directory=True))
        (self.tmp / "attention").mkdir()

    # ---- writing ---------------------------------------------------------------------------
    def write(self, rows: pa.RecordBatch | pa.Table, counts: np.ndarray) -> None:
        """Append thresholded rows and add ``(layers, heads)`` counts from the same batch."""
        if rows.schema != ATTENTION_SCHEMA:
            raise PlmscopeError(
                f"{self.out_dir}: attention rows have columns {rows.schema.names} with types "
                f"{[str(t) for t in rows.schema.types]}, expected {ATTENTION_SCHEMA.names} ({ATTENTION_SCHEMA.types})"
            )
        counts = np.asarray(counts)
        if counts.shape != self.counts.shape:
            raise PlmscopeError(f"{self.out_dir}: counts of shape {counts.shape}, expected {self.counts.shape}")
        self.counts += counts.astype(np.int64)
        batches = rows.to_batches() if isinstance(rows, pa.Table) else [rows]
        for batch in batches:
            if batch.num_rows:
                self._pending.append(batch)
                self._pending_rows += batch.num_rows
        if self._pending_rows >= self.row_group_rows:
            self._flush()

    def add_proteins(
        self,
        ids: Sequence[str],
        n_residues: Sequence[int],
        n_original: Sequence[int],
        *,
        n_nonstandard: Sequence[int] | None = None,
        n_unknown: Sequence[int] | None = None,
        n_windows: Sequence[int] | None = None,
    ) -> None:
        """Record analysed proteins (truncated when ``n_residues < n_original``; windowed when ``n_windows > 1``)."""
        n = len(ids)
        zeros, ones = [0] * n, [1] * n
        for pid, nr, no, ns, nu, nw in zip(
            ids, n_residues, n_original, zeros if n_nonstandard is None else n_nonstandard,
            zeros if n_unknown is None else n_unknown, ones if n_windows is None else n_windows,
        ):
            if pid in self._seen:
                raise PlmscopeError(f"{self.out_dir}: protein {pid!r} written twice")
            self._seen.add(pid)
            self._proteins["protein_id"].append(str(pid))
            self._proteins["n_residues"].append(int(nr))
            self._proteins["n_residues_original"].append(int(no))
            self._proteins["truncated"].append(int(nr) < int(no))
            self._proteins["n_nonstandard"].append(int(ns))
            self._proteins["n_unknown"].append(int(nu))
            self._proteins["n_windows"].append(int(nw))

    def add_skipped(self, ids: Sequence[str]) -> None:
        """Record proteins left out (too long with ``long_sequences="skip"``)."""
        self._skipped.extend(str(i) for i in ids)

    def add_part_file(self, path: str | Path, *, n_rows: int, counts: np.ndarray) -> None:
        """Adopt a finished Parquet file of attention rows as the next part.

        The file is hard-linked into the dataset (copied when that is impossible), so a resumable
        run's finished parts (:mod:`plmscope.attention.partial`) become the output without
        rewriting them.

        Args:
            path: Parquet file with :data:`ATTENTION_SCHEMA` and ``n_rows`` rows.
            n_rows: rows in the file.
            counts: ``(layers, heads)`` rows per head in the file.
        """
        path = Path(path)
        try:
            schema = pq.read_schema(path)
            rows_in_file = pq.ParquetFile(path).metadata.num_rows
        except (pa.ArrowException, OSError) as exc:
            raise located(path, f"not a readable Parquet attention part ({exc})") from None
        if not schema.equals(ATTENTION_SCHEMA) or rows_in_file != n_rows:
            raise located(path, f"attention part has columns {schema.names} and {rows_in_file} rows, expected "
                                f"{ATTENTION_SCHEMA.names} and {n_rows} rows")  # fmt: skip
        counts = np.asarray(counts)
        if counts.shape != self.counts.shape or int(counts.sum()) != n_rows:
            raise located(path, f"counts of shape {counts.shape} summing to {int(counts.sum())} for {n_rows} rows")
        self._flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._part += 1
        target = self.tmp / "attention" / f"part-{self._part:05d}.parquet"
        try:
            os.link(path, target)
        except OSError:
            shutil.copyfile(path, target)
        self.counts += counts.astype(np.int64)
        self.n_rows += int(n_rows)

    def _flush(self) -> None:
        if not self._pending:
            return
        if self._writer is None or self._part_rows >= self.rows_per_part:
            self._open_part()
        table = pa.Table.from_batches(self._pending, schema=ATTENTION_SCHEMA)
        self._writer.write_table(table, row_group_size=self.row_group_rows)
        self._part_rows += table.num_rows
        self.n_rows += table.num_rows
        self._pending, self._pending_rows = [], 0

    def _open_part(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._part += 1
        self._part_rows = 0
        path = self.tmp / "attention" / f"part-{self._part:05d}.parquet"
        self._writer = open_part_writer(path)

    # ---- finishing -------------------------------------------------------------------------
    def close(self) -> Path:
        """Write counts, proteins and meta, then move the directory onto ``out_dir``."""
        if self._closed:
            return self.out_dir
        try:
            self._flush()
            if self._part < 0:
                self._open_part()  # an empty part keeps the dataset readable by any Parquet tool
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            self._write_tables()
        except BaseException as exc:
            self._closed = True
            self._stack.__exit__(type(exc), exc, exc.__traceback__)
            raise
        self._closed = True
        self._stack.close()
        return self.out_dir

    def abort(self, exc: BaseException | None = None) -> None:
        """Drop everything written so far; ``out_dir`` is left as it was."""
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        exc = exc or RuntimeError("attention writing aborted")
        with contextlib.suppress(type(exc)):
            self._stack.__exit__(type(exc), exc, exc.__traceback__)

    def _write_tables(self) -> None:
        layers, heads = self.counts.shape
        pq.write_table(
            pa.Table.from_pydict(
                {
                    "layer": np.repeat(np.arange(layers), heads).astype(np.int16),
                    "head": np.tile(np.arange(heads), layers).astype(np.int16),
                    "n_thresholded": self.counts.reshape(-1),
                },
                schema=COUNTS_SCHEMA,
            ),
            self.tmp / "counts.parquet",
            compression="zstd",
        )
        proteins = pa.Table.from_pydict(self._proteins, schema=PROTEINS_SCHEMA)
        pq.write_table(proteins, self.tmp / "proteins.parquet", compression="zstd")
        truncated = np.asarray(self._proteins["truncated"], dtype=bool)
        windows = np.asarray(self._proteins["n_windows"], dtype=np.int64)
        meta = dict(self.meta)
        meta.update(
            format=FORMAT,
            n_proteins=len(self._proteins["protein_id"]),
            n_truncated=int(truncated.sum()),
            n_windowed=int((windows > 1).sum()),
            n_windows=int(windows[windows > 1].sum()),
            n_skipped=len(self._skipped),
            skipped=list(self._skipped),
            n_nonstandard=int(np.sum(self._proteins["n_nonstandard"], dtype=np.int64)),
            n_unknown=int(np.sum(self._proteins["n_unknown"], dtype=np.int64)),
            n_rows=int(self.n_rows),
            n_parts=self._part + 1,
        )
        (self.tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        self.meta = meta

    def __enter__(self) -> "AttentionWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None:
            self.close()
        else:
            self.abort(exc)
        return False


# ---- readers -------------------------------------------------------------------------------
def _dataset_dir(path: str | Path) -> Path:
    path = Path(path)
    if not (path / "meta.json").is_file():
        raise located(path, "not a plmscope attention dataset (meta.json missing)")
    return path


def read_meta(path: str | Path, *, keys: Sequence[str] = (), check_format: bool = True) -> dict:
    """The ``meta.json`` of an attention dataset, checked.

    ``num_layers`` and ``num_heads`` must be positive integers.

    Args:
        path: dataset directory.
        keys: keys that must be present.
        check_format: require ``format`` to be :data:`FORMAT` (False also accepts a ``meta.json``
            written by other tools, which only need the keys the caller reads).

    Raises:
        PlmscopeError: the file is missing, not a JSON object, of another format, or lacks/has
            invalid keys (the message names the file).
    """
    path = Path(path) / "meta.json"
    if not path.is_file():
        raise located(path, "file not found (not an attention dataset directory?)")
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise located(path, f"not readable JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise located(path, "expected a JSON object")
    if check_format and meta.get("format") != FORMAT:
        raise located(path, f"format {meta.get('format')!r} is not {FORMAT!r}")
    missing = [k for k in keys if k not in meta]
    if missing:
        raise located(path, f"lacks key(s) {missing}")
    for key in ("num_layers", "num_heads"):
        value = meta.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise located(path, f"{key} must be a positive integer, got {value!r}")
    return meta


def read_counts(path: str | Path) -> np.ndarray:
    """Thresholded weights per head: int64 array ``(layers, heads)``."""
    meta = read_meta(path)
    table = pq.read_table(Path(path) / "counts.parquet")
    counts = np.zeros((meta["num_layers"], meta["num_heads"]), dtype=np.int64)
    counts[table["layer"].to_numpy(), table["head"].to_numpy()] = table["n_thresholded"].to_numpy()
    return counts


def read_analysed(path: str | Path, *, columns: Sequence[str] | None = None) -> pa.Table:
    """The analysed proteins (:data:`PROTEINS_SCHEMA`), optionally only ``columns``.

    Raises:
        PlmscopeError: ``proteins.parquet`` is missing, unreadable or lacks one of ``columns``.
    """
    path = _dataset_dir(path) / "proteins.parquet"
    if not path.is_file():
        raise located(path, "file not found")
    try:
        if columns is not None:
            missing = [c for c in columns if c not in pq.read_schema(path).names]
            if missing:
                raise located(path, f"lacks column(s) {missing}")
        return pq.read_table(path, columns=None if columns is None else list(columns))
    except (pa.ArrowException, OSError) as exc:
        raise located(path, f"not a readable Parquet table ({exc})") from None


def analysed_lengths(path: str | Path) -> dict[str, int]:
    """Protein id -> residues analysed, in the order of ``proteins.parquet``.

    Raises:
        PlmscopeError: as :func:`read_analysed`, or a null or duplicate protein id or length.
    """
    file = Path(path) / "proteins.parquet"
    frame = read_analysed(path, columns=["protein_id", "n_residues"]).to_pandas()
    if frame["protein_id"].isna().any() or frame["n_residues"].isna().any():
        raise located(file, "null protein_id or n_residues")
    duplicated = frame["protein_id"][frame["protein_id"].duplicated()]
    if len(duplicated):
        raise located(file, f"duplicate protein id {duplicated.iloc[0]!r}")
    return dict(zip(frame["protein_id"].astype(str), frame["n_residues"].astype(int)))


def check_same_sequences(path: str | Path, lengths: Mapping[str, int], table: str | Path) -> None:
    """Refuse a protein table whose sequences are not the ones this attention dataset analysed.

    An attention dataset read with another table than the one it was computed from would pair
    attention rows with the wrong residues without any error, so the full length of every
    analysed protein (``n_residues_original``) must equal its sequence length in ``table``.

    Args:
        path: the attention dataset directory.
        lengths: protein id -> sequence length in ``table`` (proteins not analysed are ignored).
        table: the protein table, named in the message.

    Raises:
        PlmscopeError: ``"<table>: protein 'X' has N residues, but <path> analysed a sequence of M"``.
    """
    file = _dataset_dir(path) / "proteins.parquet"
    try:
        names = pq.read_schema(file).names
    except (pa.ArrowException, OSError) as exc:
        raise located(file, f"not a readable Parquet table ({exc})") from None
    if "n_residues_original" not in names:  # a dataset written without it: nothing to compare
        return
    frame = read_analysed(path, columns=["protein_id", "n_residues_original"]).to_pydict()
    for pid, n in zip(frame["protein_id"], frame["n_residues_original"]):
        if pid in lengths and n is not None and int(n) != int(lengths[pid]):
            raise located(table, f"protein {pid!r} has {lengths[pid]} residues, but {Path(path)} analysed a sequence "
                                 f"of {int(n)} (attention computed from another protein table?)")  # fmt: skip


def read_attention(
    path: str | Path,
    columns: Sequence[str] | None = None,
    filter: ds.Expression | None = None,
) -> pa.Table:
    """Thresholded attention rows (:data:`ATTENTION_SCHEMA`), optionally projected and filtered.

    Args:
        path: dataset directory written by :class:`AttentionWriter`.
        columns: columns to read (default all).
        filter: a ``pyarrow.dataset`` expression, e.g. ``ds.field("layer") == 3``.
    """
    import pyarrow.dataset as ds

    path = _dataset_dir(path)
    dataset = ds.dataset(path / "attention", format="parquet", schema=ATTENTION_SCHEMA)
    return dataset.to_table(columns=None if columns is None else list(columns), filter=filter)


def iter_attention_batches(
    path: str | Path, *, columns: Sequence[str], batch_size: int = 1 << 20
) -> Iterator[tuple[Path, pa.RecordBatch]]:
    """Stream ``(part file, rows)`` of a dataset, part by part, ``batch_size`` rows at a time (bounded memory).

    The part file lets a caller name it in an error about the rows.

    Raises:
        PlmscopeError: the ``attention/`` directory is missing, or a part is unreadable or lacks one of
            ``columns`` (the message names the part).
    """
    directory = _dataset_dir(path) / "attention"
    if not directory.is_dir():
        raise located(directory, "directory of attention parts not found")
    for part in sorted(directory.glob("part-*.parquet")):
        try:
            reader = pq.ParquetFile(part)
            missing = [c for c in columns if c not in reader.schema_arrow.names]
            if missing:
                raise PlmscopeError(f"attention part lacks column(s) {missing}")
            for batch in reader.iter_batches(batch_size=batch_size, columns=list(columns)):
                yield part, batch
        except PlmscopeError as exc:
            raise located(part, str(exc)) from None
        except (pa.ArrowException, OSError) as exc:
            raise located(part, f"not a readable Parquet attention part ({exc})") from None
