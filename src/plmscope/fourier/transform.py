"""The q-ary Fourier transform over Z_q^n: dense forward/inverse and sparse evaluation.

Conventions (used everywhere in ``plmscope.fourier``), with ``omega = exp(2*pi*i/q)``::

    F[k] = q^-n * sum_x f(x) * omega^(-<k, x>)        (forward, scaled by q^-n)
    f(x) = sum_k F[k] * omega^(<k, x>)                 (inverse)

For real ``f``, ``F[-k] = conj(F[k])``.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from plmscope.errors import PlmscopeError

# Largest dense sub-table q^r built for one support set during sparse evaluation.
_MAX_TABLE = 1 << 16
# Table lookups done at once by ``evaluate`` (rows per chunk = this / number of supports).
_CHUNK_ELEMENTS = 1 << 22


def order(k: np.ndarray) -> np.ndarray:
    """Number of nonzero entries of each frequency.

    Args:
        k: ``(s, n)`` or ``(n,)`` integer frequencies.

    Returns:
        ``(s,)`` int array (or a 0-d int for a single ``(n,)`` frequency).
    """
    return np.count_nonzero(np.asarray(k), axis=-1)


def all_points(n: int, q: int) -> np.ndarray:
    """Every point of Z_q^n in C order (the first site varies slowest).

    Returns:
        ``(q**n, n)`` int64 array; row ``r`` is the base-q digits of ``r``.
    """
    return np.stack(np.unravel_index(np.arange(q**n), (q,) * n), axis=1).astype(np.int64)


def forward_transform(values: np.ndarray) -> np.ndarray:
    """Dense forward transform ``F = q^-n * FFT(f)``.

    Args:
        values: ``(q,) * n`` array with ``values[x] = f(x)``.

    Returns:
        ``(q,) * n`` complex array with ``F[k]``.
    """
    values = np.asarray(values)
    return np.fft.fftn(values) / values.size


def inverse_transform(coefficients: np.ndarray) -> np.ndarray:
    """Dense inverse transform ``f(x) = sum_k F[k] omega^<k,x>``.

    Args:
        coefficients: ``(q,) * n`` complex array of ``F[k]``.

    Returns:
        ``(q,) * n`` complex array of ``f(x)`` (real up to rounding when ``F`` is conjugate-symmetric).
    """
    coefficients = np.asarray(coefficients)
    return np.fft.ifftn(coefficients) * coefficients.size


def dense_to_sparse(coefficients: np.ndarray, *, rtol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """The nonzero entries of a dense coefficient array.

    Args:
        coefficients: ``(q,) * n`` complex array.
        rtol: entries with ``|F| <= rtol * max|F|`` are dropped (rounding noise of the FFT).

    Returns:
        ``(frequencies (s, n) int64, values (s,) complex128)``, frequencies in C order.
    """
    coefficients = np.asarray(coefficients)
    mag = np.abs(coefficients).ravel()
    top = mag.max() if mag.size else 0.0
    flat = np.flatnonzero(mag > rtol * top) if top > 0 else np.zeros(0, dtype=np.int64)
    freqs = np.stack(np.unravel_index(flat, coefficients.shape), axis=1).astype(np.int64)
    return freqs.reshape(-1, coefficients.ndim), coefficients.ravel()[flat].astype(np.complex128)


def _support_tables(frequencies: np.ndarray, values: np.ndarray, q: int):
    """Group coefficients by support and turn each small group into a dense table over Z_q^|S|.

    Returns ``(supports, tables, direct)``: ``supports`` a list of site tuples, ``tables`` the
    matching complex arrays of shape ``(q**|S|,)`` (value of that group's partial sum at each
    assignment of the sites in S), and ``direct`` the indices of coefficients whose support is too
    large for a table (evaluated term by term).
    """
    groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
    nonzero = frequencies != 0
    direct = []
    for idx in range(frequencies.shape[0]):
        support = tuple(np.flatnonzero(nonzero[idx]).tolist())
        if q ** len(support) <= _MAX_TABLE:
            groups[support].append(idx)
        else:
            direct.append(idx)
    supports, tables = [], []
    for support, members in groups.items():
        r = len(support)
        members = np.asarray(members)
        supports.append(support)
        if r == 0:
            tables.append(np.array([values[members].sum()], dtype=np.complex128))
            continue
        dense = np.zeros((q,) * r, dtype=np.complex128)
        np.add.at(dense, tuple(frequencies[members][:, list(support)].T), values[members])
        tables.append(inverse_transform(dense).ravel())
    return supports, tables, np.asarray(direct, dtype=np.int64)


def evaluate(
    frequencies: np.ndarray, values: np.ndarray, X: np.ndarray, *, q: int, real: bool = False
) -> np.ndarray:
    """Sparse inverse transform ``f(x) = sum_k F[k] omega^<k,x>`` at many points.

    Coefficients sharing a support S (the set of nonzero sites) are folded into one dense table over
    Z_q^|S| by a small inverse FFT, so the cost is ``m * (number of distinct supports)`` lookups
    rather than ``m * s`` complex exponentials. Rows of X are processed in chunks.

    Args:
        frequencies: ``(s, n)`` int array with entries in ``0..q-1``.
        values: ``(s,)`` complex coefficients.
        X: ``(m, n)`` int points with entries in ``0..q-1``.
        q: alphabet size.
        real: return only the real part (cheaper; exact real part of the complex sum).

    Returns:
        ``(m,)`` complex array (float array when ``real``).
    """
    frequencies = np.asarray(frequencies, dtype=np.int64).reshape(-1, np.shape(X)[-1])
    values = np.asarray(values, dtype=np.complex128).ravel()
    X = np.asarray(X)
    if frequencies.shape[0] != values.shape[0]:
        raise PlmscopeError(f"evaluate: {frequencies.shape[0]} frequencies but {values.shape[0]} values")
    m, n = X.shape
    out = np.zeros(m, dtype=np.float64 if real else np.complex128)
    if values.size == 0 or m == 0:
        return out
    supports, tables, direct = _support_tables(frequencies, values, q)
    # One float32 matmul gives every table index (exact: indices stay below 2^16 < 2^24):
    # idx[:, t] = sum_i X[:, i] * W[i, t] + offset[t].
    weights = np.zeros((n, len(supports)), dtype=np.float32)
    offsets = np.zeros(len(supports), dtype=np.int64)
    start = 0
    for t, support in enumerate(supports):
        r = len(support)
        for pos, site in enumerate(support):
            weights[site, t] = float(q ** (r - 1 - pos))
        offsets[t] = start
        start += q**r
    index_dtype = np.int32 if start < 2**31 else np.int64
    offsets = offsets.astype(index_dtype)
    flat = np.concatenate(tables) if tables else np.zeros(0, dtype=np.complex128)
    if real:
        flat = np.ascontiguousarray(flat.real)
    kd = frequencies[direct]
    vd = values[direct]
    omega = np.exp(2j * np.pi * np.arange(q) / q)
    chunk = max(1024, _CHUNK_ELEMENTS // max(1, len(supports)))
    for lo in range(0, m, chunk):
        xs = X[lo : lo + chunk]
        if supports:
            idx = (xs.astype(np.float32) @ weights).astype(index_dtype)
            idx += offsets
            out[lo : lo + chunk] = np.take(flat, idx).sum(axis=1)
        if direct.size:
            phase = omega[(xs.astype(np.int64) @ kd.T) % q]
            part = phase @ vd
            out[lo : lo + chunk] += part.real if real else part
    return out
