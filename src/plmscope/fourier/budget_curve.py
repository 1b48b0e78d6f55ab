"""Budget curves: held-out accuracy of each estimator as its query budget grows, as one tidy table."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from plmscope.errors import PlmscopeError
from plmscope.fourier import metrics
from plmscope.fourier.landscape import Landscape
from plmscope.fourier.methods import METHODS

COLUMNS = [
    "method", "estimator", "budget", "queries", "n_coefficients", "seconds", "test_set", "n_points",
    "r2", "r2_lo", "r2_hi", "status",
]  # fmt: skip


def _keys(X: np.ndarray, q: int) -> np.ndarray:
    X = np.asarray(X, dtype=np.int64)
    return np.array([row.tobytes() for row in X.astype(np.int16)], dtype=object) if X.size else np.zeros(0, object)


def hamming_points(rng: np.random.Generator, n: int, q: int, distance: int, size: int) -> np.ndarray:
    """Up to ``size`` distinct random points with exactly ``distance`` sites away from the wild type (0).

    Returns:
        ``(m, n)`` int64 array, ``m <= size`` (the whole shell when it is smaller).
    """
    if not 1 <= distance <= n:
        raise PlmscopeError(f"hamming_points: distance must lie in 1..{n}, got {distance}")
    from math import comb

    shell = comb(n, distance) * (q - 1) ** distance
    size = min(size, shell)
    out: dict[bytes, np.ndarray] = {}
    for _ in range(100):
        if len(out) >= size:
            break
        m = 2 * (size - len(out)) + 16
        cand = np.zeros((m, n), dtype=np.int64)
        where = np.argsort(rng.random((m, n)), axis=1)[:, :distance]
        np.put_along_axis(cand, where, rng.integers(1, q, size=(m, distance)), axis=1)
        for row in cand:
            out.setdefault(row.astype(np.int16).tobytes(), row)
            if len(out) >= size:
                break
    return np.array(list(out.values()), dtype=np.int64).reshape(-1, n)


def held_out_sets(
    n: int, q: int, *, uniform: int = 1000, hamming: Sequence[int] = (1, 2, 3), per_distance: int = 500, seed: int = 0
) -> dict[str, np.ndarray]:
    """Held-out point sets: ``"uniform"`` and ``"hamming_d"`` (d sites mutated from the wild type)."""
    rng = np.random.default_rng([seed, 31])
    sets = {}
    if uniform:
        sets["uniform"] = rng.integers(0, q, size=(uniform, n))
    for d in hamming:
        if d <= n and per_distance:
            sets[f"hamming_{d}"] = hamming_points(rng, n, q, int(d), per_distance)
    return sets


def _normalise(methods) -> dict[str, tuple[str, dict[str, Any]]]:
    if isinstance(methods, Mapping):
        items = {}
        for label, spec in methods.items():
            spec = dict(spec or {})
            name = spec.pop("method", label)
            items[str(label)] = (name, spec)
    else:
        items = {str(m): (str(m), {}) for m in methods}
    for label, (name, _) in items.items():
        if name not in METHODS:
            raise PlmscopeError(f"budget_curve: unknown method {name!r} for {label!r}; choose one of {sorted(METHODS)}")
    return items


def budget_curve(
    landscape: Landscape,
    methods: Mapping[str, Mapping[str, Any] | None] | Sequence[str],
    budgets: Sequence[int],
    *,
    uniform: int = 1000,
    hamming: Sequence[int] = (1, 2, 3),
    per_distance: int = 500,
    test_sets: Mapping[str, np.ndarray] | None = None,
    truth: Mapping[str, np.ndarray] | None = None,
    n_boot: int = 200,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Fit every estimator at every budget and score it on held-out points.

    Every fit queries a fresh view of ``landscape`` (so its own queries are counted from zero and
    its budget enforced) that answers through ``landscape``: a point is evaluated once for all
    fits and test sets, and lands in ``landscape``'s persisted query cache if it has one (call
    ``landscape.cache.save()`` afterwards to keep it). Test points a fit happened to query are
    left out of that fit's score.

    Args:
        landscape: the function (typically backed by a :class:`QueryCache`).
        methods: method names, or label -> options (with ``"method"`` naming the estimator when the
            label is not a method name), e.g. ``{"qsft": {"C": 3}, "hier2": {"method":
            "hierarchical", "max_order": 2}}``.
        budgets: query budgets, e.g. increasing powers of two.
        uniform: uniformly random test points.
        hamming: distances from the wild type (0) of the Hamming test sets.
        per_distance: test points per Hamming distance.
        test_sets: given held-out sets (label -> points) instead of drawing ``uniform``/``hamming`` ones.
        truth: their values, when already known (else the landscape is asked).
        n_boot, level: bootstrap replicates and coverage of the R^2 interval.
        seed: seed of the test points and of every estimator.

    Returns:
        One row per (method, budget, test set) with columns ``COLUMNS``; ``status`` is ``"ok"`` or
        the error that stopped that fit (its metrics are then NaN).

    Raises:
        PlmscopeError: unknown methods or bad budgets.
    """
    if not isinstance(landscape, Landscape):
        raise PlmscopeError(f"budget_curve: needs a Landscape, got {type(landscape).__name__}")
    items = _normalise(methods)
    budgets = [int(b) for b in budgets]
    if not budgets or min(budgets) < 1:
        raise PlmscopeError(f"budget_curve: budgets must be positive integers, got {budgets}")
    n, q = landscape.n, landscape.q
    if test_sets is None:
        sets = held_out_sets(n, q, uniform=uniform, hamming=hamming, per_distance=per_distance, seed=seed)
    else:
        sets = {label: np.asarray(X, dtype=np.int64) for label, X in test_sets.items()}
    if truth is None:
        truth = {label: landscape(X) for label, X in sets.items()}
    set_keys = {label: _keys(X, q) for label, X in sets.items()}
    rows = []
    for label, (name, options) in items.items():
        for budget in sorted(budgets):
            view = Landscape(landscape, n, q)
            base = {"method": label, "estimator": name, "budget": budget}
            start = time.perf_counter()
            try:
                coefficients = METHODS[name](seed=seed, **options).fit(view, budget)
            except (PlmscopeError, TypeError) as err:
                for test in sets:
                    rows.append({**base, "queries": view.n_queries, "test_set": test, "status": str(err)})
                continue
            seconds = time.perf_counter() - start
            used = set(_keys(view.queries()[0], q))
            for test, X in sets.items():
                keep = np.array([k not in used for k in set_keys[test]], dtype=bool)
                row = {**base, "queries": coefficients.queries, "n_coefficients": len(coefficients),
                       "seconds": seconds, "test_set": test, "n_points": int(keep.sum()), "status": "ok"}  # fmt: skip
                if keep.sum() >= 2:
                    pred = coefficients.predict(X[keep])
                    r2, lo, hi = metrics.bootstrap_ci(
                        metrics.r2, truth[test][keep], pred, n_boot=n_boot, level=level, seed=seed
                    )
                    row.update(r2=r2, r2_lo=lo, r2_hi=hi)
                rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)  # typed columns even without rows (no test set left)
