"""Proportion statistics: Bonferroni intervals, z-tests against a reference, degenerate inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from plmscope.analysis.stats import bonferroni, proportion_ci, ztest_against


def test_ci_is_statsmodels_at_bonferroni_level():
    count, nobs = np.array([5, 50, 120]), np.array([200, 200, 200])
    low, high = proportion_ci(count, nobs, alpha=0.05, n_tests=10)
    ref_low, ref_high = proportion_confint(count, nobs, alpha=0.005, method="wilson")
    assert np.allclose(low, ref_low) and np.allclose(high, ref_high)
    assert np.all(low <= count / nobs) and np.all(count / nobs <= high)


def test_ci_widens_with_tests_and_methods():
    widths = [np.diff(np.ravel(proportion_ci([30], [100], n_tests=m)))[0] for m in (1, 10, 100, 1000)]
    assert all(a < b for a, b in zip(widths, widths[1:]))
    low, high = proportion_ci([0, 100], [100, 100], method="beta")
    assert low[0] == 0.0 and high[1] == 1.0 and high[0] > 0 and low[1] < 1


def test_ci_empty_is_nan_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        low, high = proportion_ci([0, 3], [0, 10], n_tests=0)
    assert np.isnan(low[0]) and np.isnan(high[0]) and 0 <= low[1] < 0.3 < high[1]


def test_ztest_matches_statsmodels_and_sign():
    z, p = ztest_against([90, 10, 30], [300, 300, 300], 1000, 10_000)
    for k, count in enumerate([90, 10, 30]):
        ref_z, ref_p = proportions_ztest(np.array([count, 1000]), np.array([300, 10_000]))
        assert z[k] == pytest.approx(ref_z) and p[k] == pytest.approx(ref_p)
    assert z[0] > 0 > z[1] and p[0] < 1e-6
    assert z[2] == pytest.approx(0.0) and p[2] == pytest.approx(1.0)  # 10 % vs 10 %


def test_ztest_degenerate_cases_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        z, p = ztest_against([0, 50, 5], [50, 50, 0], 0, 1000)
        z_full, p_full = ztest_against([50], [50], 1000, 1000)
        z_none, p_none = ztest_against([5], [10], 0, 0)
    assert (z[0], p[0]) == (0.0, 1.0)  # both proportions 0
    assert z[1] > 0 and p[1] < 1e-10  # 100 % vs 0 %: pooled proportion is strictly inside (0, 1)
    assert np.isnan(z[2]) and np.isnan(p[2])  # no observations
    assert (z_full[0], p_full[0]) == (0.0, 1.0)  # both proportions 1
    assert np.isnan(z_none[0]) and np.isnan(p_none[0])  # no reference


def test_bonferroni_skips_nan():
    out = bonferroni(np.array([0.01, np.nan, 0.2, 0.5]))
    assert np.allclose(out[[0, 2, 3]], [0.03, 0.6, 1.0]) and np.isnan(out[1])
