"""Overlapping windows over sequences longer than a model accepts, and which window each residue pair comes from.

A protein of L residues longer than the window width W is cut into windows of exactly W
residues starting at ``0, S, 2S, ...`` (stride S) plus one last window ending at residue
``L - 1``. Every window is run through the model on its own. A residue pair ``(i, j)`` may lie
in several windows; its weight is taken from exactly one of them, the window whose centre is
closest to the pair's midpoint ``(i + j) / 2`` (ties go to the earlier window). That window
contains the pair whenever any window does, and it is the one where both residues sit farthest
from a window edge, i.e. where the model saw the most sequence context on both sides of the
pair. Pairs in no common window (``|i - j| >= W``, and some pairs with
``W - S < |i - j| < W``) have no attention at all; every pair with ``|i - j| <= W - S`` is
covered.

Why one window and not the maximum over windows: a maximum over k noisy estimates is biased
upwards, so pairs in overlap regions (covered 2+ times) would pass the threshold more often
than pairs covered once, an artefact of where the windows fall. Taking one weight per pair
keeps the number of thresholded pairs independent of the overlap, and it needs no state across
windows: each window is thresholded alone and keeps the pairs it owns, so long proteins stream
through the same bounded-memory batches as short ones.

In window-local coordinates (``i, j`` in ``0..W-1``) window k owns exactly the pairs with
``lo_k < i + j <= hi_k`` where ``lo_k = s_{k-1} - s_k + W - 1`` (``-1`` for the first window)
and ``hi_k = s_{k+1} - s_k + W - 1`` (``2W - 2`` for the last); with a uniform stride that is
``|i + j - (W - 1)| <= S``, ties assigned as above.
"""

from __future__ import annotations

import numpy as np

from plmscope.errors import PlmscopeError
from plmscope.options import LONG_SEQUENCE_POLICIES, LongSequences  # noqa: F401 (the policies, defined once)


def check_stride(stride: int | None, *, width: int) -> int:
    """Return the window stride (``None`` -> ``width // 2``), or raise unless ``1 <= stride <= width``."""
    if width < 1:
        raise PlmscopeError(f"window width must be at least 1 residue, got {width}")
    if stride is None:
        return max(1, int(width) // 2)
    if isinstance(stride, bool) or int(stride) != stride or not 1 <= int(stride) <= int(width):
        raise PlmscopeError(
            f"window_stride must be an integer from 1 to max_residues ({width}) so that windows overlap or "
            f"touch, got {stride!r}"
        )
    return int(stride)


def window_starts(length: int, *, width: int, stride: int) -> np.ndarray:
    """First residue of every window over a sequence.

    Args:
        length: residues in the sequence.
        width: residues per window (``max_residues``).
        stride: residues between consecutive window starts, ``1..width``.

    Returns:
        int64 array ``(n_windows,)``, increasing: ``0, stride, 2*stride, ...`` while a window
        would end before the last residue, then ``length - width``. A sequence of at most
        ``width`` residues has the single start ``0``.
    """
    stride = check_stride(stride, width=width)
    if length < 1:
        raise PlmscopeError(f"cannot window an empty sequence (length {length})")
    if length <= width:
        return np.zeros(1, dtype=np.int64)
    last = length - width
    starts = np.arange(0, last, stride, dtype=np.int64)
    return np.append(starts, np.int64(last))


def owned_sum_bounds(starts: np.ndarray, *, width: int) -> np.ndarray:
    """Local ``i + j`` bounds of the pairs each window owns.

    Args:
        starts: ``(n_windows,)`` increasing window starts (:func:`window_starts`).
        width: residues per window.

    Returns:
        int64 array ``(n_windows, 2)``: window k keeps a local pair ``(i, j)`` iff
        ``bounds[k, 0] < i + j <= bounds[k, 1]``.
    """
    starts = np.asarray(starts, dtype=np.int64)
    bounds = np.empty((len(starts), 2), dtype=np.int64)
    bounds[:, 0] = -1
    bounds[:, 1] = 2 * width - 2
    if len(starts) > 1:
        gaps = np.diff(starts)
        bounds[1:, 0] = width - 1 - gaps  # s_{k-1} - s_k + W - 1
        bounds[:-1, 1] = width - 1 + gaps  # s_{k+1} - s_k + W - 1
    return bounds


def pair_owner(i: np.ndarray, j: np.ndarray, starts: np.ndarray, *, width: int) -> np.ndarray:
    """Window each global residue pair's weight is taken from (the reference form of the rule).

    Args:
        i: ``(n,)`` query residues (0-based, in the whole protein).
        j: ``(n,)`` key residues.
        starts: ``(n_windows,)`` window starts.
        width: residues per window.

    Returns:
        int64 ``(n,)``: index of the window whose centre is closest to ``(i + j) / 2`` (the
        earlier one on a tie), or ``-1`` where that window (hence every window) misses ``i`` or ``j``.
    """
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    starts = np.asarray(starts, dtype=np.int64)
    doubled_mid = (i + j)[:, None]
    doubled_centre = (2 * starts + width - 1)[None, :]
    owner = np.argmin(np.abs(doubled_mid - doubled_centre), axis=1)  # first minimum: earlier window
    s = starts[owner]
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    inside = (lo >= s) & (hi < s + width)
    return np.where(inside, owner, -1)
