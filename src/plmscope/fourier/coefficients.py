"""The result type shared by every Fourier estimator: sparse coefficients with provenance."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from plmscope.errors import PlmscopeError, located
from plmscope.fourier.transform import evaluate, order
from plmscope.io import atomic_path

_META_KEY = b"plmscope.fourier"


@dataclass
class FourierCoefficients:
    """Sparse Fourier coefficients of a function ``f: Z_q^n -> R``.

    ``f(x) ~= sum_s values[s] * omega^<frequencies[s], x>`` with ``omega = exp(2*pi*i/q)``.

    Attributes:
        frequencies: ``(s, n)`` int64 array, entries in ``0..q-1``, rows distinct.
        values: ``(s,)`` complex128 coefficients ``F[k]``.
        q: alphabet size.
        n: number of sites.
        queries: number of distinct function evaluations the estimator used.
        method: name of the estimator (a key of ``METHODS``).
    """

    frequencies: np.ndarray
    values: np.ndarray
    q: int
    n: int
    queries: int = 0
    method: str = ""

    def __post_init__(self):
        self.frequencies = np.asarray(self.frequencies, dtype=np.int64).reshape(-1, self.n)
        self.values = np.asarray(self.values, dtype=np.complex128).ravel()
        if self.frequencies.shape[0] != self.values.shape[0]:
            raise PlmscopeError(
                f"FourierCoefficients: {self.frequencies.shape[0]} frequencies but {self.values.shape[0]} values"
            )
        if self.frequencies.size and (self.frequencies.min() < 0 or self.frequencies.max() >= self.q):
            raise PlmscopeError(f"FourierCoefficients: frequency entries must lie in 0..{self.q - 1}")

    def __len__(self) -> int:
        return self.values.shape[0]

    @property
    def orders(self) -> np.ndarray:
        """``(s,)`` number of nonzero entries of each frequency."""
        return order(self.frequencies)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Real part of the sparse inverse transform at points X.

        Args:
            X: ``(m, n)`` int array with entries in ``0..q-1``.

        Returns:
            ``(m,)`` float array.
        """
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n:
            raise PlmscopeError(f"predict: X must have shape (m, {self.n}), got {X.shape}")
        return evaluate(self.frequencies, self.values, X, q=self.q, real=True)

    def as_dict(self) -> dict[tuple[int, ...], complex]:
        """``{tuple(k): F[k]}`` (handy for small comparisons)."""
        return {tuple(int(v) for v in k): complex(c) for k, c in zip(self.frequencies, self.values)}

    def to_table(self) -> pd.DataFrame:
        """One row per coefficient.

        Columns: ``k_0 .. k_{n-1}`` (int), ``order`` (int), ``real``, ``imag``, ``magnitude`` (float),
        sorted by decreasing magnitude.
        """
        data = {f"k_{i}": self.frequencies[:, i].astype(np.int32) for i in range(self.n)}
        data["order"] = self.orders.astype(np.int32)
        data["real"] = self.values.real
        data["imag"] = self.values.imag
        data["magnitude"] = np.abs(self.values)
        table = pd.DataFrame(data)
        return table.sort_values("magnitude", ascending=False, kind="stable").reset_index(drop=True)

    def save(self, path: str | os.PathLike) -> None:
        """Write ``to_table()`` to a Parquet file (atomically) with q, n, queries and method as metadata."""
        table = pa.Table.from_pandas(self.to_table(), preserve_index=False)
        meta = {"q": self.q, "n": self.n, "queries": int(self.queries), "method": self.method}
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), _META_KEY: json.dumps(meta).encode()})
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "FourierCoefficients":
        """Read a file written by :meth:`save`.

        Raises:
            PlmscopeError: the file is missing or was not written by ``save``.
        """
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowInvalid) as err:
            raise located(path, f"cannot read Fourier coefficients ({err})") from None
        raw = (table.schema.metadata or {}).get(_META_KEY)
        if raw is None:
            raise located(path, "not a plmscope Fourier coefficient table (metadata missing)")
        meta = json.loads(raw)
        n = int(meta["n"])
        missing = [c for c in [f"k_{i}" for i in range(n)] + ["real", "imag"] if c not in table.column_names]
        if missing:
            raise located(path, f"Fourier coefficient table lacks columns {missing}")
        freqs = np.stack([table[f"k_{i}"].to_numpy() for i in range(n)], axis=1) if n else np.zeros((table.num_rows, 0))
        values = table["real"].to_numpy() + 1j * table["imag"].to_numpy()
        return cls(freqs, values, q=int(meta["q"]), n=n, queries=int(meta["queries"]), method=str(meta["method"]))
