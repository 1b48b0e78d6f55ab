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


def noise_sd_for_snr(variance: float, snr_db: float | None) -> float:
    """Noise standard deviation giving ``10 log10(variance / noise_sd^2) = snr_db`` (None: noiseless)."""
    return 0.0 if snr_db is None else float(np.sqrt(variance / 10 ** (snr_db / 10)))


def planted_onehot_function(
    n: int,
    q: int,
    *,
    n_pairs: int,
    n_triples: int = 0,
    additive: bool = True,
    cover_pairs: bool = False,
    pair_magnitude: tuple[float, float] = (0.5, 1.5),
    triple_magnitude: tuple[float, float] = (0.5, 1.5),
    snr_db: float | None = None,
    seed: int = 0,
) -> PlantedFunction:
    """A landscape shaped like a protein model's: amino-acid-specific effects with strong hierarchy.

    ``f(x) = sum_i a_i(x_i) + sum_pairs w [x_i = a][x_j = b] + sum_triples w [x_i = a][x_j = b][x_k = c]``
    with ``a_i(v) ~ N(0, 1)`` at every site and residue (``additive``), ``|w|`` uniform in the
    given ranges with random signs. Each triple's three pairs are among the planted pairs (its
    singles are present through the additive part), so the landscape is sparse *and hierarchical*
    in the one-hot interaction basis but dense in the Fourier basis (a pair term alone has
    ``q^2`` Fourier coefficients). ``cover_pairs`` puts one pair term on every site pair first (so
    every pair of sites interacts; n = 10, q = 20, 200 pairs: 16,436 nonzero Fourier coefficients).

    The returned :class:`PlantedFunction` carries the exact Fourier spectrum as ``coefficients`` and
    the one-hot model as ``one_hot`` (:class:`plmscope.fourier.onehot.OneHotModel`).

    Args:
        n: number of sites.
        q: alphabet size.
        n_pairs: distinct pairwise terms (including the pairs of the triples).
        n_triples: third-order terms.
        additive: add an effect of every residue at every site.
        cover_pairs: the first ``n(n-1)/2`` pairs cover every site pair once.
        pair_magnitude, triple_magnitude: ranges of ``|w|``.
        snr_db: signal-to-noise ratio of the Gaussian noise added per evaluation (None: noiseless).
        seed: seed of the landscape and of the noise.

    Raises:
        PlmscopeError: impossible requests.
    """
    from plmscope.fourier.onehot import OneHotModel

    n_site_pairs = n * (n - 1) // 2
    if n < 2 or q < 2 or n_pairs < 0 or n_triples < 0 or (n_triples and n < 3):
        raise PlmscopeError(f"planted_onehot_function: need n >= 2 (>= 3 with triples), q >= 2; got n={n}, q={q}")
    if n_pairs < 3 * n_triples or n_pairs > n_site_pairs * (q - 1) ** 2 // 2:
        raise PlmscopeError(
            f"planted_onehot_function: n_pairs={n_pairs} must lie in 3 * n_triples ({3 * n_triples}).."
            f"{n_site_pairs * (q - 1) ** 2 // 2}"
        )
    rng = np.random.default_rng([seed, 7])

    def weights(size, lo_hi):
        return rng.uniform(*lo_hi, size=size) * rng.choice([-1.0, 1.0], size=size)

    pairs: dict[tuple[int, int, int, int], None] = {}  # (i, a, j, b), i < j; residues in 0..q-1
    triples = []
    while len(triples) < n_triples:
        S = np.sort(rng.choice(n, size=3, replace=False))
        a = rng.integers(0, q, size=3)
        key = tuple(int(v) for v in (*S, *a))
        if key in triples:
            continue
        triples.append(key)
        for u, v in ((0, 1), (0, 2), (1, 2)):
            pairs[(key[u], key[3 + u], key[v], key[3 + v])] = None
    if len(pairs) > n_pairs:
        raise PlmscopeError(f"planted_onehot_function: {n_triples} triples need {len(pairs)} pairs > n_pairs={n_pairs}")
    site_pairs = list(zip(*np.triu_indices(n, k=1)))
    k = 0
    while len(pairs) < n_pairs:
        if cover_pairs and k < len(site_pairs):
            i, j = site_pairs[k]
            k += 1
        else:
            i, j = np.sort(rng.choice(n, size=2, replace=False))
        pairs.setdefault((int(i), int(rng.integers(0, q)), int(j), int(rng.integers(0, q))), None)
    terms: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = {}
    if additive:
        for i in range(n):
            terms[(i,)] = (np.arange(q)[:, None], rng.normal(size=q))
    by_sites: dict[tuple[int, ...], list] = {}
    for (i, a, j, b), w in zip(pairs, weights(len(pairs), pair_magnitude)):
        by_sites.setdefault((i, j), []).append(((a, b), w))
    for (i, j, l, a, b, c), w in zip(triples, weights(len(triples), triple_magnitude)):
        by_sites.setdefault((i, j, l), []).append(((a, b, c), w))
    for S, items in by_sites.items():
        terms[S] = (np.array([r for r, _ in items]), np.array([w for _, w in items]))
    model = OneHotModel(n, q, 0.0, terms)
    coefficients = model.to_fourier(method="planted")
    variance = float(np.sum(np.abs(coefficients.values[coefficients.orders > 0]) ** 2))
    f = PlantedFunction(coefficients, noise_sd=noise_sd_for_snr(variance, snr_db), seed=seed)
    f.one_hot = model
    return f


def additive_pairwise_function(
    n: int = 10, q: int = 20, *, n_pairs: int = 200, snr_db: float | None = 20.0, seed: int = 0
) -> PlantedFunction:
    """The issue-13 landscape: additive effects at every site plus ``n_pairs`` amino-acid-specific pairs.

    Every site pair carries at least one pair term, so with the defaults (n = 10, q = 20, 200 pairs)
    the spectrum has ``1 + 10 * 19 + 45 * 19^2 = 16,436`` nonzero Fourier coefficients; noise at
    ``snr_db`` (default 20 dB: noise variance 1% of the signal variance).
    """
    return planted_onehot_function(n, q, n_pairs=n_pairs, cover_pairs=True, snr_db=snr_db, seed=seed)
