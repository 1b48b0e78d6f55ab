"""Residue contacts from CA coordinates, computed pair by pair (never as a dense L x L map)."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from plmscope.options import CONTACT_CUTOFF

CONTACT = 1
NO_CONTACT = 0
EXCLUDED = -1


def pair_contacts(
    ca: np.ndarray,
    valid: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    *,
    cutoff: float = CONTACT_CUTOFF,
    min_separation: int = 6,
) -> np.ndarray:
    """Label residue pairs ``(i[k], j[k])`` as contact, non-contact or excluded.

    Args:
        ca: ``(L, 3)`` CA coordinates in Å (NaN where missing).
        valid: ``(L,)`` bool, residue has coordinates.
        i, j: ``(P,)`` integer residue indices (0-based) of the pairs to label.
        cutoff: contact distance in Å (strictly less than).
        min_separation: pairs with ``|i - j| < min_separation`` are never contacts.

    Returns:
        ``(P,)`` int8: 1 when the CA-CA distance is ``< cutoff`` and ``|i - j| >= min_separation``,
        0 otherwise, and -1 when either residue is missing (not valid, or NaN coordinates).
    """
    ca = np.asarray(ca, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool)
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    present = valid & np.isfinite(ca).all(axis=1)  # NaN coordinates count as missing too
    both = present[i] & present[j]
    dist2 = np.sum((ca[i] - ca[j]) ** 2, axis=-1)
    with np.errstate(invalid="ignore"):
        close = (dist2 < cutoff * cutoff) & (np.abs(i - j) >= min_separation)
    out = np.where(both, close.astype(np.int8), np.int8(EXCLUDED))
    return out.astype(np.int8, copy=False)


def contact_pairs(
    ca: np.ndarray,
    valid: np.ndarray,
    *,
    cutoff: float = CONTACT_CUTOFF,
    min_separation: int = 6,
) -> tuple[np.ndarray, np.ndarray]:
    """All ordered contact pairs of one chain.

    Neighbours are found with a k-d tree (:class:`scipy.spatial.cKDTree`), so memory grows with
    the number of pairs closer than ``cutoff`` (O(L) for proteins), not with L².

    Args:
        ca: ``(L, 3)`` CA coordinates in Å (NaN where missing).
        valid: ``(L,)`` bool, residue has coordinates.
        cutoff: contact distance in Å (strictly less than).
        min_separation: minimum ``|i - j|`` of a contact.

    Returns:
        ``(i, j)``: two ``(C,)`` int64 arrays listing every contact in both directions
        (``(a, b)`` and ``(b, a)``), sorted by ``i`` then ``j``; ``i != j`` always.
    """
    ca = np.asarray(ca, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool) & np.isfinite(ca).all(axis=1)
    index = np.flatnonzero(valid)
    if len(index) < 2:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy()
    tree = cKDTree(ca[index])
    pairs = tree.query_pairs(r=cutoff, output_type="ndarray")  # (P, 2) local, a < b, distance <= r
    a, b = index[pairs[:, 0]], index[pairs[:, 1]]
    keep = (np.abs(a - b) >= max(min_separation, 1)) & (np.sum((ca[a] - ca[b]) ** 2, axis=1) < cutoff * cutoff)
    a, b = a[keep], b[keep]
    i = np.concatenate([a, b])
    j = np.concatenate([b, a])
    order = np.lexsort((j, i))
    return i[order], j[order]


def count_valid_pairs(valid: np.ndarray, *, min_separation: int = 0) -> int:
    """Number of ordered pairs ``(i, j)`` with both residues valid and ``|i - j| >= min_separation``.

    With ``min_separation=0`` the diagonal ``i == j`` is included (``n_valid**2``); with 1 or
    more it is not. Used as the background count for contact statistics.

    Args:
        valid: ``(L,)`` bool, residue has coordinates.
        min_separation: minimum sequence separation ``|i - j|``.

    Returns:
        The pair count (Python int), computed in O(L * min_separation) without an L x L array.
    """
    valid = np.asarray(valid, dtype=bool)
    n = int(valid.sum())
    total = n * n
    for d in range(min(max(min_separation, 0), len(valid))):
        if d == 0:
            total -= n
        else:
            total -= 2 * int(np.count_nonzero(valid[:-d] & valid[d:]))
    return total
