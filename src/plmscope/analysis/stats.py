"""Proportion statistics for attention heads: Bonferroni-corrected confidence intervals and z-tests.

The default Wilson and normal intervals, the pooled z-test and Bonferroni are written in closed form
(the formulas of statsmodels, checked against it in tests/test_analysis_stats.py): importing
statsmodels and scipy.stats costs ~0.5 s, as much as the whole enrichment computation of a small run.
The other interval methods still come from statsmodels, imported when asked for.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Literal

import numpy as np

CiMethod = Literal["wilson", "beta", "agresti_coull", "jeffreys", "normal"]
"""Interval methods of :func:`statsmodels.stats.proportion.proportion_confint` ("beta" = Clopper-Pearson)."""


def proportion_ci(
    count: np.ndarray,
    nobs: np.ndarray,
    *,
    alpha: float = 0.05,
    n_tests: int = 1,
    method: CiMethod = "wilson",
) -> tuple[np.ndarray, np.ndarray]:
    """Simultaneous confidence intervals for proportions ``count / nobs``, Bonferroni-corrected.

    Each interval has level ``1 - alpha / n_tests``, so all ``n_tests`` intervals hold together
    with probability at least ``1 - alpha``. Wilson is the default: it stays inside [0, 1] and
    keeps its coverage for proportions near 0 or 1 and for the tiny per-test alphas here.

    Args:
        count: ``(n,)`` successes.
        nobs: ``(n,)`` trials; entries with ``nobs == 0`` get NaN bounds.
        alpha: family-wise error rate.
        n_tests: number of intervals in the family (heads tested).
        method: interval method.

    Returns:
        ``(low, high)``, two ``(n,)`` float arrays.
    """
    count = np.asarray(count, dtype=np.float64)
    nobs = np.asarray(nobs, dtype=np.float64)
    low = np.full(count.shape, np.nan)
    high = np.full(count.shape, np.nan)
    ok = nobs > 0
    if ok.any():
        lo, hi = _confint(count[ok], nobs[ok], alpha / max(int(n_tests), 1), method)
        low[ok] = np.clip(lo, 0.0, 1.0)
        high[ok] = np.clip(hi, 0.0, 1.0)
    return low, high


def ztest_against(
    count: np.ndarray, nobs: np.ndarray, ref_count: int, ref_nobs: int
) -> tuple[np.ndarray, np.ndarray]:
    """Two-sample pooled z-test of each proportion ``count / nobs`` against ``ref_count / ref_nobs``.

    The statistic is that of :func:`statsmodels.stats.proportion.proportions_ztest` with two
    samples: ``(p1 - p2) / sqrt(p (1 - p) (1/n1 + 1/n2))`` with the pooled proportion ``p``,
    two-sided normal p-value; computed for all entries at once. Degenerate cases are settled without numerical
    warnings: an entry or reference without observations gives NaN; when the pooled proportion
    is 0 or 1 both proportions are equal, so z = 0 and p = 1.

    Args:
        count: ``(n,)`` successes of each sample (a head's thresholded attention on the feature).
        nobs: ``(n,)`` trials of each sample.
        ref_count: successes of the reference (background) sample.
        ref_nobs: trials of the reference sample.

    Returns:
        ``(z, p_value)``, two ``(n,)`` float arrays; z > 0 when the proportion exceeds the reference.
    """
    count = np.asarray(count, dtype=np.int64)
    nobs = np.asarray(nobs, dtype=np.int64)
    z = np.full(count.shape, np.nan)
    p = np.full(count.shape, np.nan)
    if ref_nobs <= 0:
        return z, p
    observed = nobs > 0
    pooled_count = count + ref_count
    pooled_nobs = nobs + ref_nobs
    equal = observed & ((pooled_count == 0) | (pooled_count == pooled_nobs))
    z[equal], p[equal] = 0.0, 1.0
    test = observed & ~equal
    if test.any():
        n1, n2 = nobs[test].astype(np.float64), float(ref_nobs)
        pooled = pooled_count[test] / pooled_nobs[test]
        diff = count[test] / n1 - ref_count / n2
        z[test] = diff / np.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
        p[test] = _two_sided_p(z[test])
    return z, p


def bonferroni(p_values: np.ndarray) -> np.ndarray:
    """Bonferroni-adjusted p-values (``min(1, m p)``, m = number of non-NaN entries); NaN stays NaN."""
    p_values = np.asarray(p_values, dtype=np.float64)
    out = np.full(p_values.shape, np.nan)
    ok = ~np.isnan(p_values)
    if ok.any():
        out[ok] = np.minimum(p_values[ok] * int(ok.sum()), 1.0)
    return out


def _normal_isf(tail: float) -> float:
    """``z`` with ``P(Z > z) = tail`` for a standard normal ``Z`` (from the lower tail: exact for tiny tails)."""
    return -NormalDist().inv_cdf(tail)


def _two_sided_p(z: np.ndarray) -> np.ndarray:
    """``2 P(Z > |z|)``, computed as ``erfc(|z| / sqrt 2)`` so that it keeps its precision far in the tail."""
    return np.array([math.erfc(abs(v) / math.sqrt(2.0)) for v in np.ravel(z)], dtype=np.float64).reshape(np.shape(z))


def _confint(count: np.ndarray, nobs: np.ndarray, alpha: float, method: CiMethod) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided ``1 - alpha`` interval of ``count / nobs`` (all ``nobs > 0``), as statsmodels' ``proportion_confint``."""
    q = count / nobs
    crit = _normal_isf(alpha / 2.0)
    if method == "normal":
        half = crit * np.sqrt(q * (1.0 - q) / nobs)
        return q - half, q + half
    if method == "wilson":
        crit2 = crit * crit
        denom = 1.0 + crit2 / nobs
        center = (q + crit2 / (2.0 * nobs)) / denom
        half = crit * np.sqrt(q * (1.0 - q) / nobs + crit2 / (4.0 * nobs**2)) / denom
        return center - half, center + half
    from statsmodels.stats.proportion import proportion_confint

    return proportion_confint(count, nobs, alpha=alpha, method=method)
