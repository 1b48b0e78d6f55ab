"""Proxy estimator (in the spirit of ProxySPEX): boost shallow trees on the queried variants, then
read the trees' Fourier spectrum off exactly.

A regression tree is a sum over its leaves of ``value * prod_{i in path} [x_i in A_i]``, where
``A_i`` is the set of residues the path lets through at site i (the intersection of its splits on
that site). A leaf of depth d therefore touches at most d sites, and its indicator is a product of
per-site indicators whose q-ary transform is the product of the per-site DFTs. Leaves are
accumulated into one dense ``(q,) * |S|`` table per site set S and each table is transformed once
(:func:`plmscope.fourier.onehot.tables_to_fourier`), so the spectrum is exact for the fitted
ensemble and has order <= the tree depth.

Two learners: scikit-learn's ``HistGradientBoostingRegressor`` with every site a categorical
feature (splits send any subset of residues left; default), or ``GradientBoostingRegressor`` on
one-hot inputs (each split isolates one residue). Boosting stops early on a held-out share of the
queried points.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from plmscope.errors import PlmscopeError
from plmscope.fourier.base import Estimator, check_choice, check_float, check_int
from plmscope.fourier.landscape import Landscape
from plmscope.fourier.onehot import MIN_POINTS, query_uniform_points, tables_to_fourier

Sites = tuple[int, ...]
# Largest |extracted - model.predict| (relative to the spread of y) accepted as exact.
_EXACT_RTOL = 1e-6


def _add_leaf(tables: dict[Sites, np.ndarray], allowed: dict[int, np.ndarray], value: float, q: int) -> None:
    """Add ``value * prod_i [x_i in allowed[i]]`` to the table of its site set."""
    sites = tuple(sorted(i for i, mask in allowed.items() if not mask.all()))
    if any(not allowed[i].any() for i in sites):
        return  # unreachable leaf
    indicator = np.asarray(1.0)
    for i in sites:
        indicator = np.multiply.outer(indicator, allowed[i].astype(np.float64))
    if sites not in tables:
        tables[sites] = np.zeros((q,) * len(sites))
    tables[sites] += value * indicator


def hist_tree_tables(predictors, q: int) -> dict[Sites, np.ndarray]:
    """Site-set tables of a fitted ``HistGradientBoostingRegressor`` with categorical sites.

    Args:
        predictors: the model's ``_predictors`` (one list of one ``TreePredictor`` per iteration).
        q: alphabet size.
    """
    tables: dict[Sites, np.ndarray] = {}
    codes = np.arange(q)
    for (tree,) in predictors:
        nodes, bitsets = tree.nodes, tree.raw_left_cat_bitsets
        stack = [(0, {})]
        while stack:
            k, allowed = stack.pop()
            node = nodes[k]
            if node["is_leaf"]:
                _add_leaf(tables, allowed, float(node["value"]), q)
                continue
            site = int(node["feature_idx"])
            if node["is_categorical"]:
                words = bitsets[int(node["bitset_idx"])]
                left = ((words[codes // 32] >> (codes % 32).astype(words.dtype)) & 1).astype(bool)
            else:
                left = codes <= node["num_threshold"]
            current = allowed.get(site, np.ones(q, dtype=bool))
            stack.append((int(node["left"]), {**allowed, site: current & left}))
            stack.append((int(node["right"]), {**allowed, site: current & ~left}))
    return tables


def gbr_tree_tables(estimators: np.ndarray, learning_rate: float, n: int, q: int) -> dict[Sites, np.ndarray]:
    """Site-set tables of a fitted ``GradientBoostingRegressor`` on one-hot inputs (column ``i*q + v``)."""
    tables: dict[Sites, np.ndarray] = {}
    for tree in estimators[:, 0]:
        t = tree.tree_
        stack = [(0, {})]
        while stack:
            k, allowed = stack.pop()
            if t.children_left[k] == -1:
                _add_leaf(tables, allowed, learning_rate * float(t.value[k].ravel()[0]), q)
                continue
            site, v = divmod(int(t.feature[k]), q)
            hit = np.arange(q) == v
            current = allowed.get(site, np.ones(q, dtype=bool))
            # one-hot column <= threshold (0.5) goes left: x_site != v
            stack.append((int(t.children_left[k]), {**allowed, site: current & ~hit}))
            stack.append((int(t.children_right[k]), {**allowed, site: current & hit}))
    return tables


def _tables_predict(tables: dict[Sites, np.ndarray], X: np.ndarray) -> np.ndarray:
    out = np.zeros(X.shape[0])
    for S, table in tables.items():
        out += table[tuple(X[:, list(S)].T)]
    return out


class ProxyTrees(Estimator):
    """Gradient-boosted shallow trees on the queried variants, with their exact Fourier spectrum.

    Queries ``budget`` uniformly random points (default ``50 * n * q``).

    Args:
        learner: ``"hist"`` (``HistGradientBoostingRegressor``, categorical sites) or ``"gbr"``
            (``GradientBoostingRegressor`` on one-hot inputs).
        max_depth: tree depth = highest interaction order of the spectrum (1..4).
        max_iter: most boosting rounds.
        learning_rate: shrinkage of each tree.
        min_samples_leaf: smallest leaf.
        l2_regularization: leaf-value penalty (``"hist"`` only).
        validation_fraction: held-out share for early stopping (10 rounds without improvement).
        rtol: Fourier coefficients with ``|F| <= rtol * max|F|`` are dropped.
        n_threads: OpenMP threads of the learner (1 by default: on a busy machine more threads
            slow the many small boosting rounds down by an order of magnitude).
        seed: seed of the sampled points and of the learner.
    """

    name = "proxy"

    def __init__(
        self,
        *,
        learner: Literal["hist", "gbr"] = "hist",
        max_depth: int = 3,
        max_iter: int = 2000,
        learning_rate: float = 0.1,
        min_samples_leaf: int = 10,
        l2_regularization: float = 0.0,
        validation_fraction: float = 0.1,
        rtol: float = 1e-9,
        n_threads: int = 1,
        seed: int = 0,
    ):
        super().__init__(seed=seed)
        self.learner = check_choice(self.name, "learner", learner, {"hist", "gbr"})
        self.max_depth = check_int(self.name, "max_depth", max_depth, low=1, high=4)
        self.max_iter = check_int(self.name, "max_iter", max_iter, low=1)
        self.learning_rate = check_float(self.name, "learning_rate", learning_rate, strict=True)
        self.min_samples_leaf = check_int(self.name, "min_samples_leaf", min_samples_leaf, low=1)
        self.l2_regularization = check_float(self.name, "l2_regularization", l2_regularization)
        self.validation_fraction = check_float(self.name, "validation_fraction", validation_fraction, strict=True)
        if self.validation_fraction >= 0.5:
            raise PlmscopeError(f"{self.name}: option validation_fraction must be below 0.5, got {validation_fraction}")
        self.rtol = check_float(self.name, "rtol", rtol)
        self.n_threads = check_int(self.name, "n_threads", n_threads, low=1)
        self.n_trees: int | None = None
        self.fitted = None  # the fitted scikit-learn model
        self.tables: dict[Sites, np.ndarray] | None = None

    def min_budget(self, n: int, q: int) -> int:
        """:data:`~plmscope.fourier.onehot.MIN_POINTS` random training points."""
        return MIN_POINTS

    def _fit(self, landscape: Landscape, budget: int | None) -> tuple[np.ndarray, np.ndarray]:
        n, q = landscape.n, landscape.q
        X, y = query_uniform_points(landscape, budget, self.rng)
        tables = self.fit_points(X, y, n, q)
        return tables_to_fourier(tables, n, q, rtol=self.rtol)

    def fit_points(self, X: np.ndarray, y: np.ndarray, n: int, q: int) -> dict[Sites, np.ndarray]:
        """Fit the proxy on given points (no queries); return its site-set tables (``()`` = constant)."""
        import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime that the limit below applies to)
        from threadpoolctl import threadpool_limits  # a scikit-learn dependency

        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            return self._fit_points(X, y, n, q)

    def _fit_points(self, X: np.ndarray, y: np.ndarray, n: int, q: int) -> dict[Sites, np.ndarray]:
        X = np.asarray(X, dtype=np.int64)
        y = np.asarray(y, dtype=np.float64)
        seed = int(self.rng.integers(0, 2**31 - 1))
        if self.learner == "hist":
            if q > 255:
                raise PlmscopeError(f"{self.name}: learner 'hist' handles q <= 255 categories, got q={q}; use 'gbr'")
            from sklearn.ensemble import HistGradientBoostingRegressor

            model = HistGradientBoostingRegressor(
                categorical_features=[True] * n, max_depth=self.max_depth, max_leaf_nodes=None,
                max_iter=self.max_iter, learning_rate=self.learning_rate, min_samples_leaf=self.min_samples_leaf,
                l2_regularization=self.l2_regularization, early_stopping=True,
                validation_fraction=self.validation_fraction, n_iter_no_change=10, random_state=seed,
            )  # fmt: skip
            model.fit(X, y)
            tables = hist_tree_tables(model._predictors, q)
            features = X
        else:
            from sklearn.ensemble import GradientBoostingRegressor

            model = GradientBoostingRegressor(
                max_depth=self.max_depth, n_estimators=self.max_iter, learning_rate=self.learning_rate,
                min_samples_leaf=self.min_samples_leaf, validation_fraction=self.validation_fraction,
                n_iter_no_change=10, random_state=seed,
            )  # fmt: skip
            features = np.zeros((X.shape[0], n * q), dtype=np.float32)
            features[np.arange(X.shape[0])[:, None], np.arange(n) * q + X] = 1.0
            model.fit(features, y)
            tables = gbr_tree_tables(model.estimators_, self.learning_rate, n, q)
        self.fitted = model
        self.n_trees = int(model.n_iter_ if self.learner == "hist" else model.n_estimators_)
        # the constant (baseline prediction) from the model itself, then an exactness check
        fitted = model.predict(features)
        partial = _tables_predict(tables, X)
        constant = float(np.mean(fitted - partial))
        err = float(np.max(np.abs(fitted - partial - constant))) if y.size else 0.0
        if err > _EXACT_RTOL * max(1.0, float(np.ptp(y))):
            raise PlmscopeError(
                f"{self.name}: extracted tree spectrum differs from the fitted model by {err:.3g} "
                "(unsupported scikit-learn tree layout)"
            )
        tables[()] = np.asarray(constant)
        self.tables = tables
        return tables
