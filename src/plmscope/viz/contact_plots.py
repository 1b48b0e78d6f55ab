"""Contact-prediction figures: precision by separation range, and predicted vs true contact maps."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from plmscope.analysis.contact_prediction import TOP_K, TopK, top_count
from plmscope.errors import PlmscopeError

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
        summary: the contact-prediction table (method, range, k, precision, n_proteins).
        ranges: ranges on the x axis, in order.
        labels: legend text per method (default: the method name).
        title: figure title.

    Returns:
        The figure; bar heights are the table's precisions (missing values drawn as 0).

    Raises:
        PlmscopeError: the table lacks a column or has no row for the ranges.
    """
    missing = [c for c in ("method", "range", "k", "precision") if c not in summary.columns]
    if missing:
        raise PlmscopeError(f"contact-prediction table lacks columns {missing}")
    rows = summary[summary["range"].isin(ranges)]
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
            sub = rows[(rows["method"] == method) & (rows["k"] == k)].set_index("range")
            heights = [float(sub["precision"].get(r, np.nan)) for r in ranges]
            ax.bar(x + (n - (len(methods) - 1) / 2) * width, np.nan_to_num(heights), width=width,
                   color=colours[method], label=labels.get(method, method))  # fmt: skip
        ax.set_xticks(x, list(ranges))
        ax.set_title(f"top {k}")
        ax.set_xlabel("sequence separation")
    top = np.nanmax(rows["precision"].to_numpy(dtype=float, na_value=np.nan), initial=0.0)
    axes[0].set_ylim(0, min(1.0, max(0.05, 1.15 * top)))
    axes[0].set_ylabel("mean precision")
    axes[-1].legend(loc="upper right", fontsize="small")
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
        The figure and, per method, its top pairs ``(i, j, correct)`` (best first).
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
    ax.scatter(j[true], i[true], **grey)
    ax.scatter(i[true], j[true], **grey)
    tops = {}
    handles = [Line2D([], [], marker="s", linestyle="", color="0.75", label="true contact")]
    for n, (method, scores) in enumerate(predictions.items()):
        scores = np.asarray(scores, dtype=np.float64)
        if scores.shape != labels.shape:
            raise PlmscopeError(f"plot_contact_map: {method} has {scores.shape} scores for {labels.shape} pairs")
        top = known[np.argsort(-scores[known], kind="stable")[:n_top]]
        correct = labels[top] == 1
        tops[method] = (i[top], j[top], correct)
        x, y = (j[top], i[top]) if n == 0 else (i[top], j[top])  # first method above the diagonal
        ax.scatter(x[correct], y[correct], marker="o", s=10, color="tab:blue", linewidths=0)
        ax.scatter(x[~correct], y[~correct], marker="x", s=10, color="tab:red", linewidths=0.8)
        where = "upper" if n == 0 else "lower"
        precision = correct.mean() if len(correct) else np.nan
        handles.append(Line2D([], [], linestyle="", label=f"{where}: {method} top {k} (precision {precision:.2f})"))
    handles += [
        Line2D([], [], marker="o", linestyle="", color="tab:blue", label="predicted, correct"),
        Line2D([], [], marker="x", linestyle="", color="tab:red", label="predicted, wrong"),
    ]
    ax.plot([0, length - 1], [0, length - 1], color="0.85", linewidth=0.8)
    ax.set_xlim(-0.5, length - 0.5)
    ax.set_ylim(length - 0.5, -0.5)
    ax.set_aspect("equal")
    ax.set_xlabel("residue j")
    ax.set_ylabel("residue i")
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize="x-small", ncol=1)
    if title:
        ax.set_title(title)
    return fig, tops
