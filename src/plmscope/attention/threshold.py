"""Keep high-confidence attention: every residue pair whose weight is at least theta, as Arrow rows."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

from plmscope.attention.dataset import ATTENTION_SCHEMA
from plmscope.errors import PlmscopeError


def check_theta(theta: float) -> float:
    """Return ``theta`` as a float, or raise unless ``0 < theta <= 1``."""
    theta = float(theta)
    if not 0.0 < theta <= 1.0:
        raise PlmscopeError(f"attention threshold theta must be in (0, 1], got {theta}")
    return theta


def threshold_batch(
    layers: Sequence[torch.Tensor],
    lengths: Sequence[int] | np.ndarray | torch.Tensor,
    ids: Sequence[str],
    *,
    theta: float,
) -> tuple[pa.RecordBatch, np.ndarray]:
    """Select all attention weights ``>= theta`` within each protein.

    Args:
        layers: per-layer ``(B, H, Lr, Lr)`` residue attention (any device, any float dtype).
        lengths: ``(B,)`` residues per protein; pairs with ``i`` or ``j`` past a protein's length
            are ignored.
        ids: B protein ids.
        theta: threshold in ``(0, 1]``.

    Returns:
        ``(rows, counts)``: a RecordBatch with :data:`ATTENTION_SCHEMA`, ordered by protein (batch
        order), then layer, head, i, j; and an int64 array ``(layers, heads)`` of the number of
        selected weights per head (summed over the batch).
    """
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
        counts[layer_no] = np.bincount(ph, minlength=h)
        parts.append((pb, ph, pi, pj, w, np.full(len(pb), layer_no, dtype=np.int16)))

    pb, ph, pi, pj, weight, layer = (np.concatenate(cols) for cols in zip(*parts))
    if len(layers) > 1 and b > 1:
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


def _above(a: torch.Tensor, theta: float) -> tuple[np.ndarray, ...]:
    """Indices ``(b, h, i, j)`` and weights of the entries ``>= theta`` of one ``(B, H, L, L)`` tensor.

    On the CPU NumPy's ``flatnonzero`` is several times faster than ``torch.nonzero``; on an
    accelerator the selection stays there and only the selected entries are copied back.
    """
    if a.device.type == "cpu" and a.dtype in (torch.float32, torch.float64, torch.float16):
        x = a.detach().numpy()
        flat = np.flatnonzero(x >= np.asarray(theta, dtype=x.dtype))
        pb, ph, pi, pj = np.unravel_index(flat, x.shape)
        return pb, ph, pi, pj, x[pb, ph, pi, pj].astype(np.float32)
    idx = torch.nonzero(a >= theta)
    weights = a[idx[:, 0], idx[:, 1], idx[:, 2], idx[:, 3]].float().cpu().numpy()
    pb, ph, pi, pj = idx.cpu().numpy().T
    return pb, ph, pi, pj, weights
