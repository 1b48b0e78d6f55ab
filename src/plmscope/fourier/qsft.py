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

Queries: ``C * q^b * (number of delays)`` (plus the validation points of ``noise_threshold="auto"``).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from plmscope.errors import PlmscopeError
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
            over the delays is at most this, and a singleton fit is accepted when its mean squared
            residual is at most this. Noise of variance ``s^2`` per query gives each bin a noise
            energy of about ``s^2 / q^b``; a threshold 2-5 times that works. ``"auto"`` estimates
            the noise energy as the median bin energy, tries the multiples in ``AUTO_GRID`` and keeps
            the result with the best R^2 on ``n_validation`` extra uniformly random queries.
        n_validation: validation queries used by ``noise_threshold="auto"`` (None: 10% of the
            subsampling queries, at least 50 and at most 2000).
        max_iter: most peeling rounds.
        seed: seed of the random matrices, offsets and validation points.
    """

    name = "qsft"

    def __init__(
        self,
        *,
        b: int | None = None,
        C: int = 3,
        delays: Literal["identity", "random"] = "identity",
        R: int = 3,
        noise_threshold: float | Literal["auto"] = "auto",
        n_validation: int | None = None,
        max_iter: int = 30,
        seed: int = 0,
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

    def choose_b(self, n: int, q: int, budget: int | None) -> int:
        """The subsampling dimension used for an (n, q) landscape under ``budget``."""
        if self.b is not None:
            if self.b > n:
                raise PlmscopeError(f"qsft: b={self.b} exceeds the number of sites n={n}")
            if budget is not None and self.planned_queries(n, q, self.b) > budget:
                raise PlmscopeError(
                    f"qsft: b={self.b}, C={self.C} needs {self.planned_queries(n, q, self.b)} queries "
                    f"but the budget is {budget}"
                )
            return self.b
        if budget is None:
            return min(n, max(1, math.ceil(math.log(_DEFAULT_BINS) / math.log(q))))
        fits = [b for b in range(1, n + 1) if self.planned_queries(n, q, b) <= budget]
        if not fits:
            raise PlmscopeError(
                f"qsft: budget {budget} is below the smallest configuration "
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
        """``(C, n, b)`` random matrices: rows coprime to q, and ``l -> M l mod q`` one-to-one.

        A row sharing a factor with q (e.g. all even entries for q = 20) would fold the q-1
        first-order frequencies of its site onto fewer bins; such rows are redrawn. A matrix
        that is not one-to-one on Z_q^b (for q = 20: rank < b modulo 2 or modulo 5) would
        query the same point several times and alias whole groups of bins; such matrices
        are redrawn too (possible whenever n >= b).
        """
        primes = _prime_factors(q)
        out = np.empty((self.C, n, b), dtype=np.int64)
        for c in range(self.C):
            for _ in range(1000):
                M = self.rng.integers(0, q, size=(n, b))
                bad = np.gcd.reduce(np.concatenate([M, np.full((n, 1), q)], axis=1), axis=1) != 1
                while bad.any():
                    M[bad] = self.rng.integers(0, q, size=(int(bad.sum()), b))
                    bad = np.gcd.reduce(np.concatenate([M, np.full((n, 1), q)], axis=1), axis=1) != 1
                if n < b or all(_rank_mod_p(M, p) == b for p in primes):
                    break
            out[c] = M
        return out

    # --------------------------------------------------------------------------------- fitting
    def _fit(self, landscape: Landscape, budget: int | None) -> tuple[np.ndarray, np.ndarray]:
        n, q = landscape.n, landscape.q
        b = self.choose_b(n, q, budget)
        self.b_used = b
        delays = self._delay_vectors(n, q)
        M = self._subsampling_matrices(n, q, b)
        U = self._observe(landscape, M, delays, b)
        peeler = _Peeler(U, M, delays, q)
        if self.noise_threshold != "auto":
            return peeler.run(float(self.noise_threshold), self.max_iter)
        Xv = self.rng.integers(0, q, size=(self.validation_size(n, q, b), n))
        yv = landscape(Xv)
        noise = float(np.median(np.mean(np.abs(U) ** 2, axis=-1)))
        best = None
        self.thresholds_tried = []
        for factor in AUTO_GRID:
            tau = factor * noise
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
        """Query the subsampled points and return the bins ``U`` of shape ``(C, q^b, D)``."""
        q = landscape.q
        grid = np.stack(np.unravel_index(np.arange(q**b), (q,) * b), axis=1).astype(np.int64)
        D = delays.shape[0]
        U = np.empty((self.C, q**b, D), dtype=np.complex128)
        small = np.int16 if 2 * q < 2**15 else np.int64
        for c in range(self.C):
            base = ((grid @ M[c].T) % q).astype(small)  # (q^b, n)
            points = base[None, :, :] + delays.astype(small)[:, None, :]  # (D, q^b, n), entries < 2q
            points -= q * (points >= q).astype(small)
            y = landscape(points.reshape(-1, landscape.n)).reshape((D,) + (q,) * b)
            bins = np.fft.fftn(y, axes=tuple(range(1, b + 1))) / q**b
            U[c] = bins.reshape(D, q**b).T
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
        total = float(np.sum(np.mean(np.abs(U[0]) ** 2, axis=-1)))
        self.floor = _FLOOR * total

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
        energy = np.mean(np.abs(U) ** 2, axis=-1)  # (C, B)
        cand_c, cand_j = np.nonzero(energy > tau + self.floor)
        if cand_c.size == 0:
            return np.zeros((0, self.n), dtype=np.int64), np.zeros(0, dtype=np.complex128)
        obs = U[cand_c, cand_j]  # (m, D)
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
            (resid <= tau + _RTOL * energy[cand_c, cand_j])
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
        if not found:
            return np.zeros((0, self.n), dtype=np.int64), np.zeros(0, dtype=np.complex128)
        keys = list(found)
        return np.array(keys, dtype=np.int64), np.array([found[k] for k in keys], dtype=np.complex128)


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
