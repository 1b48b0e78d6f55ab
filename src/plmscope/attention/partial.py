"""Resumable attention runs: finished Parquet parts and a progress manifest in ``<output>.partial/``.

Layout of the work-in-progress directory, a sibling of the output directory::

    <output>.partial/
        .plmscope-output          marker: plmscope wrote this directory (see plmscope.io)
        lock                      flock-ed while a run writes here (a second run is refused)
        progress.json             config fingerprint + the finished parts (with their SHA-256), in plan order
        part-00000.parquet ...    finished parts: the rows of consecutive plan batches
        part-00003.parquet.tmp    the part being written (removed when a run resumes)

A part is renamed from ``.tmp`` and fsync-ed before ``progress.json`` lists it, and
``progress.json`` itself is replaced atomically, so after a crash (SIGKILL, OOM, lost node) the
manifest lists only complete parts. A rerun with the same fingerprint keeps the finished parts
whose size and SHA-256 match the manifest, up to the first missing or damaged one (logged), and
runs the remaining batches; part boundaries depend only on the plan and the rows, so the
resumed output is identical to an uninterrupted one. A rerun with another fingerprint discards
the directory (logged). When the run completes, the parts are hard-linked into the output
directory, which appears atomically, and the work-in-progress directory is removed.

The output and the work-in-progress directory are checked with :func:`plmscope.io.check_output`
before anything is written: neither may be the current directory, one of its ancestors, an input
or a directory holding one, or an existing directory plmscope did not write.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pyarrow as pa

from plmscope.attention.dataset import ATTENTION_SCHEMA, AttentionWriter, open_part_writer
from plmscope.errors import PlmscopeError, located
from plmscope.io import MARKER, check_output, glob_escape, marker_text, output_path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no lock, resumption still works
    fcntl = None

log = logging.getLogger(__name__)

PARTIAL_FORMAT = "plmscope-attention-partial/2"  # /2: parts carry their SHA-256
MANIFEST = "progress.json"
LOCK = "lock"


def partial_dir(output_dir: str | Path) -> Path:
    """The work-in-progress directory of an output: ``<output>.partial`` beside it."""
    output_dir = output_path(output_dir)
    return output_dir.with_name(output_dir.name + ".partial")


def digest(value: Any) -> str:
    """SHA-256 of a JSON-serialisable value (canonical JSON: sorted keys, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class PartInfo:
    """One finished part, as listed in ``progress.json``.

    Attributes:
        file: file name inside the work-in-progress directory.
        first_batch: first plan batch whose rows it holds.
        end_batch: one past its last plan batch.
        n_rows: attention rows.
        n_bytes: file size (checked on resume).
        sha256: SHA-256 of the file (checked on resume: a damaged part of the right size is rerun).
        counts: ``(layers, heads)`` rows per head, as nested lists.
        proteins: the proteins finished in these batches (``proteins.parquet`` rows as dicts).
    """

    file: str
    first_batch: int
    end_batch: int
    n_rows: int
    n_bytes: int
    sha256: str
    counts: list[list[int]]
    proteins: list[dict] = field(default_factory=list)


class PartialRun:
    """The work-in-progress directory of one attention run (see the module docstring).

    Args:
        output_dir: the final dataset directory.
        fingerprint: everything the output depends on (model, options, protein table hash, plan
            hash); a stored run is resumed only when its fingerprint is equal.
        num_layers: layers of the model.
        num_heads: heads per layer.
        rows_per_part: a part is closed after the batch that brings it to this many rows...
        proteins_per_part: ...or to this many finished proteins (the resume granularity).
        row_group_rows: rows buffered before a Parquet row group is written.
        resume: False discards any stored run (``--restart``).
        inputs: the run's input paths; the output may not be one of them or hold one.

    Attributes:
        path: the ``<output>.partial`` directory.
        parts: the finished parts, in plan order.
        next_batch: first plan batch not covered by :attr:`parts` (where the run continues).
        resumed: True when finished parts of an earlier run were kept.

    Raises:
        PlmscopeError: another process holds the directory's lock, an option is invalid, or the
            output (or ``<output>.partial``) is a path plmscope must not replace.
    """

    def __init__(
        self,
        output_dir: str | Path,
        *,
        fingerprint: dict,
        num_layers: int,
        num_heads: int,
        rows_per_part: int = 5_000_000,
        proteins_per_part: int = 250,
        row_group_rows: int = 1_000_000,
        resume: bool = True,
        inputs: Sequence[str | Path | None] = (),
    ):
        for name, value in (("rows_per_part", rows_per_part), ("proteins_per_part", proteins_per_part),
                            ("row_group_rows", row_group_rows)):  # fmt: skip
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise PlmscopeError(f"{name} must be a positive integer, got {value!r}")
        self.output_dir = check_output(output_dir, directory=True, inputs=inputs)
        self.path = check_output(partial_dir(self.output_dir), directory=True, inputs=inputs, owned=_owned)
        self.fingerprint = dict(fingerprint)
        self.shape = (int(num_layers), int(num_heads))
        self.rows_per_part = int(rows_per_part)
        self.proteins_per_part = int(proteins_per_part)
        self.row_group_rows = int(row_group_rows)
        self.parts: list[PartInfo] = []
        self.resumed = False
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            (self.path / MARKER).write_text(marker_text())
        except OSError as exc:
            raise located(self.path, f"cannot write: {exc.strerror or exc}") from None
        self._lock = self._acquire()
        self._writer = None
        self._tmp: Path | None = None
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._rows = 0
        self._counts = np.zeros(self.shape, dtype=np.int64)
        self._proteins: list[dict] = []
        self._first = 0
        try:
            self._load(resume)
        except BaseException:
            self.close()
            raise
        self.next_batch = self.parts[-1].end_batch if self.parts else 0
        self._next = self.next_batch

    # ---- opening ---------------------------------------------------------------------------
    def _acquire(self):
        handle = open(self.path / LOCK, "a+")
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                raise located(self.path, "another plmscope attention run is writing this output (lock held)") from None
        return handle

    def _load(self, resume: bool) -> None:
        """Keep the finished parts of a stored run with the same fingerprint; clear everything else."""
        manifest = self.path / MANIFEST
        stored = None
        if manifest.is_file():
            try:
                stored = json.loads(manifest.read_text())
            except (OSError, ValueError) as exc:
                log.warning("discarding %s: unreadable %s (%s)", self.path, MANIFEST, exc)
        if stored is not None:
            if not resume:
                log.info("discarding the partial results in %s (restart requested)", self.path)
            elif not isinstance(stored, dict) or stored.get("format") != PARTIAL_FORMAT:
                log.warning("discarding %s: %s is not a %s manifest", self.path, MANIFEST, PARTIAL_FORMAT)
            elif stored.get("fingerprint") != self.fingerprint:
                old = stored.get("fingerprint") if isinstance(stored.get("fingerprint"), dict) else {}
                keys = old.keys() | self.fingerprint.keys()
                changed = sorted(k for k in keys if old.get(k) != self.fingerprint.get(k))
                log.warning("discarding the partial results in %s: written with a different configuration "
                            "(changed: %s)", self.path, ", ".join(changed))  # fmt: skip
            else:
                self.parts = self._valid_prefix(stored.get("parts", []))
                self.resumed = bool(self.parts)
        keep = {MARKER, LOCK, MANIFEST, *(p.file for p in self.parts)}
        for entry in self.path.iterdir():
            if entry.name not in keep:
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        self._save()
        # temporary output directories of runs killed while assembling (we hold the output's lock)
        for stale in self.output_dir.parent.glob(f".{glob_escape(self.output_dir.name)}.tmp-*"):
            log.info("removing %s, left by an interrupted run", stale)
            shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)

    def _valid_prefix(self, listed: list) -> list[PartInfo]:
        """The listed parts up to the first one that is missing, resized, changed (SHA-256) or out of sequence."""
        parts: list[PartInfo] = []
        end = 0
        for item in listed:
            try:
                part = PartInfo(**item)
                ok = (
                    part.first_batch == end
                    and part.end_batch > part.first_batch
                    and (self.path / part.file).is_file()
                    and (self.path / part.file).stat().st_size == part.n_bytes
                    and np.asarray(part.counts).shape == self.shape
                    and file_sha256(self.path / part.file) == part.sha256
                )
            except (TypeError, ValueError, OSError):
                ok = False
            if not ok:
                log.warning("%s: part %r is missing or damaged; its batches and later ones are rerun", self.path,
                            item.get("file") if isinstance(item, dict) else item)  # fmt: skip
                break
            parts.append(part)
            end = part.end_batch
        return parts

    # ---- writing ---------------------------------------------------------------------------
    def add(self, batch_index: int, rows: pa.RecordBatch | pa.Table, counts: np.ndarray, finished: Sequence) -> None:
        """Append one plan batch: its thresholded rows, ``(layers, heads)`` counts and finished proteins.

        Args:
            batch_index: plan position; batches must arrive in order from :attr:`next_batch`.
            rows: rows with :data:`ATTENTION_SCHEMA`.
            counts: ``(layers, heads)`` rows per head.
            finished: proteins completed by this batch
                (:class:`plmscope.models.inference.AnalysedProtein` or dicts with the same fields).
        """
        if batch_index != self._next:
            raise PlmscopeError(f"{self.path}: batch {batch_index} arrived, expected batch {self._next}")
        if not rows.schema.equals(ATTENTION_SCHEMA):
            raise PlmscopeError(f"{self.path}: attention rows have columns {rows.schema.names}, "
                                f"expected {ATTENTION_SCHEMA.names}")  # fmt: skip
        counts = np.asarray(counts, dtype=np.int64)
        if counts.shape != self.shape:
            raise PlmscopeError(f"{self.path}: counts of shape {counts.shape}, expected {self.shape}")
        if self._writer is None:
            self._first = batch_index
            self._tmp = self.path / f"part-{len(self.parts):05d}.parquet.tmp"
            self._writer = open_part_writer(self._tmp)
        for batch in rows.to_batches() if isinstance(rows, pa.Table) else [rows]:
            if batch.num_rows:
                self._pending.append(batch)
                self._pending_rows += batch.num_rows
        if self._pending_rows >= self.row_group_rows:
            self._flush()
        self._rows += rows.num_rows
        self._counts += counts
        self._proteins.extend(_protein_row(p) for p in finished)
        self._next = batch_index + 1
        if self._rows >= self.rows_per_part or len(self._proteins) >= self.proteins_per_part:
            self.commit()

    def _flush(self) -> None:
        if self._pending:
            self._writer.write_table(pa.Table.from_batches(self._pending, schema=ATTENTION_SCHEMA),
                                     row_group_size=self.row_group_rows)  # fmt: skip
            self._pending, self._pending_rows = [], 0

    def commit(self) -> None:
        """Close the part being written, make it durable and list it in ``progress.json``."""
        if self._writer is None:
            return
        self._flush()
        self._writer.close()
        self._writer = None
        final = self._tmp.with_suffix("")  # drop ".tmp"
        _fsync(self._tmp)
        os.replace(self._tmp, final)
        part = PartInfo(
            file=final.name, first_batch=self._first, end_batch=self._next, n_rows=int(self._rows),
            n_bytes=final.stat().st_size, sha256=file_sha256(final), counts=self._counts.tolist(),
            proteins=self._proteins,
        )  # fmt: skip
        self.parts.append(part)
        self._save()
        self._rows, self._proteins = 0, []
        self._counts = np.zeros(self.shape, dtype=np.int64)

    def _save(self) -> None:
        manifest = {
            "format": PARTIAL_FORMAT,
            "output": str(self.output_dir),
            "fingerprint": self.fingerprint,
            "parts": [asdict(p) for p in self.parts],
        }
        tmp = self.path / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(manifest, indent=1) + "\n")
        _fsync(tmp)
        os.replace(tmp, self.path / MANIFEST)
        _fsync(self.path)

    # ---- finishing -------------------------------------------------------------------------
    def assemble(self, *, meta: dict, skipped: Sequence[str] = ()) -> dict:
        """Write the output dataset from the finished parts (atomically) and return its meta.

        Args:
            meta: dataset meta (see :class:`plmscope.attention.dataset.AttentionWriter`).
            skipped: ids of proteins left out.
        """
        self.commit()
        with AttentionWriter(self.output_dir, meta=meta, row_group_rows=self.row_group_rows) as writer:
            writer.add_skipped(skipped)
            for part in self.parts:
                if part.n_rows:
                    writer.add_part_file(self.path / part.file, n_rows=part.n_rows, counts=np.asarray(part.counts))
                if part.proteins:
                    columns = {k: [p[k] for p in part.proteins] for k in part.proteins[0]}
                    writer.add_proteins(
                        columns["id"], columns["n_residues"], columns["n_original"],
                        n_nonstandard=columns["n_nonstandard"], n_unknown=columns["n_unknown"],
                        n_windows=columns["n_windows"],
                    )  # fmt: skip
        return writer.meta

    def close(self) -> None:
        """Stop writing and release the lock; finished parts stay for a later resume."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            self._writer = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def remove(self) -> None:
        """Delete the work-in-progress directory (after success, or when nothing is worth resuming)."""
        self.close()
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> "PartialRun":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.close()
        return False


def _protein_row(protein) -> dict:
    """An analysed protein as a plain dict (id, n_residues, n_original, n_nonstandard, n_unknown, n_windows)."""
    keys = ("id", "n_residues", "n_original", "n_nonstandard", "n_unknown", "n_windows")
    if isinstance(protein, dict):
        return {k: protein[k] if k == "id" else int(protein.get(k, 1 if k == "n_windows" else 0)) for k in keys}
    return {k: getattr(protein, k) if k == "id" else int(getattr(protein, k)) for k in keys}


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _owned(path: Path) -> bool:
    """A work-in-progress directory of an earlier version (no marker): it holds the lock or the manifest."""
    return not path.is_symlink() and ((path / LOCK).is_file() or (path / MANIFEST).is_file())


def _fsync(path: Path) -> None:
    """Flush a file or directory to disk (best effort: some file systems refuse directory fsync)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
