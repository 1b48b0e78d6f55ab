"""shapiq's SPEX and ProxySPEX as Fourier estimators of q = 2 landscapes (peers of q-SFT).

On a q = 2 landscape a point x in Z_2^n is a coalition: the set of sites carrying their
substitution. shapiq's sparse approximators (``shapiq.approximator.SPEX``, Kang et al. 2025, and
``ProxySPEX``, Butler et al. 2025) query the function on coalitions; asked for the faithful
Banzhaf interaction index (FBII) up to order n they return the Möbius coefficients ``m(S)`` with
``f(x) = sum_{S subset of supp(x)} m(S)`` (the faithful n-additive approximation of f is f itself,
and its expansion in monomials is unique; shapiq 1.4 does not accept ``index="Moebius"`` here). The Möbius monomial
``prod_{i in S} x_i`` equals ``2^-|S| sum_{T subset of S} (-1)^|T| (-1)^<1_T, x>``, so the Fourier
coefficients over Z_2^n (our convention ``f(x) = sum_k F[k] (-1)^<k, x>``) are, exactly::

    F[1_T] = sum_{S superset of T} (-1)^|T| 2^-|S| m(S)

Every query goes through the :class:`~plmscope.fourier.landscape.Landscape`, so the budget is
enforced and counted like every other estimator's (distinct points).

Smallest budgets (``min_budget``, checked before any query; measured against shapiq 1.4.1 at
n = 1..12: one query less fails, the minimum fits): SPEX needs a subsampling dimension b >= 3 of
its sparse transform (shapiq lowers its degree parameter towards 2 before giving up), i.e.
``num_subsample * (BCH delays + 1) * 2^3`` samples, read from shapiq's own planner. ProxySPEX
fits LightGBM trees whose leaves hold at least ``min_child_samples`` (20) coalitions, so it needs
two leaves' worth of distinct coalitions: 40 queries, and n >= 6 sites (2^5 = 32 coalitions are
too few whatever the budget).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import logging
import warnings
from typing import Any, ClassVar, Mapping

import numpy as np

from plmscope.errors import PlmscopeError
from plmscope.fourier.base import Estimator, check_int
from plmscope.fourier.landscape import Landscape

# Budget of a fit without one: all 2^n coalitions up to this many.
_DEFAULT_BUDGET = 2000
# Smallest subsampling dimension b shapiq's SPEX accepts (its planner refuses b <= 2).
_SPEX_MIN_B = 3
# Largest Möbius order expanded into its 2^|S| Fourier terms.
_MAX_EXPAND_ORDER = 16


def moebius_to_fourier(moebius: Mapping[tuple[int, ...], float], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Fourier coefficients over Z_2^n of a Möbius expansion ``f(x) = sum_S m(S) prod_{i in S} x_i``.

    Args:
        moebius: coalition (sorted tuple of 0-based sites) -> Möbius coefficient.
        n: number of sites.

    Returns:
        ``(frequencies (s, n) int64, values (s,) float)``, nonzero values only.

    Raises:
        PlmscopeError: a coalition of order above 16 (its 2^|S| terms are not expanded).
    """
    acc: dict[tuple[int, ...], float] = {}
    for S, m in moebius.items():
        S = tuple(int(i) for i in S)
        if not m:
            continue
        if len(S) > _MAX_EXPAND_ORDER:
            raise PlmscopeError(f"moebius_to_fourier: coalition of order {len(S)} > {_MAX_EXPAND_ORDER}")
        scale = float(m) / 2 ** len(S)
        for r in range(len(S) + 1):
            sign = -scale if r % 2 else scale
            for T in itertools.combinations(S, r):
                acc[T] = acc.get(T, 0.0) + sign
    items = [(T, v) for T, v in acc.items() if v != 0.0]
    K = np.zeros((len(items), n), dtype=np.int64)
    for row, (T, _) in enumerate(items):
        K[row, list(T)] = 1
    return K, np.array([v for _, v in items], dtype=np.float64)


class _ShapiqSparse(Estimator):
    """Common wrapper: q = 2 check, the game callable, Möbius values -> Fourier coefficients."""

    approximator: ClassVar[str] = ""

    def __init__(self, *, seed: int = 0):
        super().__init__(seed=seed)
        self.budget_used: int | None = None  # shapiq's own count of the samples it planned

    def budget_error(self, n: int, q: int, budget: int | None) -> str | None:
        """q above 2, or a budget below :meth:`min_budget`."""
        if q != 2:
            return f"{self.name}: only q = 2 landscapes (a set of mutated sites is a coalition), got q = {q}"
        return super().budget_error(n, q, budget)

    def _make(self, n: int):
        raise NotImplementedError

    def max_useful_budget(self, n: int) -> int:
        """Samples beyond which shapiq's plan grows without new information (its budget counts samples)."""
        raise NotImplementedError

    def _fit(self, landscape: Landscape, budget: int | None) -> tuple[np.ndarray, np.ndarray]:
        n = landscape.n
        if budget is None:
            budget = max(self.min_budget(n, 2), min(2**n, _DEFAULT_BUDGET))
        budget = min(budget, self.max_useful_budget(n))  # shapiq plans samples, not points: a huge budget hangs

        def game(coalitions: np.ndarray) -> np.ndarray:
            return landscape(np.asarray(coalitions, dtype=np.int64).reshape(-1, n))

        approx = self._make(n)
        shapiq_log = logging.getLogger("shapiq")
        level = shapiq_log.level
        shapiq_log.setLevel(logging.ERROR)
        try:  # shapiq and sparse-transform print and warn freely; the run log stays ours
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                values = approx.approximate(budget, game)
        except ValueError as err:  # e.g. "Insufficient budget to compute the transform"
            raise PlmscopeError(f"{self.name} ({self.approximator}) at budget {budget}: {err}") from None
        except IndexError:  # ProxySPEX's refinement indexes the trees' coefficients: none when no tree split
            raise PlmscopeError(
                f"{self.name} ({self.approximator}) at budget {budget}: its trees found no split "
                "(the sampled values do not vary), so there is no spectrum to refine"
            ) from None
        finally:
            shapiq_log.setLevel(level)
        self.budget_used = int(getattr(values, "estimation_budget", 0) or 0)
        moebius = {tuple(S): float(values.values[i]) for S, i in values.interaction_lookup.items()}
        return moebius_to_fourier(moebius, n)


class SPEX(_ShapiqSparse):
    """shapiq's SPEX: sparse Fourier transform of a set function with BCH-coded delays (soft decoding).

    Args:
        degree_parameter: the BCH code's designed degree t (interactions of order <= t are found
            reliably; shapiq lowers it when the budget is too small).
        decoder: ``"soft"`` or ``"hard"`` BCH decoding.
        seed: random state of the subsampling.
    """

    name = "spex"
    approximator = "shapiq.approximator.SPEX"

    def __init__(self, *, degree_parameter: int = 5, decoder: str = "soft", seed: int = 0):
        super().__init__(seed=seed)
        self.degree_parameter = check_int(self.name, "degree_parameter", degree_parameter, low=1)
        if decoder not in ("soft", "hard"):
            raise PlmscopeError(f"{self.name}: option decoder must be 'soft' or 'hard', got {decoder!r}")
        self.decoder = decoder

    def min_budget(self, n: int, q: int) -> int:
        """shapiq's smallest SPEX plan: b = 3 at the lowest degree parameter it falls back to (see the module)."""
        from sparse_transform.qsft.signals.input_signal_subsampled import SubsampledSignal  # shapiq's planner

        top = min(self.degree_parameter, n)
        args = self._make(n).query_args
        return min(
            SubsampledSignal.get_number_of_samples(n, _SPEX_MIN_B, t, 2, {**args, "t": t})
            for t in [top, *range(2, top)]
        )

    def max_useful_budget(self, n: int) -> int:
        """The plan with b = n (each subsampling group already covers every coalition), at least the minimum."""
        from sparse_transform.qsft.signals.input_signal_subsampled import SubsampledSignal  # shapiq's planner

        t = min(self.degree_parameter, n)
        args = self._make(n).query_args
        plan = SubsampledSignal.get_number_of_samples(n, max(n, _SPEX_MIN_B), t, 2, {**args, "t": t})
        return max(plan, self.min_budget(n, 2))

    def _make(self, n: int) -> Any:
        from shapiq.approximator import SPEX as ShapiqSPEX

        return ShapiqSPEX(n=n, index="FBII", max_order=n, random_state=self.seed,
                          decoder_type=self.decoder, degree_parameter=min(self.degree_parameter, n))  # fmt: skip


class ProxySPEX(_ShapiqSparse):
    """shapiq's ProxySPEX: LightGBM on uniformly sampled coalitions, its trees' Fourier spectrum, refined.

    Args:
        seed: random state of the coalition sampler and the trees.
    """

    name = "proxyspex"
    approximator = "shapiq.approximator.ProxySPEX"

    def min_budget(self, n: int, q: int) -> int:
        """Two LightGBM leaves of ``min_child_samples`` coalitions (see the module)."""
        from lightgbm import LGBMRegressor

        return 2 * int(LGBMRegressor().min_child_samples)

    def max_useful_budget(self, n: int) -> int:
        """Every coalition once (shapiq's sampler draws distinct coalitions)."""
        return max(2**n, self.min_budget(n, 2))

    def budget_error(self, n: int, q: int, budget: int | None) -> str | None:
        """Also: fewer than :meth:`min_budget` coalitions exist at all (n <= 5)."""
        minimum = self.min_budget(n, q)
        if q == 2 and 2**n < minimum:
            return (f"{self.name}: n = {n} sites give only {2**n} coalitions but its trees need at least {minimum} "
                    "distinct ones (use at least 6 sites)")
        return super().budget_error(n, q, budget)

    def _make(self, n: int) -> Any:
        from shapiq.approximator import ProxySPEX as ShapiqProxySPEX

        return ShapiqProxySPEX(n=n, index="FBII", max_order=n, random_state=self.seed)
