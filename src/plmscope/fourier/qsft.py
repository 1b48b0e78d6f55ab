"""q-SFT: sparse Fourier transform of q-ary functions by aliasing, singleton detection and peeling.

Following the scheme of Erginbas, Kang, Aghazadeh and Ramchandran (ISIT 2023), written from the
description. For each of C groups a random matrix ``M_c`` in Z_q^(n x b) folds Z_q^n onto a
b-dimensional grid. For each delay ``d`` the samples ``u(l) = f(M_c l + d)``, ``l`` in Z_q^b, are
transformed with a b-dimensional FFT (scaled by q^-b), which gives the bins::

    U_{c,d}[j] = sum_{k : M_c^T k = j (mod q)} F[k] * omega^<k, d>

A bin holding one coefficient (a singleton) reveals ``k`` through the phase ratios between the
delayed and undelayed observations, ``U_{c, o+e_i}[j] / U_{c, o}[j] = omega^{k_i}``. Found
coefficients are subtracted from every bin they hash into (peeling), which turns multitons into
new singletons; this repeats until nothing new is found.

For even q a frequency k and its conjugate partner -k share a bin of group c whenever
``2 M_c^T k = 0 (mod q)``; the bin then holds ``F[k] omega^<k,d> + conj(F[k]) omega^-<k,d>``, which is
no singleton. The matrices are therefore drawn jointly so that every such pair is separated in at
least one group (see :meth:`QSFT._subsampling_matrices`); peeling then removes the pair everywhere.

Queries: ``C * q^b * (number of delays)`` (plus the validation points of ``noise_threshold="auto"``,
which are not drawn when the zero-threshold peel already explains every observation exactly).
"""

from __future__ import annotations

import itertools
import math
from typing import Literal

import numpy as np

from plmscope.errors import PlmscopeError
from plmscope.options import ESTIMATOR_DEFAULTS, QSFT_C, QSFT_DEFAULTS, QSFT_R
from plmscope.fourier.base import Estimator, check_choice, check_float, check_int
from plmscope.fourier.landscape import Landscape
from plmscope.fourier.transform import evaluate

# Multiples of the estimated per-bin noise energy tried by noise_threshold="auto".
AUTO_GRID = (0.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0)
# Relative tolerance of the singleton residual test (rounding noise in the noiseless case).
_RTOL = 1e-6
# Bins with energy below this fraction of the total energy are zero (rounding noise).
_FLOOR = 1e-18
# Refinement passes of the singleton frequency estimate.
_REFINE = 2
# Default number of bins per group when neither b nor a budget is given.
_DEFAULT_BINS = 4096
# Even q: conjugate pairs (k, -k) of order <= this are guaranteed to be separated in some group
# (all orders when C*b >= n); draws of the C matrices tried to reach it, and the most row subsets
# checked per draw (the guaranteed order is lowered until C(n, order) fits).
_PAIR_ORDER = 3
_PAIR_ATTEMPTS = 200
_PAIR_MAX_SUBSETS = 5000
# Points sent to the landscape per call while observing (bounds the transient memory of a call).
_QUERY_CHUNK = 1 << 19
# Candidate bins decoded at once by the singleton test (bounds its transient memory).
_DECODE_CHUNK = 1 << 15
# A zero-threshold peel whose leftover bin energy is at most this fraction of the observed energy
# explains every observation exactly: noise_threshold="auto" then stops without validation queries.
_EXACT = 1e-12


class QSFT(Estimator):
    """q-ary sparse Fourier transform.

    Args:
        b: subsampling dimension (``q^b`` bins per group); None picks the largest b whose query
            count fits the budget (or ``q^b >= 4096`` without a budget).
        C: number of subsampling groups (random matrices).
        delays: ``"identity"``: the n+1 delays 0, e_1, ..., e_n (noiseless functions);
            ``"random"``: R random offsets o_r, each with delays o_r, o_r + e_1, ..., o_r + e_n;
            the phase estimates are combined over the offsets (noise-robust).
        R: number of random offsets (only with ``delays="random"``).
        noise_threshold: energy threshold on bins: a bin is a zeroton when its mean squared value
            over the delays is at most this, and a singleton fit (k, F) is accepted when k hashes to the bin,
            |F|^2 exceeds this and its mean squared
            residual is at most this. Noise of variance ``s^2`` per query gives each bin a noise
            energy of about ``s^2 / q^b``; a threshold 2-5 times that works. ``"auto"`` estimates
            the noise energy as the median bin energy, tries the multiples in ``AUTO_GRID`` and keeps
            the result with the best R^2 on ``n_validation`` extra uniformly random queries. The
            smallest threshold is peeled first: when it leaves no energy in any bin (noiseless
            input, every observation reproduced exactly) it is kept without validation queries,
            and ``thresholds_tried`` holds that one entry with the in-sample share of bin energy
            explained in place of a validation R^2.
        n_validation: validation queries used by ``noise_threshold="auto"`` (None: 10% of the
            subsampling queries, at least 50 and at most 2000).
        max_iter: most peeling rounds.
        seed: seed of the random matrices, offsets and validation points.
    """

    name = "qsft"

    def __init__(
        self,
        *,
        b: int | None = QSFT_DEFAULTS["b"],
        C: int = QSFT_C,
        delays: Literal["identity", "random"] = QSFT_DEFAULTS["delays"],
        R: int = QSFT_R,
        noise_threshold: float | Literal["auto"] = QSFT_DEFAULTS["noise_threshold"],
        n_validation: int | None = QSFT_DEFAULTS["n_validation"],
        max_iter: int = QSFT_DEFAULTS["max_iter"],
        seed: int = QSFT_DEFAULTS["seed"],
    ):
        super().__init__(seed=seed)
        self.b = None if b is None else check_int(self.name, "b", b, low=1)
        self.C = check_int(self.name, "C", C, low=1)
        self.delays = check_choice(self.name, "delays", delays, {"identity", "random"})
        self.R = check_int(self.name, "R", R, low=1)
        if noise_threshold != "auto":
            noise_threshold = check_float(self.name, "noise_threshold", noise_threshold)
        self.noise_threshold = noise_threshold
        self.n_validation = None if n_validation is None else check_int(self.name, "n_validation", n_validation, low=1)
        self.max_iter = check_int(self.name, "max_iter", max_iter, low=1)
        self.thresholds_tried: list[tuple[float, float, int]] = []  # (threshold, validation R^2, size)
        self.b_used: int | None = None
        self.validation_used = 0  # validation queries drawn by the last fit
        self.pair_safe_order: int | None = None  # see _subsampling_matrices

    # ----------------------------------------------------------------------------------- planning
    def n_delays(self, n: int) -> int:
        """Number of delays for n sites."""
        return (n + 1) * (1 if self.delays == "identity" else self.R)

    def validation_size(self, n: int, q: int, b: int) -> int:
        """Validation queries of ``noise_threshold="auto"`` (default: 10% of the subsampling queries, 50..2000)."""
        if self.noise_threshold != "auto":
            return 0
        if self.n_validation is not None:
            return self.n_validation
        return int(min(2000, max(50, self.C * q**b * self.n_delays(n) // 10)))

    def planned_queries(self, n: int, q: int, b: int) -> int:
        """Queries a fit with subsampling dimension b asks for (an upper bound on distinct points)."""
        return self.C * q**b * self.n_delays(n) + self.validation_size(n, q, b)

    def min_budget(self, n: int, q: int) -> int:
        """Queries of the smallest plan (the configured b, else b = 1)."""
        return self.planned_queries(n, q, min(n, self.b or 1))

    def budget_error(self, n: int, q: int, budget: int | None) -> str | None:
        """The planner's own refusal (:meth:`choose_b`): a fixed b above n or over the budget, or no b fitting it."""
        try:
            self.choose_b(n, q, budget)
        except PlmscopeError as err:
            return str(err)
        return None

    def choose_b(self, n: int, q: int, budget: int | None) -> int:
        """The subsampling dimension used for an (n, q) landscape under ``budget``."""
        if self.b is not None:
            if self.b > n:
                raise PlmscopeError(f"{self.name}: b={self.b} exceeds the number of sites n={n}")
            if budget is not None and self.planned_queries(n, q, self.b) > budget:
                raise PlmscopeError(
                    f"{self.name}: b={self.b}, C={self.C} needs {self.planned_queries(n, q, self.b)} queries "
                    f"but the budget is {budget}"
                )
            return self.b
        if budget is None:
            return min(n, max(1, math.ceil(math.log(_DEFAULT_BINS) / math.log(q))))
        fits = [b for b in range(1, n + 1) if self.planned_queries(n, q, b) <= budget]
        if not fits:
            raise PlmscopeError(
                f"{self.name}: budget {budget} is below the smallest configuration "
                f"(b=1, C={self.C}: {self.planned_queries(n, q, 1)} queries)"
            )
        return max(fits)

    def _delay_vectors(self, n: int, q: int) -> np.ndarray:
        """``(D, n)`` delays, grouped per offset: offset, offset + e_1, ..., offset + e_n."""
        if self.delays == "identity":
            offsets = np.zeros((1, n), dtype=np.int64)
        else:
            offsets = self.rng.integers(0, q, size=(self.R, n))
        eye = np.vstack([np.zeros((1, n), dtype=np.int64), np.eye(n, dtype=np.int64)])
        return ((offsets[:, None, :] + eye[None, :, :]) % q).reshape(-1, n)

    def _subsampling_matrices(self, n: int, q: int, b: int) -> np.ndarray:
        """``(C, n, b)`` random matrices: rows coprime to q, ``l -> M l mod q`` one-to-one, and
        (even q) conjugate pairs separated.

        A row sharing a factor with q (e.g. all even entries for q = 20) would fold the q-1
        first-order frequencies of its site onto fewer bins; such rows are redrawn. A matrix
        that is not one-to-one on Z_q^b (for q = 20: rank < b modulo 2 or modulo 5) would
        query the same point several times and alias whole groups of bins; such matrices
        are redrawn too (possible whenever n >= b).

        For even q, k and -k share a bin of group c iff ``M_c^T k = 0 (mod q/2)``. If every set of
        t rows of the stacked ``n x C*b`` matrix ``[M_1 ... M_C]`` is linearly independent modulo
        each prime p of q/2, no k of order <= t with k != -k lies in that bin in every group (reduce
        k by the largest power of p dividing it: the rest is nonzero mod p on at most t sites).
        t = n (every k) when ``C*b >= n``, otherwise ``_PAIR_ORDER``; draws are repeated until
        this holds (at most ``_PAIR_ATTEMPTS``, keeping the draw with the fewest dependent
        subsets). ``pair_safe_order`` records the order reached (None for odd q: no collisions).
        """
        pair_primes = _prime_factors(q // 2) if q % 2 == 0 and q > 2 else []
        self.pair_safe_order = None
        if not pair_primes:
            return np.stack([self._draw_group(n, q, b) for _ in range(self.C)])
        t = n if self.C * b >= n else min(n, _PAIR_ORDER, self.C * b)
        while t > 1 and math.comb(n, t) > _PAIR_MAX_SUBSETS:
            t -= 1
        best = None
        for _ in range(_PAIR_ATTEMPTS):
            M = np.stack([self._draw_group(n, q, b) for _ in range(self.C)])
            bad = _dependent_subsets(np.concatenate(list(M), axis=1), t, pair_primes)
            if best is None or bad < best[0]:
                best = (bad, M)
            if bad == 0:
                break
        bad, M = best
        stacked = np.concatenate(list(M), axis=1)
        while bad and t > 0:
            t -= 1
            bad = _dependent_subsets(stacked, t, pair_primes) if t else 0
        self.pair_safe_order = t
        return M

    def _draw_group(self, n: int, q: int, b: int) -> np.ndarray:
        """One ``(n, b)`` matrix with rows coprime to q and ``l -> M l mod q`` one-to-one."""
        primes = _prime_factors(q)
        for _ in range(1000):
            M = self.rng.integers(0, q, size=(n, b))
            bad = np.gcd.reduce(np.concatenate([M, np.full((n, 1), q)], axis=1), axis=1) != 1
            while bad.any():
                M[bad] = self.rng.integers(0, q, size=(int(bad.sum()), b))
                bad = np.gcd.reduce(np.concatenate([M, np.full((n, 1), q)], axis=1), axis=1) != 1
            if n < b or all(_rank_mod_p(M, p) == b for p in primes):
                break
        return M

    # --------------------------------------------------------------------------------- fitting
    def _fit(self, landscape: Landscape, budget: int | None) -> tuple[np.ndarray, np.ndarray]:
        n, q = landscape.n, landscape.q
        b = self.choose_b(n, q, budget)
        self.b_used = b
        delays = self._delay_vectors(n, q)
        M = self._subsampling_matrices(n, q, b)
        U = self._observe(landscape, M, delays, b)
        peeler = _Peeler(U, M, delays, q)
        self.validation_used = 0
        self.thresholds_tried = []
        if self.noise_threshold != "auto":
            return peeler.run(float(self.noise_threshold), self.max_iter)
        noise = float(np.median(_energy(U)))
        taus = sorted({factor * noise for factor in AUTO_GRID})
        # Noiseless input: the zero-threshold peel leaves no energy in any bin, i.e. it reproduces
        # all C * q^b * D observations exactly; no threshold can do better, so no validation.
        freqs, vals = peeler.run(taus[0], self.max_iter)
        if peeler.leftover <= _EXACT * peeler.observed or len(taus) == 1:
            self.thresholds_tried.append((taus[0], 1.0 - peeler.leftover / max(peeler.observed, 1e-300), len(vals)))
            return freqs, vals
        self.validation_used = self.validation_size(n, q, b)
        Xv = self.rng.integers(0, q, size=(self.validation_used, n))
        yv = landscape(Xv)
        best = None
        for i, tau in enumerate(taus):
            if i:
                freqs, vals = peeler.run(tau, self.max_iter)
            pred = evaluate(freqs, vals, Xv, q=q, real=True)
            sst = float(np.sum((yv - yv.mean()) ** 2))
            r2 = 1.0 - float(np.sum((yv - pred) ** 2)) / sst if sst > 0 else float(np.allclose(pred, yv))
            self.thresholds_tried.append((tau, r2, len(vals)))
            # ties (within 1e-9) go to the sparser result
            if best is None or r2 > best[0] + 1e-9 or (r2 > best[0] - 1e-9 and len(vals) < len(best[2])):
                best = (r2, freqs, vals)
        return best[1], best[2]

    def _observe(self, landscape: Landscape, M: np.ndarray, delays: np.ndarray, b: int) -> np.ndarray:
        """Query the subsampled points and return the bins ``U`` of shape ``(C, q^b, D)``.

        The landscape is asked for a few delays at a time (about ``_QUERY_CHUNK`` points per call,
        in the same order as one call per group would ask), so the int64 copies and sort keys a
        landscape call makes stay small; the real samples are kept until every query is answered
        and only then transformed, so the complex bins never coexist with the landscape's work.
        """
        q, n = landscape.q, landscape.n
        B = q**b
        grid = np.stack(np.unravel_index(np.arange(B), (q,) * b), axis=1).astype(np.int64)
        D = delays.shape[0]
        y = np.empty((self.C, D) + (q,) * b, dtype=np.float64)
        step = max(1, _QUERY_CHUNK // B)
        for c in range(self.C):
            base = (grid @ M[c].T) % q  # (q^b, n)
            for lo in range(0, D, step):
                d = delays[lo : lo + step]
                points = (base[None, :, :] + d[:, None, :]) % q  # (delays, q^b, n)
                y[c, lo : lo + d.shape[0]] = landscape(points.reshape(-1, n)).reshape((d.shape[0],) + (q,) * b)
        U = np.empty((self.C, B, D), dtype=np.complex128)
        for c in range(self.C):
            for lo in range(0, D, step):
                bins = np.fft.fftn(y[c, lo : lo + step], axes=tuple(range(1, b + 1))) / B
                U[c, :, lo : lo + bins.shape[0]] = bins.reshape(bins.shape[0], B).T
        return U


class _Peeler:
    """Singleton detection and peeling on fixed observations; reusable for several thresholds."""

    def __init__(self, U: np.ndarray, M: np.ndarray, delays: np.ndarray, q: int):
        self.U0, self.M, self.delays, self.q = U, M, delays, q
        self.C, self.B, self.D = U.shape
        self.n, self.b = M.shape[1], M.shape[2]
        self.n_offsets = self.D // (self.n + 1)
        self.qpow = np.array([q ** (self.b - 1 - t) for t in range(self.b)], dtype=np.int64)
        self.omega = np.exp(2j * np.pi * np.arange(q) / q)
        total = float(np.sum(_energy(U[:1])))
        self.floor = _FLOOR * total
        self.observed = float(np.sum(_energy(U)))  # mean bin energy over delays, summed over groups and bins
        self.leftover = self.observed  # the same after the last run()

    def bins_of(self, K: np.ndarray) -> np.ndarray:
        """``(C, s)`` flat bin index of each frequency in each group."""
        return (np.einsum("sn,cnb->csb", K, self.M) % self.q) @ self.qpow

    def phases(self, K: np.ndarray) -> np.ndarray:
        """``(s, D)`` delay phases ``omega^<k, d>``."""
        return self.omega[(K @ self.delays.T) % self.q]

    def _round_phase(self, z: np.ndarray) -> np.ndarray:
        """Nearest ``k`` in Z_q with ``omega^k`` closest to the direction of ``z``."""
        return np.rint(np.angle(z) * self.q / (2 * np.pi)).astype(np.int64) % self.q

    def _singletons(self, U: np.ndarray, tau: float):
        """Detect singletons in every non-zeroton bin; return ``(K (m, n), F (m,))``."""
        energy = _energy(U)  # (C, B)
        cand_c, cand_j = np.nonzero(energy > tau + self.floor)
        Ks, Fs = [np.zeros((0, self.n), dtype=np.int64)], [np.zeros(0, dtype=np.complex128)]
        for lo in range(0, cand_c.size, _DECODE_CHUNK):
            c, j = cand_c[lo : lo + _DECODE_CHUNK], cand_j[lo : lo + _DECODE_CHUNK]
            K, F = self._decode(U[c, j], c, j, energy[c, j], tau)
            Ks.append(K)
            Fs.append(F)
        return np.concatenate(Ks), np.concatenate(Fs)

    def _decode(self, obs: np.ndarray, cand_c: np.ndarray, cand_j: np.ndarray, energy: np.ndarray, tau: float):
        """Singleton fits of the bins ``(cand_c, cand_j)`` with observations ``obs (m, D)``; keep those passing."""
        per = obs.reshape(-1, self.n_offsets, self.n + 1)
        # First guess: phase ratios against the undelayed observation of each offset,
        # z_i = sum_r U_{o_r + e_i} conj(U_{o_r}) ~ |F|^2 omega^{k_i}.
        K = self._round_phase(np.sum(per[:, :, 1:] * np.conj(per[:, :, :1]), axis=1))
        for _ in range(_REFINE):
            # Refine: estimate A_r = F omega^<k, o_r> from all n+1 observations of offset r (less
            # noisy than U_{o_r} alone), then re-read each k_i against it.
            shift = np.concatenate([np.zeros((K.shape[0], 1), dtype=np.int64), K], axis=1)
            A = np.mean(per * np.conj(self.omega[shift])[:, None, :], axis=2)  # (m, R)
            K = self._round_phase(np.sum(per[:, :, 1:] * np.conj(A)[:, :, None], axis=1))
        P = self.phases(K)
        F = np.mean(obs * np.conj(P), axis=1)
        resid = np.mean(np.abs(obs - F[:, None] * P) ** 2, axis=1)
        hashed = self.bins_of(K)[cand_c, np.arange(K.shape[0])]
        ok = (
            (resid <= tau + _RTOL * energy)
            & (hashed == cand_j)
            & (np.abs(F) ** 2 > tau + self.floor)
        )
        return K[ok], F[ok]

    def _merge(self, K: np.ndarray, F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Average repeated detections and complete conjugate pairs (f is real: F[-k] = conj F[k])."""
        q = self.q
        neg = (-K) % q
        flip = np.array([tuple(a) > tuple(c) for a, c in zip(K, neg)], dtype=bool)
        canon = np.where(flip[:, None], neg, K)
        vals = np.where(flip, np.conj(F), F)
        uniq, inverse = np.unique(canon, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        sums = np.zeros(uniq.shape[0], dtype=np.complex128)
        np.add.at(sums, inverse, vals)
        mean = sums / np.bincount(inverse, minlength=uniq.shape[0])
        partner = (-uniq) % q
        selfconj = np.all(partner == uniq, axis=1)
        mean = np.where(selfconj, mean.real, mean)
        K_out = np.concatenate([uniq, partner[~selfconj]])
        F_out = np.concatenate([mean, np.conj(mean[~selfconj])])
        return K_out, F_out

    def _subtract(self, U: np.ndarray, K: np.ndarray, F: np.ndarray) -> None:
        bins = self.bins_of(K)
        contrib = F[:, None] * self.phases(K)  # (s, D)
        for c in range(self.C):
            np.add.at(U[c], bins[c], -contrib)

    def run(self, tau: float, max_iter: int) -> tuple[np.ndarray, np.ndarray]:
        """Peel with threshold ``tau``; return ``(frequencies (s, n), values (s,))``."""
        U = self.U0.copy()
        found: dict[tuple[int, ...], complex] = {}
        for _ in range(max_iter):
            K, F = self._singletons(U, tau)
            if K.shape[0] == 0:
                break
            K, F = self._merge(K, F)
            self._subtract(U, K, F)
            for k, v in zip(map(tuple, K.tolist()), F.tolist()):
                found[k] = found.get(k, 0.0) + v
        self.leftover = float(np.sum(_energy(U)))
        del U
        if not found:
            return np.zeros((0, self.n), dtype=np.int64), np.zeros(0, dtype=np.complex128)
        keys = list(found)
        return np.array(keys, dtype=np.int64), np.array([found[k] for k in keys], dtype=np.complex128)


def _energy(U: np.ndarray) -> np.ndarray:
    """Mean squared magnitude over the last axis (delays), one group at a time (small temporaries)."""
    out = np.empty(U.shape[:-1], dtype=np.float64)
    for c in range(U.shape[0]):
        out[c] = np.mean(U[c].real ** 2 + U[c].imag ** 2, axis=-1)
    return out


def _prime_factors(q: int) -> list[int]:
    """Distinct prime factors of q (q = 20 -> [2, 5])."""
    primes, p, rest = [], 2, q
    while p * p <= rest:
        if rest % p == 0:
            primes.append(p)
            while rest % p == 0:
                rest //= p
        p += 1
    if rest > 1:
        primes.append(rest)
    return primes


def _dependent_subsets(M: np.ndarray, t: int, primes: list[int]) -> int:
    """Number of (subset of t rows of M, prime p) pairs whose rows are linearly dependent mod p."""
    if t == M.shape[0]:
        return sum(_rank_mod_p(M, p) < t for p in primes)
    return sum(
        _rank_mod_p(M[list(rows)], p) < t for rows in itertools.combinations(range(M.shape[0]), t) for p in primes
    )


def _rank_mod_p(M: np.ndarray, p: int) -> int:
    """Rank of an integer matrix over the field Z_p (Gaussian elimination; p prime)."""
    A = np.array(M, dtype=np.int64) % p
    rank = 0
    rows, cols = A.shape
    for col in range(cols):
        pivot = next((r for r in range(rank, rows) if A[r, col] != 0), None)
        if pivot is None:
            continue
        A[[rank, pivot]] = A[[pivot, rank]]
        A[rank] = (A[rank] * pow(int(A[rank, col]), -1, p)) % p
        for r in range(rows):
            if r != rank and A[r, col] != 0:
                A[r] = (A[r] - A[r, col] * A[rank]) % p
        rank += 1
    return rank


_PAPER = ESTIMATOR_DEFAULTS["qsft_paper"]


class QSFTPaper(QSFT):
    """q-SFT with the authors' settings (Tsui & Aghazadeh 2024: C = 2 groups, random delays, R = 2 offsets).

    Their b = 4 (q^4 = 160,000 bins per group at q = 20) is far above the budgets of a default run,
    so b is the largest that fits the budget, as for :class:`QSFT`; listed as ``qsft_paper`` beside
    ``qsft`` (our landscape settings) so budget curves compare both at equal budgets.
    """

    name = "qsft_paper"

    def __init__(
        self,
        *,
        b: int | None = QSFT_DEFAULTS["b"],
        C: int = _PAPER["C"],
        delays: Literal["identity", "random"] = _PAPER["delays"],
        R: int = _PAPER["R"],
        noise_threshold: float | Literal["auto"] = QSFT_DEFAULTS["noise_threshold"],
        n_validation: int | None = QSFT_DEFAULTS["n_validation"],
        max_iter: int = QSFT_DEFAULTS["max_iter"],
        seed: int = QSFT_DEFAULTS["seed"],
    ):
        super().__init__(b=b, C=C, delays=delays, R=R, noise_threshold=noise_threshold, n_validation=n_validation,
                         max_iter=max_iter, seed=seed)  # fmt: skip
