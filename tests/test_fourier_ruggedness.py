"""Ruggedness E[k] and the interaction share on planted landscapes, checked against a brute-force ANOVA.

The reference never touches the Fourier code: the variance of f over uniform x splits into the
variances of its ANOVA components f_S (inclusion-exclusion of conditional means over every subset S
of sites), and the energy of order r is the sum over |S| = r. By Parseval this equals the Fourier
energy per order for every q, so both summaries are checked for q = 2, 3 and 20.
"""

import itertools

import numpy as np
import pytest

from plmscope.fourier import Landscape, metrics
from plmscope.fourier.methods import METHODS
from plmscope.fourier.tables import spectrum_rows

SHAPES = [(2, 6), (3, 4), (20, 3)]  # (q, n): 64, 81 and 8,000 points


def _anova_energy(table: np.ndarray) -> np.ndarray:
    """``(n + 1,)`` variance of f carried by the ANOVA components of each order (order 0: mean^2)."""
    n = table.ndim
    sites = range(n)

    def cond_mean(T):  # E[f | x_T], broadcastable to the full grid
        rest = tuple(i for i in sites if i not in T)
        return table.mean(axis=rest, keepdims=True) if rest else table

    energy = np.zeros(n + 1)
    for r in range(n + 1):
        for S in itertools.combinations(sites, r):
            comp = sum((-1) ** (r - len(T)) * cond_mean(T) for k in range(r + 1) for T in itertools.combinations(S, k))
            energy[r] += float(np.mean(np.broadcast_to(comp, table.shape) ** 2))
    return energy


def _planted(kind: str, q: int, n: int, seed: int) -> np.ndarray:
    """A ``(q,) * n`` table: additive, purely pairwise (every pair term centred in both sites), or random."""
    rng = np.random.default_rng(seed)
    grid = np.indices((q,) * n)
    if kind == "random":
        return rng.normal(size=(q,) * n)
    if kind == "additive":
        return 1.5 + sum(rng.normal(size=q)[grid[i]] for i in range(n))
    table = np.full((q,) * n, -0.7)
    for i, j in itertools.combinations(range(n), 2):
        B = rng.normal(size=(q, q))
        B = B - B.mean(axis=0, keepdims=True) - B.mean(axis=1, keepdims=True) + B.mean()
        table += B[grid[i], grid[j]]
    return table


def _exact(table: np.ndarray, q: int, n: int):
    return METHODS["exact"]().fit(Landscape(lambda P: table[tuple(P.T)], n, q))


@pytest.mark.parametrize("q, n", SHAPES)
@pytest.mark.parametrize("kind", ["additive", "pairwise", "random"])
def test_ruggedness_and_interaction_share_match_a_brute_force_anova(kind, q, n):
    table = _planted(kind, q, n, seed=q * 10 + n)
    energy = _anova_energy(table)
    variance = energy[1:].sum()
    want_ruggedness = float(np.arange(n + 1) @ energy / variance)
    want_share = float(energy[2:].sum() / variance)
    if kind == "additive":
        assert want_ruggedness == pytest.approx(1.0) and want_share == pytest.approx(0.0, abs=1e-12)
    if kind == "pairwise":
        assert want_ruggedness == pytest.approx(2.0) and want_share == pytest.approx(1.0)

    coef = _exact(table, q, n)
    row = spectrum_rows("s", "exact", coef)[0]  # what the spectrum table reports
    assert row["ruggedness"] == pytest.approx(want_ruggedness, rel=1e-9)
    assert row["interaction_share"] == pytest.approx(want_share, rel=1e-9, abs=1e-12)
    assert 0.0 <= row["interaction_share"] <= 1.0 and 1.0 - 1e-12 <= row["ruggedness"] <= n
    np.testing.assert_allclose(metrics.energy_per_order(coef), energy, rtol=1e-9, atol=1e-12)


def test_interaction_share_of_a_constant_landscape_is_zero():
    coef = _exact(np.full((2,) * 3, 4.0), 2, 3)
    assert metrics.interaction_share(coef) == 0.0 and metrics.ruggedness(coef) == 0.0
