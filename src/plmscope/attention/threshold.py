"""Keep high-confidence attention: every residue pair whose weight is at least theta, as Arrow rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from plmscope.attention.dataset import ATTENTION_SCHEMA
from plmscope.errors import PlmscopeError

if TYPE_CHECKING:  # torch is imported where a tensor arrives, so option checks stay light
    import torch


def check_theta(theta: float) -> float:
    """Return ``theta`` as a float, or raise unless ``0 < theta <= 1``."""
    try:
        theta = float(theta)
    except (TypeError, ValueError):
        raise PlmscopeError(f"attention threshold theta must be a number in (0, 1], got {theta!r}") from None
    if not 0.0 < theta <= 1.0:
        raise PlmscopeError(f"attention threshold theta must be in (0, 1], got {theta}")
    return theta


def threshold_batch(
    layers: Sequence[torch.Tensor],
    lengths: Sequence[int] | np.ndarray | torch.Tensor,
    ids: Sequence[str],
    *,
    theta: float,
    offsets: Sequence[int] | np.ndarray | None = None,
    pair_sums: np.ndarray | None = None,
) -> tuple[pa.RecordBatch, np.ndarray]:
    """Select all attention weights ``>= theta`` within each protein (or window of a protein).

    Args:
        layers: per-layer ``(B, H, Lr, Lr)`` residue attention (any device, any float dtype).
        lengths: ``(B,)`` residues per protein; pairs with ``i`` or ``j`` past a protein's length
            are ignored.
        ids: B protein ids; the windows of one long protein share its id.
        theta: threshold in ``(0, 1]``.
        offsets: ``(B,)`` position of each item's first residue in its protein (windows);
            added to ``i`` and ``j``. Default all 0.
        pair_sums: ``(B, 2)`` int bounds ``(lo, hi)``: item b keeps only local pairs with
            ``lo < i + j <= hi`` (the pairs a window owns, see :mod:`plmscope.attention.windows`).
            Default: keep every pair.

    Returns:
        ``(rows, counts)``: a RecordBatch with :data:`ATTENTION_SCHEMA`, ordered by protein (batch
        order of its first item), then layer, head, i, j; and an int64 array ``(layers, heads)``
        of the number of rows per head (summed over the batch).
    """
    import torch

    theta = check_theta(theta)
    if not layers:
        raise PlmscopeError("threshold_batch needs at least one attention layer")
    b, h, lr, lr2 = layers[0].shape
    if lr != lr2:
        raise PlmscopeError(f"attention must be square over residues, got shape {tuple(layers[0].shape)}")
    if len(ids) != b:
        raise PlmscopeError(f"{len(ids)} protein ids for a batch of {b}")
    device = layers[0].device
    if not torch.is_tensor(lengths):
        lengths = torch.as_tensor(np.asarray(lengths, dtype=np.int64))
    lengths_t = lengths.to(device=device, dtype=torch.long)
    if lengths_t.shape != (b,) or bool((lengths_t > lr).any()) or bool((lengths_t < 0).any()):
        raise PlmscopeError(f"lengths {lengths_t.tolist()} do not fit attention over {lr} residues")
    lengths_np = lengths_t.cpu().numpy()
    ragged = bool((lengths_np < lr).any())
    offsets_np = _per_item(offsets, b, "offsets", (b,))
    sums_np = _per_item(pair_sums, b, "pair_sums", (b, 2))
    counts = np.zeros((len(layers), h), dtype=np.int64)
    parts = []
    for layer_no, a in enumerate(layers):
        if a.shape != (b, h, lr, lr):
            raise PlmscopeError(f"layer {layer_no} has shape {tuple(a.shape)}, expected {(b, h, lr, lr)}")
        pb, ph, pi, pj, w = _above(a, theta)
        if ragged:  # drop pairs past a protein's length (cheap: only selected entries are checked)
            n = lengths_np[pb]
            inside = (pi < n) & (pj < n)
            pb, ph, pi, pj, w = pb[inside], ph[inside], pi[inside], pj[inside], w[inside]
        if sums_np is not None:  # keep the pairs each window owns
            s = pi + pj
            owned = (s > sums_np[pb, 0]) & (s <= sums_np[pb, 1])
            pb, ph, pi, pj, w = pb[owned], ph[owned], pi[owned], pj[owned], w[owned]
        if offsets_np is not None:
            pi, pj = pi + offsets_np[pb], pj + offsets_np[pb]
        counts[layer_no] = np.bincount(ph, minlength=h)
        parts.append((pb, ph, pi, pj, w, np.full(len(pb), layer_no, dtype=np.int16)))

    pb, ph, pi, pj, weight, layer = (np.concatenate(cols) for cols in zip(*parts))
    first = {}
    group = np.array([first.setdefault(str(pid), k) for k, pid in enumerate(ids)], dtype=np.int64)
    if len(first) < b:  # windows of one protein: merge them, then sort by layer, head, i, j
        pb = group[pb]
        order = np.lexsort((pj, pi, ph, layer, pb))
        pb, ph, pi, pj, weight, layer = pb[order], ph[order], pi[order], pj[order], weight[order], layer[order]
    elif len(layers) > 1 and b > 1:
        order = np.argsort(pb, kind="stable")  # protein-major; layer, head, i, j order kept
        pb, ph, pi, pj, weight, layer = pb[order], ph[order], pi[order], pj[order], weight[order], layer[order]
    protein = pc.take(pa.array(list(ids), type=pa.string()), pa.array(pb))
    rows = pa.RecordBatch.from_arrays(
        [
            protein,
            pa.array(layer, type=pa.int16()),
            pa.array(ph.astype(np.int16), type=pa.int16()),
            pa.array(pi.astype(np.int32), type=pa.int32()),
            pa.array(pj.astype(np.int32), type=pa.int32()),
            pa.array(weight.astype(np.float32, copy=False), type=pa.float32()),
        ],
        schema=ATTENTION_SCHEMA,
    )
    return rows, counts


def _per_item(values, b: int, name: str, shape: tuple[int, ...]) -> np.ndarray | None:
    """``values`` as an int64 array of ``shape`` (one entry per batch item), or None."""
    if values is None:
        return None
    arr = np.asarray(values.cpu() if hasattr(values, "cpu") else values, dtype=np.int64)
    if arr.shape != shape:
        raise PlmscopeError(f"{name} of shape {arr.shape} for a batch of {b}, expected {shape}")
    return arr


def _above(a: torch.Tensor, theta: float) -> tuple[np.ndarray, ...]:
    """Indices ``(b, h, i, j)`` and weights of the entries ``>= theta`` of one ``(B, H, L, L)`` tensor.

    On the CPU NumPy's ``flatnonzero`` is several times faster than ``torch.nonzero`` (measured
    6-10x on a (8, 8, 500, 500) layer). The weights are gathered by the four index arrays: the
    tensor is usually a view with the special tokens sliced off, and flattening such a view copies
    the whole layer (measured 0.17-0.27 s against 0.01 s per (8, 8, 500, 500) layer). On an
    accelerator the selection stays there and only the selected entries are copied back.
    """
    import torch

    if a.device.type == "cpu" and a.dtype in (torch.float32, torch.float64, torch.float16):
        x = a.detach().numpy()
        flat = np.flatnonzero(x >= np.asarray(theta, dtype=x.dtype))
        pb, ph, pi, pj = np.unravel_index(flat, x.shape)
        return pb, ph, pi, pj, x[pb, ph, pi, pj].astype(np.float32, copy=False)
    idx = torch.nonzero(a >= theta)
    weights = a[idx[:, 0], idx[:, 1], idx[:, 2], idx[:, 3]].float().cpu().numpy()
    pb, ph, pi, pj = idx.cpu().numpy().T
    return pb, ph, pi, pj, weights
