"""``recover()``: the one-call entry point from a user function to its sparse Fourier coefficients."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from plmscope.errors import PlmscopeError
from plmscope.fourier.coefficients import FourierCoefficients
from plmscope.fourier.landscape import Landscape
from plmscope.fourier.methods import METHODS


@dataclass
class Recovery:
    """What :func:`recover` returns.

    Attributes:
        coefficients: the estimated sparse Fourier coefficients.
        X: ``(m, n)`` int16 array, every distinct point queried (in order of first query).
        y: ``(m,)`` float64 function values at ``X``.
    """

    coefficients: FourierCoefficients
    X: np.ndarray
    y: np.ndarray

    @property
    def table(self) -> pd.DataFrame:
        """The coefficients as a table (see :meth:`FourierCoefficients.to_table`)."""
        return self.coefficients.to_table()

    @property
    def queries(self) -> int:
        """Number of distinct points queried."""
        return int(self.y.shape[0])


def recover(
    func: Callable[[np.ndarray], np.ndarray] | Landscape,
    n: int,
    q: int,
    *,
    budget: int | None = None,
    method: str = "qsft",
    seed: int = 0,
    **options,
) -> Recovery:
    """Recover the sparse Fourier coefficients of ``func: Z_q^n -> R``.

    Args:
        func: maps an ``(m, n)`` int array with entries in ``0..q-1`` to ``m`` real values (or an
            existing :class:`Landscape`, e.g. one backed by a persisted query cache).
        n: number of sites.
        q: alphabet size.
        budget: most distinct queries (None: the method's default size).
        method: a key of ``METHODS`` (``"qsft"``, ``"exact"``, ``"lasso"``, ``"ridge"``, ``"hierarchical"``,
            ``"proxy"``, ``"residual"``).
        seed: seed of every random choice.
        **options: keyword options of the chosen estimator (e.g. ``b=3, C=3`` for q-SFT).

    Returns:
        Recovery with the coefficients and the queries used.

    Raises:
        PlmscopeError: unknown method or option, bad option values, budget too small, bad function output.
    """
    if method not in METHODS:
        raise PlmscopeError(f"recover: unknown method {method!r}; choose one of {sorted(METHODS)}")
    if isinstance(func, Landscape):
        if (func.n, func.q) != (n, q):
            raise PlmscopeError(f"recover: landscape has n={func.n}, q={func.q} but n={n}, q={q} was given")
        landscape = func
    else:
        landscape = Landscape(func, n, q)
    try:
        estimator = METHODS[method](seed=seed, **options)
    except TypeError as err:
        raise PlmscopeError(f"recover: bad options for method {method!r}: {err}") from None
    start = landscape.n_queries
    coefficients = estimator.fit(landscape, budget)
    X, y = landscape.queries()
    return Recovery(coefficients, X[start:], y[start:])
