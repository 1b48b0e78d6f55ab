"""A query cache shared across runs and processes: scored landscape points on disk, with a crash journal."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import time
import uuid
from pathlib import Path
from typing import Iterator

import numpy as np

from plmscope.errors import PlmscopeError
from plmscope.fourier.landscape import QueryCache

log = logging.getLogger(__name__)


def row_keys(X: np.ndarray, q: int) -> np.ndarray:
    """Scalar keys of the rows of X (base-q integers when they fit, else row bytes)."""
    X = np.asarray(X, dtype=np.int64)
    n = X.shape[1]
    if q**n < 2**62:
        return X @ np.array([q ** (n - 1 - i) for i in range(n)], dtype=np.int64)
    return np.array([bytes(r) for r in np.ascontiguousarray(X.astype(np.int16))], dtype=object)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class PersistentCache:
    """A :class:`QueryCache` shared across runs and processes, with a crash journal.

    Points are journaled (one small Parquet part per scored chunk) as soon as they are scored, and
    folded into the main file by :meth:`flush` (under a file lock, merging points that other
    processes added meanwhile). An interrupted run loses at most the chunk in progress.

    Args:
        path: main Parquet file of the cache.
        n, q: landscape shape.
    """

    def __init__(self, path: Path, n: int, q: int):
        self.path, self.n, self.q = Path(path), n, q
        self.journal = self.path.with_name(self.path.name + ".journal")
        with _locked(self.path):
            self.cache = QueryCache(self.path)
            self.cache.bind(n, q)
            recovered = self._absorb_journal()
            if recovered:
                self.cache.save()
                self._clear_journal()
                log.info("%s: recovered %d scored points from an interrupted run", self.path, recovered)

    def _absorb_journal(self) -> int:
        added = 0
        for part in sorted(self.journal.glob("part-*.parquet")) if self.journal.is_dir() else []:
            try:
                piece = QueryCache(part)
            except PlmscopeError as err:  # a part cut short by a crash: skip it
                log.warning("skipping unreadable journal part %s (%s)", part, err)
                continue
            if (piece.n, piece.q) == (self.n, self.q):
                added += self._add_missing(piece.X, piece.y)
        return added

    def _add_missing(self, X: np.ndarray, y: np.ndarray) -> int:
        if X.shape[0] == 0:
            return 0
        known = row_keys(self.cache.X, self.q)
        keys = row_keys(X, self.q)
        keys, first = np.unique(keys, return_index=True)
        new = first[~np.isin(keys, known)]
        if new.size:
            self.cache.extend(X[new], y[new])
        return int(new.size)

    def _clear_journal(self) -> None:
        if self.journal.is_dir():
            for part in self.journal.glob("part-*.parquet"):
                part.unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # another process may be journaling into it
                self.journal.rmdir()

    def record(self, X: np.ndarray, y: np.ndarray) -> None:
        """Journal freshly scored points (atomically, one part file)."""
        part = QueryCache(self.journal / f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet")
        part.bind(self.n, self.q)
        part.extend(np.asarray(X), np.asarray(y, dtype=np.float64))
        with _locked(self.path):
            self.journal.mkdir(parents=True, exist_ok=True)
            part.save()

    def flush(self) -> None:
        """Write every known point to the main file (merging other writers' points); clear the journal."""
        with _locked(self.path):
            if self.path.exists():
                disk = QueryCache(self.path)
                if (disk.n, disk.q) == (self.n, self.q):
                    self._add_missing(disk.X, disk.y)
            self._absorb_journal()
            self.cache.save()
            self._clear_journal()

    def __len__(self) -> int:
        return int(self.cache.y.shape[0])
