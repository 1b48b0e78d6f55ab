"""The default confidence intervals, checked against the Wilson score interval written out here.

Issue #15: the interval method and alpha defaults could change without a failing test. Wilson
(1927) at level 1 - alpha / m with alpha = 0.05, m = number of heads tested (Bonferroni):
centre (x + z^2/2) / (n + z^2), half-width z / (n + z^2) * sqrt(x (n - x) / n + z^2 / 4),
z = Phi^-1(1 - alpha / (2 m)).
"""

import numpy as np
import pandas as pd
from scipy.stats import norm

from plmscope.analysis.enrichment import EnrichmentCounts, summarise
from plmscope.analysis.stats import proportion_ci

COUNT = np.array([3, 40, 120, 0, 199])
NOBS = np.array([150, 160, 400, 120, 200])


def wilson(x, n, m, alpha=0.05):
    x, n = np.asarray(x, float), np.asarray(n, float)
    z = norm.ppf(1 - alpha / (2 * m))
    centre = (x + z**2 / 2) / (n + z**2)
    half = z / (n + z**2) * np.sqrt(x * (n - x) / n + z**2 / 4)
    return centre - half, centre + half


def test_proportion_ci_default_is_bonferroni_wilson_at_005():
    low, high = proportion_ci(COUNT, NOBS, n_tests=len(COUNT))
    ref_low, ref_high = wilson(COUNT, NOBS, m=len(COUNT))
    np.testing.assert_allclose(low, ref_low, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(high, ref_high, rtol=1e-9, atol=1e-12)


def test_enrichment_table_default_intervals_are_bonferroni_wilson():
    heads = len(COUNT)
    counts = EnrichmentCounts(
        features=("contact",),
        n_attention=NOBS.reshape(1, 1, heads).astype(np.int64),
        n_feature=COUNT.reshape(1, 1, heads).astype(np.int64),
        n_rows=NOBS.reshape(1, heads).astype(np.int64),
    )
    bg = pd.DataFrame({"feature": ["contact"], "n_eligible": [10_000], "n_feature": [127], "background": [0.0127]})
    table = summarise(counts, bg, min_count=100)
    ref_low, ref_high = wilson(COUNT, NOBS, m=heads)
    assert (table["n_tests"] == heads).all()
    np.testing.assert_allclose(table["ci_low"], ref_low, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(table["ci_high"], ref_high, rtol=1e-9, atol=1e-12)
