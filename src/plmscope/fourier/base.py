"""The estimator interface: validated options, a seeded RNG, and ``fit(landscape, budget)``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from plmscope.errors import PlmscopeError
from plmscope.fourier.coefficients import FourierCoefficients
from plmscope.fourier.landscape import Landscape


def check_int(owner: str, name: str, value, *, low: int, high: int | None = None) -> int:
    """Validate an integer option; return it as ``int``."""
    integral = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not integral or value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in {low}..{high}"
        raise PlmscopeError(f"{owner}: option {name} must be an integer {bound}, got {value!r}")
    return int(value)


def check_float(owner: str, name: str, value, *, low: float = 0.0, strict: bool = False) -> float:
    """Validate a real option (``> low`` if strict else ``>= low``); return it as ``float``."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = np.isfinite(value) and (value > low if strict else value >= low)
    if not ok:
        raise PlmscopeError(f"{owner}: option {name} must be a number {'>' if strict else '>='} {low}, got {value!r}")
    return value


def check_choice(owner: str, name: str, value, choices) -> str:
    """Validate a string option against its allowed values."""
    if value not in choices:
        raise PlmscopeError(f"{owner}: option {name} must be one of {sorted(choices)}, got {value!r}")
    return value


class Estimator(ABC):
    """Base class of every Fourier estimator.

    Subclasses validate their keyword-only options in ``__init__`` (one-line
    :class:`PlmscopeError` for bad values), call ``super().__init__(seed=seed)``, and implement
    :meth:`_fit`. The base owns the seeded ``numpy.random.Generator`` (``self.rng``) and enforces
    the query budget: a fit can never ask the landscape for more than ``budget`` distinct points.

    Args:
        seed: seed of ``self.rng`` (every random choice of the estimator comes from it).
    """

    name: ClassVar[str] = ""

    def __init__(self, *, seed: int = 0):
        self.seed = check_int(type(self).__name__, "seed", seed, low=0)
        self.rng = np.random.default_rng(self.seed)

    def fit(self, landscape: Landscape, budget: int | None = None) -> FourierCoefficients:
        """Estimate the Fourier coefficients of ``landscape``.

        Args:
            landscape: the function to query.
            budget: most distinct queries allowed (None: the estimator's own default size).

        Returns:
            FourierCoefficients with ``queries`` = distinct points requested by this fit.

        Raises:
            PlmscopeError: bad landscape or budget, a budget too small for the configuration
                (:meth:`budget_error`), or one too large for the memory.
        """
        if not isinstance(landscape, Landscape):
            raise PlmscopeError(f"{self.name}: fit needs a Landscape, got {type(landscape).__name__}")
        if budget is not None:
            budget = check_int(self.name, "budget", budget, low=1)
        problem = self.budget_error(landscape.n, landscape.q, budget)
        if problem:
            raise PlmscopeError(problem)
        start = landscape.n_queries
        try:
            with landscape.limit(budget):
                frequencies, values = self._fit(landscape, budget)
        except MemoryError as err:  # e.g. q-SFT's bins at a huge budget: numpy refuses the array up front
            size = "its default budget" if budget is None else f"budget {budget}"
            raise PlmscopeError(f"{self.name}: {size} at n = {landscape.n}, q = {landscape.q} needs more memory "
                                f"than this machine has ({err}); lower the budget") from None
        return FourierCoefficients(
            frequencies, values, q=landscape.q, n=landscape.n, queries=landscape.n_queries - start, method=self.name
        )

    def min_budget(self, n: int, q: int) -> int:
        """Fewest queries a fit of an ``(n, q)`` landscape needs with these options (1 unless overridden)."""
        return 1

    def budget_error(self, n: int, q: int, budget: int | None) -> str | None:
        """Why ``budget`` queries cannot fit an ``(n, q)`` landscape (None: they can; ``budget`` None: the default).

        The one budget check of an estimator: :meth:`fit` raises it before any query, and the
        ``epistasis`` verb asks it for every listed estimator before the model is loaded.
        """
        minimum = self.min_budget(n, q)
        if budget is not None and budget < minimum:
            return (f"{self.name}: budget {budget} is too small: it needs at least {minimum} queries "
                    f"for n = {n} sites at q = {q}")
        return None

    @abstractmethod
    def _fit(self, landscape: Landscape, budget: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(frequencies (s, n) int, values (s,) complex)`` using at most ``budget`` queries."""
