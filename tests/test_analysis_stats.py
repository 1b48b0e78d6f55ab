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


@pytest.mark.parametrize("method", ["wilson", "normal"])
@pytest.mark.parametrize("n_tests", [1, 144, 1920, 10**6])
def test_closed_form_intervals_equal_statsmodels_across_counts(method, n_tests):
    """The closed forms agree with statsmodels to 1e-12 at per-test levels down to 5e-8."""
    rng = np.random.default_rng(n_tests)
    nobs = rng.integers(1, 100_000, 400)
    count = np.minimum(rng.integers(0, 100_000, 400), nobs)
    count[:3], nobs[:3] = [0, 7, 7], [5, 7, 1_000_000]  # proportions 0, 1 and tiny
    low, high = proportion_ci(count, nobs, alpha=0.05, n_tests=n_tests, method=method)
    ref_low, ref_high = proportion_confint(count, nobs, alpha=0.05 / n_tests, method=method)
    np.testing.assert_allclose(low, np.clip(ref_low, 0, 1), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(high, np.clip(ref_high, 0, 1), rtol=1e-12, atol=1e-15)


def test_closed_form_ztest_equals_statsmodels_far_into_the_tail():
    rng = np.random.default_rng(3)
    nobs = rng.integers(100, 50_000, 300)
    count = (nobs * rng.uniform(0, 0.9, 300)).astype(int)
    z, p = ztest_against(count, nobs, 1_300, 100_000)
    for k in range(len(count)):
        ref_z, ref_p = proportions_ztest(np.array([count[k], 1_300]), np.array([nobs[k], 100_000]))
        assert z[k] == pytest.approx(ref_z, rel=1e-12) and p[k] == pytest.approx(ref_p, rel=1e-9, abs=1e-300)
    assert p.min() < 1e-100  # the tail is exercised
