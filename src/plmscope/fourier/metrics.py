"""Accuracy of predictions and coefficients, and basis-independent summaries of a Fourier spectrum."""

from __future__ import annotations

from math import comb
from typing import Callable

import numpy as np

from plmscope.errors import PlmscopeError
from plmscope.fourier.coefficients import FourierCoefficients


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.float64).ravel()
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise PlmscopeError(
            f"metrics: y_true and y_pred must be equal-length, non-empty; got {y_true.shape} and {y_pred.shape}"
        )
    return y_true, y_pred


def r2(y_true, y_pred) -> float:
    """Coefficient of determination ``1 - SSE / SST`` (SST around the mean of ``y_true``)."""
    y_true, y_pred = _pair(y_true, y_pred)
    sst = float(np.sum((y_true - y_true.mean()) ** 2))
    sse = float(np.sum((y_true - y_pred) ** 2))
    if sst == 0:
        return 1.0 if sse == 0 else float("-inf")
    return 1.0 - sse / sst


def nmse(y_true, y_pred) -> float:
    """Normalised mean squared error ``||y_true - y_pred||^2 / ||y_true||^2`` (not centred)."""
    y_true, y_pred = _pair(y_true, y_pred)
    norm = float(np.sum(y_true**2))
    sse = float(np.sum((y_true - y_pred) ** 2))
    if norm == 0:
        return 0.0 if sse == 0 else float("inf")
    return sse / norm


def pearson_r2(y_true, y_pred) -> float:
    """Squared Pearson correlation (0 when either side is constant)."""
    y_true, y_pred = _pair(y_true, y_pred)
    if np.std(y_true) == 0 or np.std(y_pred) == 0:
        return 0.0
    return float(np.corrcoef(y_true, y_pred)[0, 1] ** 2)


def bootstrap_ci(
    metric: Callable[[np.ndarray, np.ndarray], float],
    y_true,
    y_pred,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Percentile bootstrap confidence interval of a paired metric (points resampled with replacement).

    Args:
        metric: e.g. :func:`r2`.
        y_true, y_pred: ``(m,)`` arrays.
        n_boot: bootstrap replicates.
        level: coverage of the interval.
        seed: seed of the resampling.

    Returns:
        ``(estimate on all points, lower, upper)``.
    """
    y_true, y_pred = _pair(y_true, y_pred)
    if not 0 < level < 1 or n_boot < 1:
        raise PlmscopeError(f"bootstrap_ci: need 0 < level < 1 and n_boot >= 1, got level={level}, n_boot={n_boot}")
    rng = np.random.default_rng(seed)
    m = y_true.size
    stats = np.array([metric(y_true[idx], y_pred[idx]) for idx in rng.integers(0, m, size=(n_boot, m))])
    lo, hi = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2])
    return float(metric(y_true, y_pred)), float(lo), float(hi)


def _rows(frequencies) -> set[tuple[int, ...]]:
    frequencies = np.asarray(frequencies)
    return {tuple(int(v) for v in k) for k in frequencies} if frequencies.size else set()


def support_precision_recall(estimated, reference) -> tuple[float, float]:
    """Precision and recall of the estimated support against a reference support.

    Args:
        estimated: ``(s, n)`` frequencies (or FourierCoefficients).
        reference: ``(t, n)`` frequencies (or FourierCoefficients).

    Returns:
        ``(precision, recall)``; precision is 1.0 for an empty estimate, recall 1.0 for an empty reference.
    """
    est = _rows(estimated.frequencies if isinstance(estimated, FourierCoefficients) else estimated)
    ref = _rows(reference.frequencies if isinstance(reference, FourierCoefficients) else reference)
    hits = len(est & ref)
    return (hits / len(est) if est else 1.0), (hits / len(ref) if ref else 1.0)


def coefficient_nmse(estimated: FourierCoefficients, reference: FourierCoefficients) -> float:
    """``sum_k |F_est[k] - F_ref[k]|^2 / sum_k |F_ref[k]|^2`` over the union of both supports."""
    est, ref = estimated.as_dict(), reference.as_dict()
    err = sum(abs(est.get(k, 0.0) - ref.get(k, 0.0)) ** 2 for k in est.keys() | ref.keys())
    norm = sum(abs(v) ** 2 for v in ref.values())
    if norm == 0:
        return 0.0 if err == 0 else float("inf")
    return float(err / norm)


def energy_per_order(coefficients: FourierCoefficients) -> np.ndarray:
    """``(n + 1,)`` array: entry r is ``sum |F[k]|^2`` over k with exactly r nonzero entries."""
    return np.bincount(coefficients.orders, weights=np.abs(coefficients.values) ** 2, minlength=coefficients.n + 1)


def pair_energy(coefficients: FourierCoefficients, *, include_higher: bool = False) -> np.ndarray:
    """Interaction energy of every site pair, ``(n, n)`` symmetric with zero diagonal.

    ``include_higher=False``: entry (i, j) is ``sum |F[k]|^2`` over k whose support is exactly
    {i, j} (pure pairwise epistasis). ``include_higher=True`` ("pair involvement"): the sum over
    every k with ``k_i != 0`` and ``k_j != 0`` (order >= 2), so a third-order term counts towards
    each of its three pairs. Both are basis independent (Parseval).
    """
    mask = coefficients.frequencies != 0
    power = np.abs(coefficients.values) ** 2
    orders = coefficients.orders
    keep = orders >= 2 if include_higher else orders == 2
    M = mask[keep].astype(np.float64)
    out = (M * power[keep][:, None]).T @ M
    np.fill_diagonal(out, 0.0)
    return out


def variance(coefficients: FourierCoefficients) -> float:
    """Variance of f under uniform x: ``sum_{k != 0} |F[k]|^2`` (Parseval)."""
    return float(np.sum(np.abs(coefficients.values[coefficients.orders > 0]) ** 2))


def ruggedness(coefficients: FourierCoefficients) -> float:
    """Ruggedness E[k]: the mean interaction order weighted by energy.

    ``sum_k order(k)|F[k]|^2 / sum_{k != 0} |F[k]|^2``, the x axis of the sparsity-ruggedness
    plane (Tsui & Aghazadeh 2024). Not a share: it lies in ``[1, n]`` (1 for an additive
    landscape, 2 for a purely pairwise one) for every q, and is 0 for a constant landscape.
    The bounded companion is :func:`interaction_share`.
    """
    power = np.abs(coefficients.values) ** 2
    total = float(np.sum(power[coefficients.orders > 0]))
    return float(np.sum(coefficients.orders * power) / total) if total > 0 else 0.0


def interaction_share(coefficients: FourierCoefficients) -> float:
    """Share of the variance in interactions of order >= 2: ``sum_{order(k) >= 2} |F[k]|^2 / sum_{k != 0} |F[k]|^2``.

    In ``[0, 1]`` by definition for every q: 0 for an additive landscape, 1 when no site acts
    alone, 0 for a constant landscape (no variance to share).
    """
    power = np.abs(coefficients.values) ** 2
    orders = coefficients.orders
    total = float(np.sum(power[orders > 0]))
    return min(1.0, float(np.sum(power[orders >= 2]) / total)) if total > 0 else 0.0


def sparsity_s5(coefficients: FourierCoefficients, *, max_order: int = 5, divisor: float = 5.0) -> float:
    """Share of the low-order Fourier coefficients that are large.

    Definition: let ``sigma = sqrt(sum_{k != 0} |F[k]|^2)``, the standard deviation of f over
    uniformly random sequences (Parseval; computed from the given coefficients). S5 is the number
    of frequencies k with ``1 <= order(k) <= max_order`` and ``|F[k]| > sigma / divisor``, divided by
    the number of all frequencies of Z_q^n with ``1 <= order(k) <= max_order``
    (``sum_r C(n, r) (q-1)^r``). Frequencies absent from ``coefficients`` count as zero.
    """
    sigma = np.sqrt(variance(coefficients))
    orders = coefficients.orders
    big = (orders >= 1) & (orders <= max_order) & (np.abs(coefficients.values) > sigma / divisor)
    n, q = coefficients.n, coefficients.q
    total = sum(comb(n, r) * (q - 1) ** r for r in range(1, min(max_order, n) + 1))
    return float(np.count_nonzero(big) / total) if total else 0.0
