"""Hierarchical sparse regression on amino-acid-specific (one-hot) interaction terms up to order 3.

Protein landscapes are sparse in *interactions between residues*, not in the q-ary Fourier basis:
one residue-specific effect at one site is ``q - 1`` Fourier coefficients and one residue pair
``(q - 1)^2``. This estimator regresses on one-hot terms ``prod_{i in S} [x_i == a_i]`` instead,
and keeps the design small with strong hierarchy, fitted in stages:

1. LASSO on every single term ``[x_i == a]`` (all q residues at every site);
2. LASSO on the selected singles plus every pair ``(i, a), (j, b)`` whose two singles were selected;
3. LASSO on the selected singles and pairs plus every triple whose three pairs were selected.

Each stage picks its penalty on a held-out share of the queried points (never on anything
else); the final support is refitted without shrinkage ("relaxed" LASSO) when that scores better
on the held-out points, then on all points. The fitted model converts exactly to the Fourier
spectrum and to the wild-type-anchored interaction table (:mod:`plmscope.fourier.onehot`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from itertools import combinations, product
from typing import Literal

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from plmscope.errors import PlmscopeError
from plmscope.fourier.base import Estimator, check_choice, check_float, check_int
from plmscope.fourier.landscape import Landscape
from plmscope.fourier.onehot import MIN_POINTS, OneHotModel, TermIndex, query_uniform_points


@dataclass
class StageReport:
    """What one stage of :class:`HierarchicalOneHot` did (``hierarchy``: ``"strong"`` candidates, or
    ``"none"`` = every term of that order; the better on held-out points is kept)."""

    order: int
    hierarchy: str
    candidates: int
    columns: int
    selected: int
    alpha: float
    validation_r2: float


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    sst = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - float(np.sum((y - pred) ** 2)) / sst if sst > 0 else float(np.allclose(y, pred))


def _lasso(X: sp.csc_matrix, y: np.ndarray, alpha: float, warm, *, max_iter: int, tol: float):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import (
        Lasso,  # imported here: scikit-learn is slow to import
    )

    model = Lasso(alpha=alpha, fit_intercept=True, max_iter=max_iter, tol=tol, warm_start=warm is not None)
    if warm is not None:
        model.coef_ = warm.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    return model.coef_.copy(), float(model.intercept_)


def least_squares(X: sp.spmatrix, y: np.ndarray, *, damp: float = 1e-6) -> tuple[np.ndarray, float]:
    """Nearly unpenalised least squares with an intercept (LSQR on centred columns)."""
    X = sp.csc_matrix(X)
    if X.shape[1] == 0:
        return np.zeros(0), float(y.mean())
    mu = np.asarray(X.mean(axis=0)).ravel()
    op = spla.LinearOperator(
        X.shape, matvec=lambda v: X @ v - mu @ v, rmatvec=lambda r: X.T @ r - mu * r.sum(), dtype=np.float64
    )
    ybar = float(y.mean())
    coef = spla.lsqr(op, y - ybar, damp=damp, atol=1e-10, btol=1e-10, iter_lim=5000)[0]
    return coef, ybar - float(mu @ coef)


def fit_lasso_path(
    Xtr: sp.csc_matrix, ytr: np.ndarray, Xva: sp.csc_matrix, yva: np.ndarray, *, n_alphas: int, max_iter: int, tol: float
) -> tuple[float, np.ndarray, float, float]:
    """LASSO down a log grid of penalties (warm starts), stopping once held-out R^2 falls twice in a row.

    Returns:
        ``(alpha, coef, intercept, validation R^2)`` of the best penalty.
    """
    yc = ytr - ytr.mean()
    mu = np.asarray(Xtr.mean(axis=0)).ravel()
    alpha_max = float(np.max(np.abs(Xtr.T @ yc - mu * yc.sum()))) / Xtr.shape[0] if Xtr.shape[1] else 1.0
    best, coef, worse = None, None, 0
    for alpha in alpha_max * np.logspace(-0.5, -4, n_alphas):
        coef, intercept = _lasso(Xtr, ytr, alpha, coef, max_iter=max_iter, tol=tol)
        r2 = _r2(yva, Xva @ coef + intercept)
        if best is None or r2 > best[3]:
            best, worse = (float(alpha), coef.copy(), intercept, r2), 0
        else:
            worse += 1
            if worse >= 2:
                break
    return best


def _pair_candidates(singles: list[tuple[int, int]]) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Every pair of selected singles on different sites, ordered by site."""
    singles = sorted(singles)
    return [(u, v) for k, u in enumerate(singles) for v in singles[k + 1 :] if u[0] < v[0]]


def _triple_candidates(pairs: dict[tuple, float], limit: int) -> list[tuple]:
    """Triples of singles whose three pairs are all selected (strongest pair weights first past ``limit``)."""
    neighbours: dict[tuple[int, int], set] = {}
    for u, v in pairs:
        neighbours.setdefault(u, set()).add(v)
        neighbours.setdefault(v, set()).add(u)
    found = []
    for (u, v), w_uv in pairs.items():
        for w in neighbours[u] & neighbours[v]:
            if w[0] > v[0]:
                strength = min(abs(w_uv), abs(pairs[(u, w)]), abs(pairs[(v, w)]))
                found.append((strength, (u, v, w)))
    found.sort(key=lambda t: -t[0])
    return [t for _, t in found[:limit]]


def _index(terms: list[tuple[tuple[int, int], ...]]) -> TermIndex:
    return TermIndex(tuple(tuple(s for s, _ in t) for t in terms), tuple(tuple(a for _, a in t) for t in terms))


class HierarchicalOneHot(Estimator):
    """Staged, strongly hierarchical LASSO on one-hot interaction terms of order <= ``max_order``.

    Queries ``budget`` uniformly random points (default ``50 * n * q``) and fits on them only.

    Args:
        max_order: highest interaction order (1..3).
        validation_fraction: held-out share of the queried points used to choose each penalty
            and whether to refit the support without shrinkage.
        n_alphas: penalties tried per stage (log grid from ``alpha_max / 3`` to ``alpha_max / 10^4``).
        relax: ``"auto"``: refit the final support by least squares when that scores better on the
            held-out points; ``"always"`` / ``"never"``.
        hierarchy: ``"strong"``: a term of order r >= 2 is a candidate only when all its subsets of
            order r - 1 were selected. ``"auto"``: when every term of that order fits in
            ``max_candidates`` (small n or q), the unrestricted set is fitted too and the better
            on held-out points kept (so pure interactions without main effects, as in a planted
            sparse Fourier spectrum, are still found); larger stages stay strongly hierarchical.
        max_candidates: most higher-order candidate terms entering one stage (the ones whose
            selected subsets have the largest weights are kept).
        max_iter, tol: coordinate-descent limits of each LASSO fit.
        seed: seed of the sampled points and of the validation split.
    """

    name = "hierarchical"

    def __init__(
        self,
        *,
        max_order: int = 3,
        validation_fraction: float = 0.2,
        n_alphas: int = 8,
        relax: Literal["auto", "always", "never"] = "auto",
        hierarchy: Literal["strong", "auto"] = "auto",
        max_candidates: int = 200_000,
        max_iter: int = 200,
        tol: float = 1e-4,
        seed: int = 0,
    ):
        super().__init__(seed=seed)
        self.max_order = check_int(self.name, "max_order", max_order, low=1, high=3)
        self.validation_fraction = check_float(self.name, "validation_fraction", validation_fraction, strict=True)
        if self.validation_fraction >= 0.5:
            raise PlmscopeError(f"{self.name}: option validation_fraction must be below 0.5, got {validation_fraction}")
        self.n_alphas = check_int(self.name, "n_alphas", n_alphas, low=1)
        self.relax = check_choice(self.name, "relax", relax, {"auto", "always", "never"})
        self.hierarchy = check_choice(self.name, "hierarchy", hierarchy, {"strong", "auto"})
        self.max_candidates = check_int(self.name, "max_candidates", max_candidates, low=1)
        self.max_iter = check_int(self.name, "max_iter", max_iter, low=1)
        self.tol = check_float(self.name, "tol", tol, strict=True)
        self.stages: list[StageReport] = []
        self.relaxed: bool | None = None
        self.model: OneHotModel | None = None

    def min_budget(self, n: int, q: int) -> int:
        """:data:`~plmscope.fourier.onehot.MIN_POINTS` random training points."""
        return MIN_POINTS

    def _fit(self, landscape: Landscape, budget: int | None) -> tuple[np.ndarray, np.ndarray]:
        n, q = landscape.n, landscape.q
        X, y = query_uniform_points(landscape, budget, self.rng)
        self.model = self.fit_points(X, y, n, q)
        coefficients = self.model.to_fourier()
        return coefficients.frequencies, coefficients.values

    def fit_points(self, X: np.ndarray, y: np.ndarray, n: int, q: int) -> OneHotModel:
        """Fit on given points (no queries): the staged hierarchical regression.

        Args:
            X: ``(m, n)`` int points.
            y: ``(m,)`` values.

        Returns:
            The fitted one-hot model (residues in 0..q-1, not anchored).
        """
        X = np.asarray(X, dtype=np.int64)
        y = np.asarray(y, dtype=np.float64)
        perm = self.rng.permutation(X.shape[0])
        n_val = max(2, round(self.validation_fraction * X.shape[0]))
        val, train = perm[:n_val], perm[n_val:]
        self.stages = []
        singles = [((i, a),) for i in range(n) for a in range(q)]
        kept: list[tuple] = []  # selected terms of lower orders
        weights: dict[tuple, float] = {}
        best = None
        for order in range(1, self.max_order + 1):
            if order == 1:
                options = [("none", singles)]
            else:
                if order == 2:
                    strong = [tuple(p) for p in _pair_candidates([t[0] for t in kept if len(t) == 1])]
                    strong = strong[: self.max_candidates]
                else:
                    strong = _triple_candidates({t: weights[t] for t in kept if len(t) == 2}, self.max_candidates)
                options = [("strong", strong)] if strong else []
                full = math.comb(n, order) * q**order
                if self.hierarchy == "auto" and len(strong) < full <= self.max_candidates:
                    have = set(kept)
                    every = [
                        tuple(zip(S, a))
                        for S in combinations(range(n), order)
                        for a in product(range(q), repeat=order)
                    ]
                    options.append(("none", [t for t in every if t not in have]))
            if not options:
                break
            tried = []
            for hierarchy, candidates in options:
                terms = kept + candidates
                D = _index(terms).design(X)
                alpha, coef, intercept, r2 = fit_lasso_path(
                    D[train], y[train], D[val], y[val], n_alphas=self.n_alphas, max_iter=self.max_iter, tol=self.tol
                )
                active = np.flatnonzero(coef != 0)
                report = StageReport(order, hierarchy, len(candidates), len(terms), int(active.size), alpha, r2)
                tried.append((r2, report, (terms, coef, intercept, r2, alpha)))
            r2, report, result = max(tried, key=lambda t: t[0])
            self.stages.append(report)
            if best is not None and r2 <= best[3]:
                break  # higher orders no longer help on held-out points: keep the previous stage
            best = result
            terms, coef = result[0], result[1]
            active = np.flatnonzero(coef != 0)
            kept = [terms[j] for j in active]
            weights = {terms[j]: float(coef[j]) for j in active}
        terms, coef, intercept, r2, alpha = best
        active = np.flatnonzero(coef != 0)
        terms = [terms[j] for j in active]
        index = _index(terms)
        D = index.design(X)
        if not terms:
            self.relaxed = False
            return OneHotModel(n, q, float(y.mean()))
        refit = self.relax == "always"
        if self.relax == "auto" and terms:
            c_rel, i_rel = least_squares(D[train], y[train])
            refit = _r2(y[val], D[val] @ c_rel + i_rel) > r2
        self.relaxed = refit
        if refit:
            coef, intercept = least_squares(D, y)
        else:
            coef, intercept = _lasso(D, y, alpha, coef[active], max_iter=self.max_iter, tol=self.tol)
        return index.to_model(coef, intercept, n, q)
