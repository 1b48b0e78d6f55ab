"""Real-valued test functions over Z_q^n with a planted sparse Fourier spectrum."""

from __future__ import annotations

from math import comb

import numpy as np

from plmscope.errors import PlmscopeError
from plmscope.fourier.coefficients import FourierCoefficients


class PlantedFunction:
    """``f(x) = sum_k F[k] omega^<k,x> (+ Gaussian noise)`` with known, conjugate-symmetric ``F``.

    Calling the object evaluates the noisy function (noise drawn from its own seeded generator);
    :meth:`true` evaluates the noiseless one.

    Attributes:
        coefficients: the planted FourierCoefficients (method ``"planted"``).
        noise_sd: standard deviation of the additive noise per evaluation.
    """

    def __init__(self, coefficients: FourierCoefficients, *, noise_sd: float = 0.0, seed: int = 0):
        self.coefficients = coefficients
        self.n, self.q = coefficients.n, coefficients.q
        self.noise_sd = float(noise_sd)
        self._rng = np.random.default_rng([seed, 1])

    def true(self, X: np.ndarray) -> np.ndarray:
        """Noiseless values at ``X`` of shape ``(m, n)``; returns ``(m,)`` floats."""
        return self.coefficients.predict(np.asarray(X))

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Noisy values at ``X`` of shape ``(m, n)``; returns ``(m,)`` floats."""
        y = self.true(X)
        if self.noise_sd > 0:
            y = y + self.noise_sd * self._rng.standard_normal(y.shape[0])
        return y

    @property
    def variance(self) -> float:
        """Variance of the noiseless f under uniform x (Parseval: sum of |F[k]|^2 over k != 0)."""
        nonzero = self.coefficients.orders > 0
        return float(np.sum(np.abs(self.coefficients.values[nonzero]) ** 2))


def planted_sparse_function(
    n: int,
    q: int,
    sparsity: int,
    *,
    max_order: int = 3,
    seed: int = 0,
    noise_sd: float = 0.0,
    magnitude: tuple[float, float] = (0.5, 1.5),
) -> PlantedFunction:
    """A random real function with exactly ``sparsity`` nonzero Fourier coefficients.

    Frequencies come in conjugate pairs ``(k, -k)`` with ``F[-k] = conj(F[k])`` so f is real; a
    pair counts as two coefficients, and an odd ``sparsity`` adds a real constant term ``F[0]``
    (for q = 2 every frequency is self-conjugate and carries a real coefficient of random sign).
    Each pair's order is uniform in ``1..max_order``, its sites uniform without replacement and its
    nonzero entries uniform in ``1..q-1``; ``|F|`` is uniform in ``magnitude`` with a uniform phase.

    Args:
        n: number of sites.
        q: alphabet size.
        sparsity: number of nonzero coefficients (including conjugate partners).
        max_order: highest interaction order planted.
        seed: seed of the spectrum and of the noise.
        noise_sd: standard deviation of Gaussian noise added to every evaluation.
        magnitude: range of coefficient magnitudes.

    Raises:
        PlmscopeError: impossible requests (more coefficients than frequencies of order <= max_order).
    """
    if n < 1 or q < 2 or sparsity < 0 or not 1 <= max_order <= n or noise_sd < 0:
        raise PlmscopeError(
            f"planted_sparse_function: need n >= 1, q >= 2, sparsity >= 0, 1 <= max_order <= n, noise_sd >= 0; "
            f"got n={n}, q={q}, sparsity={sparsity}, max_order={max_order}, noise_sd={noise_sd}"
        )
    available = sum(comb(n, r) * (q - 1) ** r for r in range(1, max_order + 1))
    if sparsity - sparsity % 2 > 0.5 * available:
        raise PlmscopeError(
            f"planted_sparse_function: {sparsity} coefficients is too dense for n={n}, q={q}, "
            f"max_order={max_order} ({available} frequencies available)"
        )
    # For q = 2 every frequency is its own conjugate (real Walsh-Hadamard basis): draw single real
    # coefficients; otherwise draw pairs (k, -k) and skip self-conjugate k.
    binary = q == 2
    wanted = sparsity - sparsity % 2 if binary else sparsity // 2
    rng = np.random.default_rng(seed)
    chosen: set[tuple[int, ...]] = set()
    freqs = []
    while len(freqs) < wanted:
        r = int(rng.integers(1, max_order + 1))
        k = np.zeros(n, dtype=np.int64)
        k[rng.choice(n, size=r, replace=False)] = rng.integers(1, q, size=r)
        key, neg = tuple(k.tolist()), tuple(((-k) % q).tolist())
        if key in chosen or (neg == key and not binary):
            continue
        chosen.update({key, neg})
        freqs.append(k)
    lo, hi = magnitude
    K = np.array(freqs, dtype=np.int64).reshape(-1, n)
    if binary:
        frequencies = K
        values = rng.uniform(lo, hi, size=wanted) * rng.choice([-1.0, 1.0], size=wanted)
    else:
        vals = rng.uniform(lo, hi, size=wanted) * np.exp(2j * np.pi * rng.uniform(size=wanted))
        frequencies = np.concatenate([K, (-K) % q])
        values = np.concatenate([vals, np.conj(vals)])
    if sparsity % 2:
        frequencies = np.concatenate([np.zeros((1, n), dtype=np.int64), frequencies])
        values = np.concatenate([[rng.uniform(lo, hi)], values])
    coeffs = FourierCoefficients(frequencies, values, q=q, n=n, queries=0, method="planted")
    return PlantedFunction(coeffs, noise_sd=noise_sd, seed=seed)
