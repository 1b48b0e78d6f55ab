"""Held-out test points: distinct random variants, uniform over Z_q^n or over one Hamming shell."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np

from plmscope.fourier.cache import row_keys
from plmscope.fourier.transform import all_points


def _shell_size(n: int, q: int, d: int | None) -> int:
    return q**n if d is None else math.comb(n, d) * (q - 1) ** d


def _enumerate(n: int, q: int, distance: int | None) -> np.ndarray:
    """Every point of Z_q^n (``distance=None``) or of the Hamming shell ``distance`` around 0."""
    if distance is None:
        return all_points(n, q)
    values = all_points(distance, q - 1) + 1  # ((q-1)^d, d), entries 1..q-1
    blocks = []
    for sites in combinations(range(n), distance):
        block = np.zeros((values.shape[0], n), dtype=np.int64)
        block[:, list(sites)] = values
        blocks.append(block)
    return np.concatenate(blocks) if blocks else np.zeros((0, n), dtype=np.int64)


def draw_points(
    rng: np.random.Generator, n: int, q: int, *, size: int, distance: int | None, exclude: np.ndarray
) -> np.ndarray:
    """Distinct random points, uniform over Z_q^n (``distance=None``) or over the Hamming shell ``distance``.

    Args:
        rng: random generator.
        n, q: landscape shape.
        size: points wanted (fewer are returned when the set minus ``exclude`` is smaller).
        distance: number of sites that differ from the wild type (``x_i != 0``), or None.
        exclude: ``(k,)`` row keys (:func:`row_keys`) that must not be drawn (training points).

    Returns:
        ``(m, n)`` int64 array, ``m <= size``.
    """
    total = _shell_size(n, q, distance)
    if size <= 0 or total == 0:
        return np.zeros((0, n), dtype=np.int64)
    if total <= max(20_000, 4 * (size + exclude.size)):  # small: enumerate and sample without replacement
        pts = _enumerate(n, q, distance)
        pts = pts[~np.isin(row_keys(pts, q), exclude)]
        take = rng.permutation(pts.shape[0])[:size]
        return pts[take]
    chosen: list[np.ndarray] = []
    seen = np.asarray(exclude)
    have = 0
    for _ in range(50):
        m = 2 * (size - have) + 16
        if distance is None:
            cand = rng.integers(0, q, size=(m, n))
        else:
            cand = np.zeros((m, n), dtype=np.int64)
            where = np.argsort(rng.random((m, n)), axis=1)[:, :distance]
            np.put_along_axis(cand, where, rng.integers(1, q, size=(m, distance)), axis=1)
        keys = row_keys(cand, q)
        keys, first = np.unique(keys, return_index=True)
        keep = first[~np.isin(keys, seen)]
        keep = rng.permutation(keep)[: size - have]
        chosen.append(cand[keep])
        seen = np.concatenate([seen, row_keys(cand[keep], q)])
        have += keep.size
        if have >= size:
            break
    return np.concatenate(chosen)[:size]
