"""Amino-acid interaction terms (site set, residue tuple) <-> q-ary Fourier coefficients, both ways exact.

A one-hot model is ``f(x) = c + sum_t w_t * prod_{i in S_t} [x_i == a_{t,i}]``. Each term is supported
on its site set S, and the indicator of one residue tuple has the Fourier coefficients
``q^-|S| * omega^(-<k_S, a>)`` at every ``k`` whose support lies inside S, so a term of order r maps to
at most ``q^r`` coefficients: the model is turned into a spectrum by one small FFT per site set.

The wild-type-anchored form (wild type = residue 0 at every site) is the unique one-hot model whose
residues are all nonzero: its weights are the mixed differences
``e_S(a) = sum_{T subset of S} (-1)^{|S|-|T|} f(a_T)`` (``a_T``: the mutations of T on the wild type;
order 1 the single-mutant effect, order 2 ``f(ab) - f(a) - f(b) + f(wt)``), i.e. exactly the rows
of the epistasis interaction table. Any Fourier spectrum of order <= r converts to it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from plmscope.errors import PlmscopeError
from plmscope.fourier.coefficients import FourierCoefficients

if TYPE_CHECKING:
    from plmscope.fourier.landscape_spec import LandscapeSpec

Sites = tuple[int, ...]


def merge_frequencies(frequencies: np.ndarray, values: np.ndarray, q: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum the values of repeated frequency rows.

    Args:
        frequencies: ``(s, n)`` int array.
        values: ``(s,)`` complex array.
        q: alphabet size.

    Returns:
        ``(frequencies (u, n) int64, values (u,) complex128)`` with distinct rows.
    """
    frequencies = np.asarray(frequencies, dtype=np.int64)
    values = np.asarray(values, dtype=np.complex128)
    n = frequencies.shape[1]
    if frequencies.shape[0] == 0:
        return frequencies.reshape(0, n), values.reshape(0)
    if float(q) ** n < 2**62:
        keys = frequencies @ np.array([q ** (n - 1 - i) for i in range(n)], dtype=np.int64)
        uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        rows = frequencies[first]
    else:
        rows, inverse = np.unique(frequencies, axis=0, return_inverse=True)
        uniq = rows
    summed = np.zeros(uniq.shape[0], dtype=np.complex128)
    np.add.at(summed, inverse.ravel(), values)
    return rows, summed


def tables_to_fourier(
    tables: dict[Sites, np.ndarray], n: int, q: int, *, rtol: float = 1e-12
) -> tuple[np.ndarray, np.ndarray]:
    """Fourier coefficients of ``f(x) = sum_S g_S(x_S)`` from the dense tables ``g_S`` of shape ``(q,) * |S|``.

    One ``|S|``-dimensional FFT per site set; coefficients shared by several sets are summed, and
    coefficients with ``|F| <= rtol * max|F|`` dropped (FFT rounding noise).

    Returns:
        ``(frequencies (s, n) int64, values (s,) complex128)``.
    """
    freqs, vals = [np.zeros((1, n), dtype=np.int64)], [np.zeros(1, dtype=np.complex128)]
    for S, table in tables.items():
        r = len(S)
        table = np.asarray(table)
        if table.shape != (q,) * r:
            raise PlmscopeError(f"tables_to_fourier: table of sites {S} has shape {table.shape}, expected {(q,) * r}")
        if r == 0:
            vals[0] = vals[0] + complex(table)
            continue
        F = np.fft.fftn(table) / table.size
        k = np.zeros((table.size, n), dtype=np.int64)
        k[:, list(S)] = np.stack(np.unravel_index(np.arange(table.size), table.shape), axis=1)
        freqs.append(k)
        vals.append(F.ravel())
    frequencies, values = merge_frequencies(np.concatenate(freqs), np.concatenate(vals), q)
    top = np.abs(values).max() if values.size else 0.0
    keep = np.abs(values) > rtol * top if top > 0 else np.zeros(values.shape, dtype=bool)
    return frequencies[keep], values[keep]


@dataclass
class OneHotModel:
    """``f(x) = intercept + sum_S sum_t weights_S[t] * prod_{i in S} [x_i == residues_S[t, i]]``.

    Attributes:
        n: number of sites.
        q: alphabet size (residue 0 is the wild type).
        intercept: constant term.
        terms: site tuple ``S`` (increasing, 0-based) -> ``(residues (m, |S|) int64 in 0..q-1,
            weights (m,) float64)``.
    """

    n: int
    q: int
    intercept: float = 0.0
    terms: dict[Sites, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def __post_init__(self):
        clean = {}
        for S, (residues, weights) in self.terms.items():
            S = tuple(int(i) for i in S)
            residues = np.asarray(residues, dtype=np.int64).reshape(-1, len(S))
            weights = np.asarray(weights, dtype=np.float64).ravel()
            if not S or list(S) != sorted(set(S)) or S[0] < 0 or S[-1] >= self.n:
                raise PlmscopeError(f"OneHotModel: site set {S} must be increasing sites in 0..{self.n - 1}")
            if residues.shape[0] != weights.shape[0]:
                raise PlmscopeError(f"OneHotModel: sites {S} have {residues.shape[0]} residue rows, {weights.size} weights")
            if residues.size and (residues.min() < 0 or residues.max() >= self.q):
                raise PlmscopeError(f"OneHotModel: residues of sites {S} must lie in 0..{self.q - 1}")
            clean[S] = (residues, weights)
        self.terms = clean
        self.intercept = float(self.intercept)

    @property
    def max_order(self) -> int:
        """Largest site set with a term (0 for a constant)."""
        return max((len(S) for S in self.terms), default=0)

    def __len__(self) -> int:
        return sum(w.size for _, w in self.terms.values())

    def tables(self) -> dict[Sites, np.ndarray]:
        """Dense ``(q,) * |S|`` table of each site set's part of f (repeated residue tuples add up)."""
        out = {}
        for S, (residues, weights) in self.terms.items():
            table = np.zeros((self.q,) * len(S))
            np.add.at(table, tuple(residues.T), weights)
            out[S] = table
        return out

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Values at ``X`` of shape ``(m, n)``; returns ``(m,)`` floats."""
        X = np.asarray(X, dtype=np.int64)
        if X.ndim != 2 or X.shape[1] != self.n:
            raise PlmscopeError(f"OneHotModel.predict: X must have shape (m, {self.n}), got {X.shape}")
        out = np.full(X.shape[0], self.intercept)
        for S, table in self.tables().items():
            out += table[tuple(X[:, list(S)].T)]
        return out

    def to_fourier(self, *, queries: int = 0, method: str = "", rtol: float = 1e-12) -> FourierCoefficients:
        """The exact q-ary Fourier spectrum of the model (one FFT per site set)."""
        tables = {(): np.asarray(self.intercept), **self.tables()}
        freqs, vals = tables_to_fourier(tables, self.n, self.q, rtol=rtol)
        return FourierCoefficients(freqs, vals, q=self.q, n=self.n, queries=queries, method=method)

    def anchored(self, *, tol: float = 0.0) -> OneHotModel:
        """The equivalent wild-type-anchored model (every residue nonzero; weights = mixed differences).

        Args:
            tol: terms with ``|weight| <= tol`` are dropped.
        """
        acc: dict[Sites, np.ndarray] = {}
        intercept = self.intercept
        for S, table in self.tables().items():
            r = len(S)
            intercept += float(table[(0,) * r])
            for u in range(1, r + 1):
                for pos in combinations(range(r), u):
                    index = tuple(slice(None) if p in pos else 0 for p in range(r))
                    h = table[index]  # sites outside U at the wild type
                    for axis in range(u):
                        h = h - np.take(h, [0], axis=axis)
                    U = tuple(S[p] for p in pos)
                    sub = h[(slice(1, None),) * u]
                    acc[U] = acc[U] + sub if U in acc else sub.copy()
        return OneHotModel(self.n, self.q, intercept, _dense_to_terms(acc, tol=tol))

    @classmethod
    def from_fourier(
        cls, coefficients: FourierCoefficients, *, max_order: int | None = None, tol: float = 1e-12
    ) -> OneHotModel:
        """The wild-type-anchored model of a Fourier spectrum.

        ``e_S(a) = sum_{k : S subset of supp(k)} F[k] prod_{i in S} (omega^(k_i a_i) - 1)``: only
        coefficients whose support contains S contribute. Exact (``predict`` equals the spectrum's
        real part) when ``max_order`` is at least the largest coefficient order.

        Args:
            coefficients: the spectrum.
            max_order: largest site set listed (None: the spectrum's largest order).
            tol: anchored weights with ``|e| <= tol * max|F|`` are dropped (rounding noise).
        """
        q, n = coefficients.q, coefficients.n
        K, F = coefficients.frequencies, coefficients.values
        orders = coefficients.orders
        top = int(orders.max()) if orders.size else 0
        max_order = top if max_order is None else int(max_order)
        nonzero = K != 0
        supports = {tuple(np.flatnonzero(row).tolist()) for row in nonzero[orders > 0]}
        candidates: set[Sites] = set()
        for support in supports:
            for r in range(1, min(max_order, len(support)) + 1):
                candidates.update(combinations(support, r))
        acc: dict[Sites, np.ndarray] = {}
        for S in sorted(candidates, key=lambda s: (len(s), s)):
            rows = np.flatnonzero(nonzero[:, list(S)].all(axis=1))
            r = len(S)
            dense = np.zeros((q,) * r, dtype=np.complex128)
            np.add.at(dense, tuple(K[rows][:, list(S)].T), F[rows])
            h = (np.fft.ifftn(dense) * dense.size).real  # restricted sum at a_S (wild type elsewhere)
            for axis in range(r):
                h = h - np.take(h, [0], axis=axis)
            acc[S] = h[(slice(1, None),) * r]
        scale = float(np.abs(F).max()) if F.size else 0.0
        return cls(n, q, float(F.sum().real), _dense_to_terms(acc, tol=tol * scale))

    def to_table(self, spec: LandscapeSpec | None = None, *, top_k: int | None = None) -> pd.DataFrame:
        """The wild-type-anchored interactions as a long table, ranked by magnitude within each order.

        Args:
            spec: landscape spec naming sites and residues; with it the columns match the epistasis
                interaction table (``order, sites, site_labels, mutations, amino_acids, value,
                magnitude, rank``), without it they are ``order, sites`` (0-based, comma-separated),
                ``residues`` (comma-separated indices), ``value, magnitude, rank``.
            top_k: rows kept per order (None: all).
        """
        model = self if all(w.size == 0 or r.min() > 0 for r, w in self.terms.values()) else self.anchored()
        rows = []
        for order in range(1, model.max_order + 1):
            parts = [(S, res, w) for S, (res, w) in model.terms.items() if len(S) == order and w.size]
            if not parts:
                continue
            which = np.concatenate([np.full(w.size, t) for t, (_, _, w) in enumerate(parts)])
            res = np.concatenate([r for _, r, _ in parts])
            vals = np.concatenate([w for _, _, w in parts])
            ranked = np.argsort(-np.abs(vals), kind="stable")[:top_k]
            for rank, j in enumerate(ranked, start=1):
                S = parts[which[j]][0]
                row = {"interaction_order": order}
                if spec is None:
                    row.update(sites=",".join(map(str, S)), residues=",".join(str(int(v)) for v in res[j]))
                else:
                    labels, letters = spec.site_labels(), spec.letters
                    aa = [str(letters[s, v]) for s, v in zip(S, res[j])]
                    row.update(
                        sites=",".join(str(spec.sites[s] + 1) for s in S),
                        site_labels=",".join(labels[s] for s in S),
                        mutations=",".join(f"{labels[s]}{a}" for s, a in zip(S, aa)),
                        amino_acids=",".join(aa),
                    )
                row.update(coefficient=float(vals[j]), magnitude=float(abs(vals[j])), rank=rank)
                rows.append(row)
        named = ["sites", "site_labels", "mutations", "amino_acids"] if spec is not None else ["sites", "residues"]
        return pd.DataFrame(rows, columns=["interaction_order", *named, "coefficient", "magnitude", "rank"])


def _dense_to_terms(acc: dict[Sites, np.ndarray], *, tol: float) -> dict[Sites, tuple[np.ndarray, np.ndarray]]:
    """Anchored dense arrays ``(q-1,) * |S|`` (residues 1..q-1) -> sparse term lists."""
    terms = {}
    for S in sorted(acc, key=lambda s: (len(s), s)):
        sub = acc[S]
        flat = np.flatnonzero(np.abs(sub.ravel()) > tol)
        if flat.size:
            residues = np.stack(np.unravel_index(flat, sub.shape), axis=1) + 1
            terms[S] = (residues, sub.ravel()[flat])
    return terms


def sample_points(rng: np.random.Generator, n: int, q: int, m: int) -> np.ndarray:
    """``m`` uniformly random points of Z_q^n, distinct when the space is small (``q^n <= 4m``).

    Returns:
        ``(min(m, q^n), n)`` int64 array.
    """
    total = float(q) ** n
    if total <= 4 * m:
        flat = rng.choice(int(total), size=min(m, int(total)), replace=False)
        return np.stack(np.unravel_index(flat, (q,) * n), axis=1).astype(np.int64)
    return rng.integers(0, q, size=(m, n))


MIN_POINTS = 20
"""Fewest uniformly random training points of the regression-style estimators (``hierarchical``, ``proxy``)."""


def query_uniform_points(landscape, budget: int | None, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)``: ``budget`` uniformly random points (default ``50 * n * q``) of ``landscape`` and their values.

    The training data of the regression-style estimators (``hierarchical``, ``proxy``), drawn with
    :func:`sample_points` and queried (counted) through the landscape.

    A budget under :data:`MIN_POINTS` never gets here: the estimators' ``min_budget`` returns it
    and :meth:`~plmscope.fourier.base.Estimator.fit` refuses smaller budgets.
    """
    n, q = landscape.n, landscape.q
    m = budget if budget is not None else max(MIN_POINTS, 50 * n * q)
    X = sample_points(rng, n, q, m)
    return X, landscape(X)


# ------------------------------------------------------------------------------ one-hot designs
@dataclass(frozen=True)
class TermIndex:
    """Columns of a one-hot design: column ``j`` is ``prod_{i in sites[j]} [x_i == residues[j]]``.

    Attributes:
        sites: tuple of site tuples, one per column.
        residues: tuple of residue tuples, one per column.
    """

    sites: tuple[Sites, ...]
    residues: tuple[tuple[int, ...], ...]

    def __len__(self) -> int:
        return len(self.sites)

    @classmethod
    def all_singles(cls, n: int, q: int, *, anchored: bool = False) -> TermIndex:
        """Every ``[x_i == v]`` (``v >= 1`` only when ``anchored``)."""
        start = 1 if anchored else 0
        pairs = [((i,), (v,)) for i in range(n) for v in range(start, q)]
        return cls(tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))

    def design(self, X: np.ndarray) -> sp.csc_matrix:
        """``(m, len(self))`` sparse 0/1 design at points ``X`` (``(m, n)`` ints)."""
        X = np.asarray(X, dtype=np.int64)
        m = X.shape[0]
        rows, cols = [], []
        by_sites: dict[Sites, list[int]] = {}
        for j, S in enumerate(self.sites):
            by_sites.setdefault(S, []).append(j)
        for S, js in by_sites.items():
            res = np.array([self.residues[j] for j in js], dtype=np.int64)  # (t, r)
            q = int(max(X.max(initial=0), res.max(initial=0))) + 1
            radix = q ** np.arange(len(S) - 1, -1, -1)
            key_x = X[:, list(S)] @ radix
            key_t = res @ radix
            order = np.argsort(key_t, kind="stable")
            pos = np.searchsorted(key_t[order], key_x)
            pos = pos.clip(max=order.size - 1)
            hit = key_t[order][pos] == key_x
            js_arr = np.asarray(js)[order]
            # one residue tuple may appear once per site set (columns are distinct)
            rows.append(np.flatnonzero(hit))
            cols.append(js_arr[pos[hit]])
        r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
        return sp.csc_matrix((np.ones(r.size), (r, c)), shape=(m, len(self)))

    def to_model(self, weights: np.ndarray, intercept: float, n: int, q: int, *, tol: float = 0.0) -> OneHotModel:
        """The one-hot model with these columns and ``weights`` (``|w| <= tol`` dropped)."""
        weights = np.asarray(weights, dtype=np.float64)
        grouped: dict[Sites, tuple[list, list]] = {}
        for S, a, w in zip(self.sites, self.residues, weights):
            if abs(w) > tol:
                grouped.setdefault(S, ([], []))
                grouped[S][0].append(a)
                grouped[S][1].append(w)
        terms = {S: (np.array(a, dtype=np.int64), np.array(w)) for S, (a, w) in grouped.items()}
        return OneHotModel(n, q, intercept, terms)
