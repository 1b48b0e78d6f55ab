"""Low-order regression, then q-SFT on what it leaves: the residual is sparser in Fourier than f.

A protein landscape's additive (and pairwise amino-acid-specific) part is dense in the q-ary
Fourier basis and swamps q-SFT's bins. Here a one-hot regression of order <= ``low_order``
(:class:`plmscope.fourier.hierarchical.HierarchicalOneHot`) is fitted first and q-SFT
(:class:`plmscope.fourier.qsft.QSFT`, through its public interface) recovers the sparse remainder
``f - g``. The spectrum returned is the exact spectrum of ``g`` plus q-SFT's coefficients.

Query plan (``reuse_queries=True``): what q-SFT's plan leaves of the budget (at least
``low_fraction``) goes to uniformly random points; q-SFT is run once on f to lay down its (non-adaptive) subsampling pattern; the regression
is fitted on every point queried so far; q-SFT is then rerun with the same seed on the residual,
which asks for the same points again and so costs no further queries.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from plmscope.errors import PlmscopeError
from plmscope.options import QSFT_C, QSFT_DEFAULTS, QSFT_R
from plmscope.fourier.base import Estimator, check_float, check_int
from plmscope.fourier.hierarchical import HierarchicalOneHot
from plmscope.fourier.landscape import Landscape
from plmscope.fourier.onehot import MIN_POINTS, OneHotModel, merge_frequencies, sample_points
from plmscope.fourier.qsft import QSFT


class ResidualQSFT(Estimator):
    """One-hot regression of order <= ``low_order``, then q-SFT on the residual landscape.

    Args:
        low_order: order of the regression (1 or 2).
        low_fraction: least share of the budget kept for uniformly random regression points; q-SFT
            gets the largest b that fits in the rest and the regression every query q-SFT leaves.
        reuse_queries: also fit the regression on q-SFT's points (see the module docstring).
        b, C, delays, R, noise_threshold: q-SFT options (``b=None``: the largest b that fits the
            remaining budget).
        seed: seed of everything random (regression points, split, q-SFT matrices).
    """

    name = "residual"

    def __init__(
        self,
        *,
        low_order: int = 1,
        low_fraction: float = 0.2,
        reuse_queries: bool = True,
        b: int | None = QSFT_DEFAULTS["b"],
        C: int = QSFT_C,
        delays: Literal["identity", "random"] = QSFT_DEFAULTS["delays"],
        R: int = QSFT_R,
        noise_threshold: float | Literal["auto"] = QSFT_DEFAULTS["noise_threshold"],
        seed: int = QSFT_DEFAULTS["seed"],
    ):
        super().__init__(seed=seed)
        self.low_order = check_int(self.name, "low_order", low_order, low=1, high=2)
        self.low_fraction = check_float(self.name, "low_fraction", low_fraction, strict=True)
        if self.low_fraction >= 1:
            raise PlmscopeError(f"{self.name}: option low_fraction must be below 1, got {low_fraction}")
        self.reuse_queries = bool(reuse_queries)
        self.qsft_options = {"b": b, "C": C, "delays": delays, "R": R, "noise_threshold": noise_threshold}
        QSFT(**self.qsft_options)  # validates the q-SFT options now
        self.low_model: OneHotModel | None = None
        self.qsft_b: int | None = None

    def _qsft(self) -> QSFT:
        return QSFT(seed=self.seed + 1, **self.qsft_options)

    def _reserve(self, budget: int) -> int:
        """Uniformly random regression points kept out of a budget (at least ``MIN_POINTS``)."""
        return max(MIN_POINTS, int(self.low_fraction * budget))

    def min_budget(self, n: int, q: int) -> int:
        """Smallest budget whose remainder after the regression reserve fits q-SFT's smallest plan."""
        need = self._qsft().min_budget(n, q)
        lo, hi = 1, need + MIN_POINTS + math.ceil(need / (1 - self.low_fraction)) + 2
        while lo < hi:  # budget - reserve(budget) never decreases as the budget grows
            mid = (lo + hi) // 2
            lo, hi = (mid + 1, hi) if mid - self._reserve(mid) < need else (lo, mid)
        return lo

    def budget_error(self, n: int, q: int, budget: int | None) -> str | None:
        """A configured q-SFT b above n, or a budget below :meth:`min_budget`."""
        problem = self._qsft().budget_error(n, q, None)
        return f"{self.name}: {problem}" if problem else super().budget_error(n, q, budget)

    def _fit(self, landscape: Landscape, budget: int | None) -> tuple[np.ndarray, np.ndarray]:
        n, q = landscape.n, landscape.q
        probe = self._qsft()
        if budget is None:
            b = probe.choose_b(n, q, None)
            qsft_budget = probe.planned_queries(n, q, b)
            m_low = max(MIN_POINTS, round(self.low_fraction / (1 - self.low_fraction) * qsft_budget))
        else:
            b = probe.choose_b(n, q, budget - self._reserve(budget))
            qsft_budget = probe.planned_queries(n, q, b)
            m_low = budget - qsft_budget  # the regression takes everything q-SFT does not need
        self.qsft_b = b
        start = landscape.n_queries
        X = sample_points(self.rng, n, q, m_low)
        landscape(X)
        if self.reuse_queries:
            QSFT(seed=self.seed + 1, **{**self.qsft_options, "b": b}).fit(landscape, qsft_budget)
        Xall, yall = landscape.queries()
        Xall, yall = Xall[start:].astype(np.int64), yall[start:]
        regression = HierarchicalOneHot(max_order=self.low_order, seed=int(self.rng.integers(0, 2**31 - 1)))
        low = regression.fit_points(Xall, yall, n, q)
        self.low_model = low

        def residual(points: np.ndarray) -> np.ndarray:
            return landscape(points) - low.predict(points)

        inner = Landscape(residual, n, q)
        # the same seed lays down the same points: free when reuse_queries, else within the rest
        rest = QSFT(seed=self.seed + 1, **{**self.qsft_options, "b": b}).fit(inner, qsft_budget)
        base = low.to_fourier()
        freqs = np.concatenate([base.frequencies, rest.frequencies])
        vals = np.concatenate([base.values, rest.values])
        return merge_frequencies(freqs, vals, q)
