"""A validated, caching, query-counting wrapper around a function f: Z_q^n -> R."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from plmscope.errors import PlmscopeError, located
from plmscope.io import atomic_path

_META_KEY = b"plmscope.querycache"


class _KeyCodec:
    """Turns rows of Z_q^n into sortable scalar keys (base-q int64 when it fits, raw bytes otherwise)."""

    def __init__(self, n: int, q: int):
        self.n, self.q = n, q
        self.small = q**n < 2**62
        self.powers = np.array([q ** (n - 1 - i) for i in range(n)], dtype=np.int64) if self.small else None
        self.row_dtype = np.uint8 if q <= 256 else np.uint16

    def encode(self, X: np.ndarray) -> np.ndarray:
        if self.small:
            return X.astype(np.int64, copy=False) @ self.powers
        rows = np.ascontiguousarray(X.astype(self.row_dtype))
        return rows.view(np.dtype((np.void, rows.dtype.itemsize * self.n))).ravel()

    def empty(self) -> np.ndarray:
        return self.encode(np.zeros((0, self.n), dtype=np.int64))


def _dedup(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Like ``np.unique(keys, return_index=True, return_inverse=True)``, faster (unstable sort).

    ``first[u]`` is the row of the first occurrence of ``uniq[u]``.
    """
    if keys.shape[0] == 0:
        return keys, np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    order = np.argsort(keys)
    ordered = keys[order]
    starts = np.ones(keys.shape[0], dtype=bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    inverse = np.empty(keys.shape[0], dtype=np.intp)
    inverse[order] = np.cumsum(starts) - 1
    first = np.minimum.reduceat(order, np.flatnonzero(starts))
    return ordered[starts], first, inverse


class _SortedStore:
    """Key -> value map held as sorted numpy arrays (merging two sorted runs is linear with timsort)."""

    def __init__(self, empty_keys: np.ndarray):
        self.keys = empty_keys
        self.values = np.zeros(0, dtype=np.float64)

    def __len__(self) -> int:
        return self.keys.shape[0]

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(found (m,) bool, values (m,) float)`` for sorted-or-not ``keys``."""
        if len(self) == 0:
            return np.zeros(keys.shape[0], dtype=bool), np.full(keys.shape[0], np.nan)
        pos = np.searchsorted(self.keys, keys).clip(max=len(self) - 1)
        found = self.keys[pos] == keys
        return found, np.where(found, self.values[pos], np.nan)

    def add(self, keys: np.ndarray, values: np.ndarray) -> None:
        """Insert keys that are not yet present."""
        if keys.shape[0] == 0:
            return
        order = np.argsort(keys, kind="stable")
        keys, values = keys[order], values[order]
        allk = np.concatenate([self.keys, keys])
        merge = np.argsort(allk, kind="stable")
        self.keys = allk[merge]
        self.values = np.concatenate([self.values, values])[merge]


class QueryCache:
    """Function values persisted in a Parquet file so an interrupted landscape can be resumed.

    File layout: columns ``x_0 .. x_{n-1}`` (int16) and ``y`` (float64), one row per point, with
    ``n`` and ``q`` in the schema metadata. The file is read on construction (if it exists) and
    written atomically by :meth:`save`.

    Args:
        path: Parquet file.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.X = np.zeros((0, 0), dtype=np.int16)
        self.y = np.zeros(0, dtype=np.float64)
        self.n: int | None = None
        self.q: int | None = None
        if self.path.exists():
            self._read()

    def _read(self) -> None:
        try:
            table = pq.read_table(self.path)
        except (OSError, pa.ArrowInvalid) as err:
            raise located(self.path, f"cannot read query cache ({err})") from None
        raw = (table.schema.metadata or {}).get(_META_KEY)
        if raw is None:
            raise located(self.path, "not a plmscope query cache (metadata missing)")
        meta = json.loads(raw)
        self.n, self.q = int(meta["n"]), int(meta["q"])
        cols = [f"x_{i}" for i in range(self.n)]
        if any(c not in table.column_names for c in cols + ["y"]):
            raise located(self.path, f"query cache must have columns x_0..x_{self.n - 1} and y")
        self.X = np.stack([table[c].to_numpy() for c in cols], axis=1).astype(np.int16).reshape(-1, self.n)
        self.y = table["y"].to_numpy().astype(np.float64)

    def bind(self, n: int, q: int) -> None:
        """Attach to a landscape of shape (n, q); a cache written for another shape is refused."""
        if self.n is not None and (self.n, self.q) != (n, q):
            raise located(self.path, f"query cache was written for n={self.n}, q={self.q}, not n={n}, q={q}")
        if self.n is None:
            self.X = np.zeros((0, n), dtype=np.int16)
        self.n, self.q = n, q

    def extend(self, X: np.ndarray, y: np.ndarray) -> None:
        """Append newly evaluated points (in memory; call :meth:`save` to persist)."""
        self.X = np.concatenate([self.X, X.astype(np.int16)])
        self.y = np.concatenate([self.y, y])

    def save(self) -> None:
        """Write every known point to the Parquet file, atomically."""
        if self.n is None:
            raise located(self.path, "query cache is not attached to a landscape yet")
        data = {f"x_{i}": pa.array(self.X[:, i], type=pa.int16()) for i in range(self.n)}
        data["y"] = pa.array(self.y, type=pa.float64())
        table = pa.table(data).replace_schema_metadata({_META_KEY: json.dumps({"n": self.n, "q": self.q}).encode()})
        with atomic_path(self.path) as tmp:
            pq.write_table(table, tmp)


class Landscape:
    """Callable wrapper of ``func: (m, n) int array -> (m,) real values`` over Z_q^n.

    Every input and output is validated (one-line :class:`PlmscopeError` otherwise). Each distinct
    point is evaluated at most once: repeated points, within or across calls, are answered from an
    in-memory store. ``n_queries`` counts the distinct points requested (the budget measure);
    ``n_evaluations`` counts the points actually sent to ``func`` (smaller when a persisted
    :class:`QueryCache` already knew some of them).

    Args:
        func: maps an ``(m, n)`` int64 array with entries in ``0..q-1`` to ``m`` real values.
        n: number of sites.
        q: alphabet size (2..32767).
        cache: optional persisted cache; points it holds are not re-evaluated, new ones are added.
        batch_size: largest number of rows passed to ``func`` at once (None: all new rows at once).
    """

    def __init__(
        self,
        func: Callable[[np.ndarray], np.ndarray],
        n: int,
        q: int,
        *,
        cache: QueryCache | None = None,
        batch_size: int | None = None,
    ):
        if not callable(func):
            raise PlmscopeError(f"Landscape: func must be callable, got {type(func).__name__}")
        for name, value, low in (("n", n, 1), ("q", q, 2)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise PlmscopeError(f"Landscape: {name} must be an integer >= {low}, got {value!r}")
        if q > 32767:
            raise PlmscopeError(f"Landscape: q must be at most 32767, got {q}")
        if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
            raise PlmscopeError(f"Landscape: batch_size must be a positive integer, got {batch_size!r}")
        self.func, self.n, self.q = func, int(n), int(q)
        self.batch_size = batch_size
        self._codec = _KeyCodec(self.n, self.q)
        self._seen = _SortedStore(self._codec.empty())
        self._stored = _SortedStore(self._codec.empty())
        self.cache = cache
        if cache is not None:
            cache.bind(self.n, self.q)
            self._stored.add(*self._unique_pairs(cache.X, cache.y))
        self._X_chunks: list[np.ndarray] = []
        self._y_chunks: list[np.ndarray] = []
        self.n_queries = 0
        self.n_evaluations = 0
        self.max_queries: int | None = None

    def _unique_pairs(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keys, first = np.unique(self._codec.encode(X), return_index=True)
        return keys, y[first]

    def _check_points(self, X) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim == 1 and X.shape[0] == self.n:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.n:
            raise PlmscopeError(f"Landscape: points must have shape (m, {self.n}), got {X.shape}")
        if X.dtype.kind == "f":
            if not np.all(np.isfinite(X)) or np.any(X != np.round(X)):
                raise PlmscopeError(f"Landscape: points must be integers in 0..{self.q - 1}, got non-integer values")
        elif X.dtype.kind not in "iub":
            raise PlmscopeError(f"Landscape: points must be an integer array, got dtype {X.dtype}")
        if X.size and (X.min() < 0 or X.max() >= self.q):
            bad = X[(X < 0) | (X >= self.q)][0]
            raise PlmscopeError(f"Landscape: point entries must lie in 0..{self.q - 1}, got {bad}")
        return X.astype(np.int64)

    def _evaluate(self, X: np.ndarray) -> np.ndarray:
        step = self.batch_size or max(X.shape[0], 1)
        parts = []
        for lo in range(0, X.shape[0], step):
            batch = X[lo : lo + step]
            y = np.asarray(self.func(batch.copy()))
            if y.dtype.kind == "c":
                raise PlmscopeError("Landscape: func must return real values, got complex output")
            if y.dtype.kind not in "iufb":
                raise PlmscopeError(f"Landscape: func must return numbers, got dtype {y.dtype}")
            if y.shape not in ((batch.shape[0],), (batch.shape[0], 1)):
                raise PlmscopeError(
                    f"Landscape: func returned shape {y.shape} for {batch.shape[0]} points, "
                    f"expected ({batch.shape[0]},)"
                )
            y = y.reshape(-1).astype(np.float64)
            if not np.all(np.isfinite(y)):
                where = int(np.flatnonzero(~np.isfinite(y))[0])
                raise PlmscopeError(
                    f"Landscape: func returned {y[where]} at x={batch[where].tolist()}; outputs must be finite"
                )
            parts.append(y)
        return np.concatenate(parts) if parts else np.zeros(0)

    def __call__(self, X) -> np.ndarray:
        """Values at points X.

        Args:
            X: ``(m, n)`` integer array (or a single ``(n,)`` point) with entries in ``0..q-1``.

        Returns:
            ``(m,)`` float64 array.

        Raises:
            PlmscopeError: bad shapes or entries, bad function outputs, or the query limit exceeded.
        """
        X = self._check_points(X)
        uniq, first, inverse = _dedup(self._codec.encode(X))
        seen, values = self._seen.lookup(uniq)
        new = np.flatnonzero(~seen)
        new = new[np.argsort(first[new])]  # new points in order of first request
        if new.size:
            if self.max_queries is not None and self.n_queries + new.size > self.max_queries:
                raise PlmscopeError(
                    f"Landscape: query budget of {self.max_queries} exceeded "
                    f"({self.n_queries} used, {new.size} more requested)"
                )
            if self.cache is not None:
                stored, stored_vals = self._stored.lookup(uniq[new])
            else:
                stored, stored_vals = np.zeros(new.size, dtype=bool), np.zeros(new.size)
            fresh = new[~stored]
            fresh_vals = self._evaluate(X[first[fresh]]) if fresh.size else np.zeros(0)
            values[new[stored]] = stored_vals[stored]
            values[fresh] = fresh_vals
            self._seen.add(uniq[new], values[new])
            self._X_chunks.append(X[first[new]].astype(np.int16))
            self._y_chunks.append(values[new].copy())
            self.n_queries += int(new.size)
            self.n_evaluations += int(fresh.size)
            if fresh.size and self.cache is not None:
                self._stored.add(uniq[fresh], fresh_vals)
                self.cache.extend(X[first[fresh]], fresh_vals)
        return values[inverse]

    def queries(self) -> tuple[np.ndarray, np.ndarray]:
        """Every distinct point requested so far, in order of first request.

        Returns:
            ``(X (m, n) int16, y (m,) float64)`` with ``m == n_queries``.
        """
        if not self._X_chunks:
            return np.zeros((0, self.n), dtype=np.int16), np.zeros(0)
        X, y = np.concatenate(self._X_chunks), np.concatenate(self._y_chunks)
        self._X_chunks, self._y_chunks = [X], [y]
        return X, y

    @contextlib.contextmanager
    def limit(self, budget: int | None) -> Iterator["Landscape"]:
        """Within the block, allow at most ``budget`` more distinct queries (None: no limit)."""
        previous = self.max_queries
        if budget is not None:
            cap = self.n_queries + int(budget)
            self.max_queries = cap if previous is None else min(previous, cap)
        try:
            yield self
        finally:
            self.max_queries = previous
