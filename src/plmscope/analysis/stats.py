"""Proportion statistics for attention heads: Bonferroni-corrected confidence intervals and z-tests."""

from __future__ import annotations

from typing import Literal

import numpy as np
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint, test_proportions_2indep

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
        lo, hi = proportion_confint(count[ok], nobs[ok], alpha=alpha / max(int(n_tests), 1), method=method)
        low[ok] = np.clip(lo, 0.0, 1.0)
        high[ok] = np.clip(hi, 0.0, 1.0)
    return low, high


def ztest_against(
    count: np.ndarray, nobs: np.ndarray, ref_count: int, ref_nobs: int
) -> tuple[np.ndarray, np.ndarray]:
    """Two-sample pooled z-test of each proportion ``count / nobs`` against ``ref_count / ref_nobs``.

    The statistic is that of :func:`statsmodels.stats.proportion.proportions_ztest` with two
    samples (pooled variance, two-sided); it is computed for all entries at once through
    :func:`statsmodels.stats.proportion.test_proportions_2indep` (score method without
    correction, which is the same test). Degenerate cases are settled without numerical
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
        # statsmodels also forms the ratio and odds ratio, which divide by zero when a
        # proportion is 0 or 1; the difference statistic used here stays finite.
        with np.errstate(divide="ignore", invalid="ignore"):
            result = test_proportions_2indep(
                count[test], nobs[test], ref_count, ref_nobs, method="score", correction=False, return_results=True
            )
        z[test], p[test] = result.statistic, result.pvalue
    return z, p


def bonferroni(p_values: np.ndarray) -> np.ndarray:
    """Bonferroni-adjusted p-values (``min(1, m p)``, m = number of non-NaN entries); NaN stays NaN."""
    p_values = np.asarray(p_values, dtype=np.float64)
    out = np.full(p_values.shape, np.nan)
    ok = ~np.isnan(p_values)
    if ok.any():
        out[ok] = multipletests(p_values[ok], method="bonferroni")[1]
    return out
