"""The exact estimator: query all q^n points and take the dense FFT (reference for small n)."""

from __future__ import annotations

import numpy as np

from plmscope.errors import PlmscopeError
from plmscope.fourier.base import Estimator, check_float, check_int
from plmscope.fourier.landscape import Landscape
from plmscope.fourier.transform import all_points, dense_to_sparse, forward_transform


class ExactTransform(Estimator):
    """Evaluate f on all of Z_q^n and return every coefficient above rounding level.

    Args:
        rtol: coefficients with ``|F| <= rtol * max|F|`` are dropped as FFT rounding noise.
        max_points: refuse landscapes with more than this many points (memory guard).
        seed: unused (no randomness), kept for the common interface.
    """

    name = "exact"

    def __init__(self, *, rtol: float = 1e-10, max_points: int = 1 << 22, seed: int = 0):
        super().__init__(seed=seed)
        self.rtol = check_float(self.name, "rtol", rtol)
        self.max_points = check_int(self.name, "max_points", max_points, low=1)

    def min_budget(self, n: int, q: int) -> int:
        """All q^n points."""
        return q**n

    def _fit(self, landscape: Landscape, budget: int | None) -> tuple[np.ndarray, np.ndarray]:
        total = landscape.q**landscape.n
        if total > self.max_points:
            raise PlmscopeError(
                f"exact: q^n = {landscape.q}^{landscape.n} = {total} points exceeds max_points={self.max_points}; "
                "use method 'qsft'"
            )
        y = landscape(all_points(landscape.n, landscape.q))
        dense = forward_transform(y.reshape((landscape.q,) * landscape.n))
        return dense_to_sparse(dense, rtol=self.rtol)
