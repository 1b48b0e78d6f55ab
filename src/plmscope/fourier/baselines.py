"""Regression baselines: LASSO and ridge on all interactions up to order 2, mapped back to Fourier.

Features are one-hot indicators of every site value and of every pair of site values. Their span
is exactly the span of the Fourier characters of order <= 2 (functions that are sums of terms
depending on at most two sites), and the design matrix stays sparse (``n + n(n-1)/2`` ones per
row) where a dense real Fourier design would not fit in memory. The fitted function
``c + sum_i a_i(x_i) + sum_{i<j} B_ij(x_i, x_j)`` is converted to Fourier coefficients with a
1-d FFT per site and a 2-d FFT per pair.
"""

from __future__ import annotations

import warnings
from abc import abstractmethod
from typing import Literal

import numpy as np
import scipy.sparse as sp

from plmscope.errors import PlmscopeError
from plmscope.fourier.base import Estimator, check_float, check_int
from plmscope.fourier.landscape import Landscape

MIN_SAMPLES = 10
"""Fewest random points a regression baseline fits (a budget below it is refused)."""


def interaction_design(X: np.ndarray, q: int, *, max_order: int = 2) -> sp.csr_matrix:
    """One-hot design of site values (and site-pair values).

    Args:
        X: ``(m, n)`` int array with entries in ``0..q-1``.
        q: alphabet size.
        max_order: 1 (sites only) or 2 (sites and pairs).

    Returns:
        ``(m, n*q + P*q^2)`` CSR matrix of ones, ``P = n(n-1)/2`` if ``max_order == 2`` else 0;
        column ``i*q + v`` is ``[x_i == v]`` and column ``n*q + p*q^2 + v*q + w`` is
        ``[x_i == v and x_j == w]`` for the p-th pair ``(i, j)``, i < j, in lexicographic order.
    """
    X = np.asarray(X, dtype=np.int64)
    m, n = X.shape
    cols = [X + np.arange(n) * q]
    if max_order >= 2 and n > 1:
        ii, jj = np.triu_indices(n, k=1)
        cols.append(n * q + np.arange(ii.size) * q * q + X[:, ii] * q + X[:, jj])
    indices = np.concatenate(cols, axis=1)
    width = indices.shape[1]
    n_cols = n * q + (n * (n - 1) // 2) * q * q * (max_order >= 2)
    return sp.csr_matrix(
        (np.ones(m * width, dtype=np.float64), indices.ravel().astype(np.int32), np.arange(0, m * width + 1, width)),
        shape=(m, n_cols),
    )


def design_to_fourier(
    coef: np.ndarray, intercept: float, n: int, q: int, *, max_order: int = 2, rtol: float = 1e-12
) -> tuple[np.ndarray, np.ndarray]:
    """Fourier coefficients of ``intercept + interaction_design(X) @ coef``.

    Returns:
        ``(frequencies (s, n) int64, values (s,) complex)`` with entries below ``rtol * max|F|`` dropped.
    """
    coef = np.asarray(coef, dtype=np.float64)
    singles = np.fft.fft(coef[: n * q].reshape(n, q), axis=1) / q  # (n, q) with omega^-kv: forward
    const = complex(intercept) + singles[:, 0].sum()
    single_vals = singles.copy()
    pair_vals = None
    if max_order >= 2 and n > 1:
        ii, jj = np.triu_indices(n, k=1)
        pairs = np.fft.fft2(coef[n * q :].reshape(-1, q, q), axes=(1, 2)) / (q * q)
        const += pairs[:, 0, 0].sum()
        np.add.at(single_vals, ii, pairs[:, :, 0])
        np.add.at(single_vals, jj, pairs[:, 0, :])
        pair_vals = pairs
    freqs = [np.zeros((1, n), dtype=np.int64)]
    vals = [np.array([const])]
    ks = np.arange(1, q)
    for i in range(n):
        k = np.zeros((q - 1, n), dtype=np.int64)
        k[:, i] = ks
        freqs.append(k)
        vals.append(single_vals[i, 1:])
    if pair_vals is not None:
        a, b = np.meshgrid(ks, ks, indexing="ij")
        for p, (i, j) in enumerate(zip(ii, jj)):
            k = np.zeros(((q - 1) ** 2, n), dtype=np.int64)
            k[:, i], k[:, j] = a.ravel(), b.ravel()
            freqs.append(k)
            vals.append(pair_vals[p, 1:, 1:].ravel())
    frequencies, values = np.concatenate(freqs), np.concatenate(vals)
    top = np.abs(values).max()
    keep = np.abs(values) > rtol * top if top > 0 else np.zeros(values.shape, dtype=bool)
    return frequencies[keep], values[keep]


class _RegressionBaseline(Estimator):
    """Shared sampling, penalty selection and Fourier mapping of the regression baselines.

    The fit queries ``budget`` uniformly random points, centres y and regresses it on the one-hot
    design without a separate intercept (the design already spans the constants).

    Args:
        alpha: penalty; ``"auto"`` tries the estimator's grid on at most ``selection_samples``
            samples, scores each by R^2 on a held-out ``validation_fraction`` of them, and refits
            the best on all samples.
        max_order: 1 (sites only) or 2 (sites and pairs).
        validation_fraction: held-out share used to choose alpha.
        selection_samples: most samples used while choosing alpha (keeps the search fast).
        max_samples: memory guard: a budget above this is refused.
        seed: seed of the sampled points and of the validation split.
    """

    def __init__(
        self,
        *,
        alpha: float | Literal["auto"] = "auto",
        max_order: int = 2,
        validation_fraction: float = 0.1,
        selection_samples: int = 50_000,
        max_samples: int = 1_000_000,
        seed: int = 0,
    ):
        super().__init__(seed=seed)
        if alpha != "auto":
            alpha = check_float(self.name, "alpha", alpha, strict=True)
        self.alpha = alpha
        self.max_order = check_int(self.name, "max_order", max_order, low=1, high=2)
        self.validation_fraction = check_float(self.name, "validation_fraction", validation_fraction, strict=True)
        if self.validation_fraction >= 0.5:
            raise PlmscopeError(f"{self.name}: option validation_fraction must be below 0.5, got {validation_fraction}")
        self.selection_samples = check_int(self.name, "selection_samples", selection_samples, low=10)
        self.max_samples = check_int(self.name, "max_samples", max_samples, low=10)
        self.alphas_tried: list[tuple[float, float]] = []
        self.alpha_used: float | None = None

    def min_budget(self, n: int, q: int) -> int:
        """:data:`MIN_SAMPLES` random points (alpha is chosen on a held-out share of them)."""
        return MIN_SAMPLES

    def n_features(self, n: int, q: int) -> int:
        """Width of the one-hot design."""
        return n * q + (n * (n - 1) // 2) * q * q * (self.max_order >= 2)

    def _fit(self, landscape: Landscape, budget: int | None) -> tuple[np.ndarray, np.ndarray]:
        n, q = landscape.n, landscape.q
        m = budget if budget is not None else max(MIN_SAMPLES, min(self.max_samples, 4 * self.n_features(n, q)))
        if m > self.max_samples:
            nnz = m * (n + n * (n - 1) // 2 * (self.max_order >= 2))
            raise PlmscopeError(
                f"{self.name}: budget {m} exceeds max_samples={self.max_samples} "
                f"(the design would hold {nnz:.3g} nonzeros); lower the budget or raise max_samples"
            )
        X = self.rng.integers(0, q, size=(m, n))
        y = landscape(X)
        mean = float(y.mean())
        design = interaction_design(X, q, max_order=self.max_order).tocsc()
        if self.alpha == "auto":
            alpha, warm = self._select_alpha(design, y - mean)
        else:
            alpha, warm = float(self.alpha), None
        coef = self._solve(design, y - mean, alpha, warm)
        self.alpha_used = alpha
        return design_to_fourier(coef, mean, n, q, max_order=self.max_order)

    def _select_alpha(self, design: sp.csc_matrix, y: np.ndarray) -> tuple[float, np.ndarray]:
        """Fit each alpha of the grid on a training split; return the best alpha and its coefficients."""
        use = self.rng.permutation(design.shape[0])[: self.selection_samples]
        n_val = max(1, int(round(self.validation_fraction * use.size)))
        val, train = use[:n_val], use[n_val:]
        Xtr, Xva = design[train], design[val].tocsr()
        sst = float(np.sum((y[val] - y[val].mean()) ** 2)) or 1.0
        self.alphas_tried = []
        best, coef = None, None
        for alpha in self._alpha_grid(Xtr, y[train]):
            coef = self._solve(Xtr, y[train], alpha, coef)
            r2 = 1.0 - float(np.sum((y[val] - Xva @ coef) ** 2)) / sst
            self.alphas_tried.append((float(alpha), r2))
            if best is None or r2 > best[1]:
                best = (float(alpha), r2, coef)
        return best[0], best[2]

    @abstractmethod
    def _alpha_grid(self, X: sp.csc_matrix, y: np.ndarray) -> list[float]:
        """Candidate penalties, largest first."""

    @abstractmethod
    def _solve(self, X: sp.csc_matrix, y: np.ndarray, alpha: float, warm: np.ndarray | None) -> np.ndarray:
        """Coefficients for centred ``y`` with penalty alpha (starting from ``warm`` if the solver can)."""


class LassoFourier(_RegressionBaseline):
    """LASSO (scikit-learn coordinate descent) on one-hot interactions up to order 2.

    Options as :class:`_RegressionBaseline` (``alpha="auto"`` uses 6 values on a log grid from
    ``alpha_max / 10`` down to ``alpha_max / 10^4``), plus the solver's ``max_iter`` and ``tol``.
    """

    name = "lasso"

    def __init__(self, *, max_iter: int = 100, tol: float = 1e-3, **options):
        super().__init__(**options)
        self.max_iter = check_int(self.name, "max_iter", max_iter, low=1)
        self.tol = check_float(self.name, "tol", tol, strict=True)

    def _alpha_grid(self, X, y):
        alpha_max = float(np.max(np.abs(X.T @ y))) / X.shape[0]
        return list(alpha_max * np.logspace(-1, -4, 6))

    def _solve(self, X, y, alpha, warm):
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import Lasso  # imported here: scikit-learn is slow to import

        model = Lasso(
            alpha=alpha, fit_intercept=False, max_iter=self.max_iter, tol=self.tol, warm_start=warm is not None
        )
        if warm is not None:
            model.coef_ = warm.copy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y)
        return model.coef_.copy()


class RidgeFourier(_RegressionBaseline):
    """Ridge regression (scikit-learn, conjugate gradients) on one-hot interactions up to order 2.

    Options as :class:`_RegressionBaseline`; ``alpha="auto"`` tries ``10^3 .. 10^-2``.
    """

    name = "ridge"

    def _alpha_grid(self, X, y):
        return list(np.logspace(3, -2, 6))

    def _solve(self, X, y, alpha, warm):
        from sklearn.linear_model import Ridge

        model = Ridge(alpha=alpha, fit_intercept=False, solver="sparse_cg", tol=1e-6)
        model.fit(X, y)
        return model.coef_.copy()
