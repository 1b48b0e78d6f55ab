"""Contact-prediction figures: precision by range, predicted vs true contact maps, predicted probability maps."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from plmscope.analysis.contact_prediction import TOP_K, TopK, top_count
from plmscope.errors import PlmscopeError
from plmscope.outputs import write_figure

METHOD_COLOURS: dict[str, str] = {"regression": "tab:blue", "best_head": "tab:orange", "random": "0.6"}
"""Bar colour of each method of the contact-prediction table (others cycle through tab10)."""


def plot_precision_by_range(
    summary: pd.DataFrame,
    *,
    ranges: Sequence[str] = ("short", "medium", "long"),
    labels: Mapping[str, str] | None = None,
    title: str | None = None,
) -> Figure:
    """Grouped bars of mean precision per separation range, one panel per k (L, L/2, L/5).

    Args:
        summary: the contact-prediction table (method, separation_range, k, precision, n_proteins).
        ranges: ranges on the x axis, in order.
        labels: legend text per method (default: the method name).
        title: figure title.

    Returns:
        The figure; bar heights are the table's precisions in % (missing values are not drawn).

    Raises:
        PlmscopeError: the table lacks a column or has no row for the ranges.
    """
    missing = [c for c in ("method", "separation_range", "k", "precision") if c not in summary.columns]
    if missing:
        raise PlmscopeError(f"contact-prediction table lacks columns {missing}")
    rows = summary[summary["separation_range"].isin(ranges)]
    if rows.empty:
        raise PlmscopeError(f"contact-prediction table has no rows for ranges {list(ranges)}")
    methods = list(pd.unique(rows["method"]))
    labels = dict(labels or {})
    fig = Figure(figsize=(4.0 * len(TOP_K), 3.6), layout="constrained")
    axes = fig.subplots(1, len(TOP_K), sharey=True, squeeze=False)[0]
    width = 0.8 / max(len(methods), 1)
    x = np.arange(len(ranges))
    palette = iter(f"C{n}" for n in range(10))
    colours = {m: METHOD_COLOURS.get(m) or next(palette) for m in methods}
    for ax, k in zip(axes, TOP_K):
        for n, method in enumerate(methods):
            sub = rows[(rows["method"] == method) & (rows["k"] == k)].set_index("separation_range")
            heights = 100 * np.array([float(sub["precision"].get(r, np.nan)) for r in ranges])
            ok = np.isfinite(heights)
            if ok.any():  # a method without any precision here is neither drawn nor in the legend
                ax.bar((x + (n - (len(methods) - 1) / 2) * width)[ok], heights[ok], width=width,
                       color=colours[method], label=labels.get(method, method))  # fmt: skip
        ax.set_xticks(x, list(ranges))
        ax.set_title(f"top {k}")
        ax.set_xlabel("sequence separation")
    top = np.nanmax(rows["precision"].to_numpy(dtype=float, na_value=np.nan), initial=0.0)
    axes[0].set_ylim(0, min(100.0, max(5.0, 115 * top)))
    axes[0].set_ylabel("mean precision (%)")
    handles: dict = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside right upper", fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def plot_contact_map(
    length: int,
    i: np.ndarray,
    j: np.ndarray,
    labels: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    *,
    k: TopK = "L",
    title: str | None = None,
) -> tuple[Figure, dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """True contacts (grey) with the top-k predictions of one or two methods (correct blue, wrong red).

    The first method is drawn above the diagonal, the second below it (mirrored); true contacts
    appear in both triangles. Pairs with an unknown label are neither drawn nor predicted.

    Args:
        length: residues L.
        i, j: ``(P,)`` pairs with ``i < j``.
        labels: ``(P,)`` 1 contact, 0 not, -1 unknown.
        predictions: method name -> ``(P,)`` scores; one or two entries.
        k: how many top pairs per method (``L // divisor``).
        title: figure title.

    Returns:
        The figure (residues numbered from 1 on the axes) and, per method, its top pairs
        ``(i, j, correct)`` (0-based ``i``, ``j`` as given; best first).
    """
    if not 1 <= len(predictions) <= 2:
        raise PlmscopeError(f"plot_contact_map: give one or two methods, got {len(predictions)}")
    i, j, labels = np.asarray(i), np.asarray(j), np.asarray(labels)
    known = np.flatnonzero(labels >= 0)
    n_top = min(top_count(length, k), len(known))
    fig = Figure(figsize=(5.4, 5.0), layout="constrained")
    ax = fig.add_subplot()
    true = known[labels[known] == 1]
    grey = dict(marker="s", s=6, color="0.75", linewidths=0)
    one = 1  # residues are drawn and labelled 1-based
    ax.scatter(j[true] + one, i[true] + one, **grey)
    ax.scatter(i[true] + one, j[true] + one, **grey)
    tops = {}
    handles = [Line2D([], [], marker="s", linestyle="", color="0.75", label="true contact")]
    for n, (method, scores) in enumerate(predictions.items()):
        scores = np.asarray(scores, dtype=np.float64)
        if scores.shape != labels.shape:
            raise PlmscopeError(f"plot_contact_map: {method} has {scores.shape} scores for {labels.shape} pairs")
        top = known[np.argsort(-scores[known], kind="stable")[:n_top]]
        correct = labels[top] == 1
        tops[method] = (i[top], j[top], correct)
        x, y = (j[top] + one, i[top] + one) if n == 0 else (i[top] + one, j[top] + one)  # first method above
        ax.scatter(x[correct], y[correct], marker="o", s=10, color="tab:blue", linewidths=0)
        ax.scatter(x[~correct], y[~correct], marker="x", s=10, color="tab:red", linewidths=0.8)
        where = "upper" if n == 0 else "lower"
        precision = correct.mean() if len(correct) else np.nan
        handles.append(Line2D([], [], linestyle="", label=f"{where}: {method} top {k} (precision {precision:.2f})"))
    handles += [
        Line2D([], [], marker="o", linestyle="", color="tab:blue", label="predicted, correct"),
        Line2D([], [], marker="x", linestyle="", color="tab:red", label="predicted, wrong"),
    ]
    ax.plot([1, length], [1, length], color="0.85", linewidth=0.8)
    ax.set_xlim(0.5, length + 0.5)
    ax.set_ylim(length + 0.5, 0.5)
    ax.set_aspect("equal")
    ax.set_xlabel("residue j (from 1)")
    ax.set_ylabel("residue i (from 1)")
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize="x-small", ncol=1)
    if title:
        ax.set_title(title)
    return fig, tops


def plot_contact_probability_map(
    probs: np.ndarray,
    sequence: str,
    out_png: str | Path,
    *,
    title: str | None = None,
    min_separation: int = 6,
    dpi: int = 150,
) -> dict[str, Any]:
    """Draw predicted contact probabilities of a sequence without structure and save it as a PNG.

    The map shows ``max(p_ij, p_ji)`` in % for pairs at least ``min_separation`` apart (the band
    closer to the diagonal is grey); the top ``L/5`` pairs are circled in the lower triangle only,
    leaving the upper one unobstructed. Residues are numbered from 1; for up
    to 60 residues the axes also show the letters.

    Args:
        probs: ``(L, L)`` probabilities in [0, 1] (symmetric or not: the map shows ``max(p_ij, p_ji)``);
            NaN for unknown pairs.
        sequence: the ``L`` residues.
        out_png: PNG to write (atomically; parents created).
        title: figure title (default: ``"predicted contact probability"``).
        min_separation: pairs closer in sequence are not shown.
        dpi: resolution.

    Returns:
        ``{"output", "length", "n_top", "top_pairs"}`` with ``top_pairs`` the circled pairs as
        1-based ``(i, j, probability)``, best first.

    Raises:
        PlmscopeError: ``probs`` is not ``(L, L)`` for the sequence, or holds values outside [0, 1].
    """
    from plmscope.io import atomic_path

    probs = np.asarray(probs, dtype=float)
    length = len(sequence)
    if probs.ndim != 2 or probs.shape != (length, length) or length == 0:
        raise PlmscopeError(f"contact probabilities of shape {probs.shape} for a sequence of {length} residues")
    finite = probs[np.isfinite(probs)]
    if finite.size and (finite.min() < 0 or finite.max() > 1):
        raise PlmscopeError(f"contact probabilities must lie in [0, 1], got {finite.min():.3g}..{finite.max():.3g}")
    sym = np.fmax(probs, probs.T)
    sep = np.abs(np.subtract.outer(np.arange(length), np.arange(length)))
    shown = np.where(sep >= min_separation, sym, np.nan)
    iu, ju = np.triu_indices(length, k=max(min_separation, 1))
    score = shown[iu, ju]
    ok = np.isfinite(score)
    n_top = min(max(1, length // 5), int(ok.sum()))
    order = np.argsort(-score[ok], kind="stable")[:n_top]
    top_i, top_j, top_p = iu[ok][order], ju[ok][order], score[ok][order]

    side = min(9.0, max(4.2, 3.0 + length / 60))
    fig = Figure(figsize=(side + 1.0, side), layout="constrained")
    ax = fig.add_subplot()
    extent = (0.5, length + 0.5, length + 0.5, 0.5)
    ax.imshow(np.where(sep < min_separation, 1.0, np.nan), cmap="Greys", vmin=0, vmax=4, extent=extent,
              interpolation="nearest")  # fmt: skip
    image = ax.imshow(np.ma.masked_invalid(100 * shown), cmap="Blues", vmin=0, vmax=100, extent=extent,
                      interpolation="nearest")  # fmt: skip
    ax.scatter(top_i + 1, top_j + 1, s=max(8.0, 3000.0 / length), facecolors="none", edgecolors="tab:red",
               linewidths=0.9, label=f"top L/5 = {n_top} pairs (|i-j| \u2265 {min_separation})")  # fmt: skip
    ax.set_xlim(0.5, length + 0.5)
    ax.set_ylim(length + 0.5, 0.5)
    if length <= 60:
        ticks = np.arange(1, length + 1)
        ax.set_xticks(ticks, [f"{a}\n{k}" if k % 5 == 0 or k == 1 else a for k, a in zip(ticks, sequence)],
                      fontsize=6)  # fmt: skip
        ax.set_yticks(ticks, [f"{k} {a}" if k % 5 == 0 or k == 1 else a for k, a in zip(ticks, sequence)], fontsize=6)
    ax.set_xlabel("residue j (from 1)")
    ax.set_ylabel("residue i (from 1)")
    ax.legend(loc="upper right", fontsize="x-small")
    fig.colorbar(image, ax=ax, shrink=0.8, label="contact probability (%)")
    ax.set_title(title or "predicted contact probability", fontsize="medium")
    out_png = Path(out_png)
    with atomic_path(out_png) as tmp:
        write_figure(fig, tmp, fmt="png", dpi=dpi)
    return {
        "output": str(out_png),
        "length": length,
        "n_top": int(n_top),
        "top_pairs": [(int(i) + 1, int(j) + 1, float(p)) for i, j, p in zip(top_i, top_j, top_p)],
    }
