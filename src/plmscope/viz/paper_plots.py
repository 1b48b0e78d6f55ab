"""Figures of the paper's cross-layer, amino-acid and probing analyses (Vig et al. 2021, Figs. 5, 7, 8)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from plmscope.analysis.features import AMINO_ACID_FEATURES
from plmscope.errors import PlmscopeError

_DIVERGING = "RdBu_r"


def _ticks(n: int, *, most: int = 16) -> list[int]:
    """1-based layer numbers to label: all up to ``most``, otherwise every k-th."""
    step = max(1, int(np.ceil(n / most)))
    return list(range(1, n + 1, step))


def plot_layer_profiles(profiles: pd.DataFrame, gravity: pd.DataFrame, *, title: str | None = None) -> Figure:
    """One panel per feature: mean % attention over the heads of each layer, center of gravity dashed.

    Panels follow the order of ``gravity`` (lowest center first), as in the paper's Fig. 5.

    Args:
        profiles: from :func:`plmscope.analysis.gravity.layer_profiles`.
        gravity: from :func:`plmscope.analysis.gravity.gravity_table`, restricted to the features to draw.
        title: figure title.
    """
    features = [f for f in gravity["feature"] if (profiles["feature"] == f).any()]
    if not features:
        raise PlmscopeError("no feature to draw in the layer profiles")
    num_layers = int(profiles["layer_number"].max())
    fig = Figure(figsize=(4.2, 0.35 + 0.95 * len(features)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(features), 1, sharex=True, squeeze=False)[:, 0])
    centers = gravity.set_index("feature")["center_of_gravity"]
    for ax, feature in zip(axes, features):
        part = profiles[profiles["feature"] == feature].sort_values("layer_number")
        y = 100 * part["mean_proportion"].to_numpy(dtype=float)
        ax.plot(part["layer_number"], y, color="tab:blue", marker=".", markersize=3)
        center = float(centers.get(feature, np.nan))
        if np.isfinite(center):
            ax.axvline(center, color="tab:red", linestyle="--", linewidth=1)
        top = np.nanmax(y) if np.isfinite(y).any() else 1.0
        ax.set_ylim(0, max(top, 1e-6) * 1.08)
        ax.set_ylabel(feature, rotation=0, ha="right", va="center", fontsize=8)
        ax.yaxis.tick_right()
        ax.tick_params(labelsize=7)
    axes[-1].set_xticks(_ticks(num_layers))
    axes[-1].set_xlim(0.5, num_layers + 0.5)
    axes[-1].set_xlabel("layer")
    fig.suptitle(title or "mean % attention per layer (dashed: center of gravity)", fontsize=9)
    return fig


FACET_ABOVE = 6
"""plot_layer_max draws more features than this as small multiples (one panel each) instead of one chart."""


def plot_layer_max(profiles: pd.DataFrame, features: Sequence[str], *, title: str | None = None) -> Figure:
    """The highest head proportion (percent) in each layer, per feature.

    Up to :data:`FACET_ABOVE` features share one chart (one line each); more (e.g. the 20 amino
    acids) are drawn as small multiples, 5 panels a row with shared axes, each titled with its
    feature (the one-letter code for amino acids), so no line hides another.

    Args:
        profiles: from :func:`plmscope.analysis.gravity.layer_profiles` (``layer_number`` 1-based).
        features: features to draw, in this order.
        title: figure title.
    """
    features = [f for f in features if (profiles["feature"] == f).any()]
    if not features:
        raise PlmscopeError("no feature to draw in the per-layer maximum chart")
    num_layers = int(profiles["layer_number"].max())
    name = {f: (f[-1] if f in AMINO_ACID_FEATURES else f) for f in features}
    if len(features) > FACET_ABOVE:
        cols = 5
        rows = -(-len(features) // cols)
        fig = Figure(figsize=(1.9 * cols + 0.6, 1.45 * rows + 0.7), layout="constrained")
        axes = fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False).ravel()
        for ax, feature in zip(axes, features):
            part = profiles[profiles["feature"] == feature].sort_values("layer_number")
            ax.plot(part["layer_number"], 100 * part["max_proportion"].to_numpy(dtype=float), marker=".",
                    markersize=3, color="tab:blue", linewidth=1)  # fmt: skip
            ax.set_title(name[feature], fontsize=8, pad=2)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
        for ax in axes[len(features) :]:
            ax.set_visible(False)
        axes[0].set_xticks(_ticks(num_layers, most=6))
        axes[0].set_xlim(0.5, num_layers + 0.5)
        axes[0].set_ylim(bottom=0)
        fig.supxlabel("layer", fontsize=9)
        fig.supylabel("max % attention over heads", fontsize=9)
        fig.suptitle(title or "per-layer maximum", fontsize=9)
        return fig
    fig = Figure(figsize=(5.0, 3.6), layout="constrained")
    ax = fig.add_subplot()
    for color, feature in zip(_colors(len(features)), features):
        part = profiles[profiles["feature"] == feature].sort_values("layer_number")
        ax.plot(part["layer_number"], 100 * part["max_proportion"].to_numpy(dtype=float), marker=".",
                markersize=4, color=color, label=name[feature])  # fmt: skip
    ax.set_xticks(_ticks(num_layers))
    ax.set_xlim(0.5, num_layers + 0.5)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("layer")
    ax.set_ylabel("max % attention over heads")
    ax.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_title(title or "per-layer maximum", fontsize=9)
    return fig


def _colors(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(k % cmap.N) for k in range(n)]


def plot_blosum(similarity: pd.DataFrame, blosum: pd.DataFrame, r: float, *, title: str | None = None) -> Figure:
    """The attention similarity of amino acids beside BLOSUM62 (paper Fig. 7), Pearson r in the title.

    Args:
        similarity: ``(A, A)`` correlation matrix (NaN diagonal).
        blosum: ``(A, A)`` BLOSUM62 scores of the same amino acids (NaN diagonal).
        r: correlation between their off-diagonal entries.
        title: figure title (r is appended).
    """
    letters = list(similarity.index)
    fig = Figure(figsize=(10.0, 4.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    values = similarity.to_numpy(dtype=float)
    reach = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    for ax, matrix, name, limits in (
        (left, similarity, "attention similarity (Pearson r over heads)", (-reach, reach)),
        (right, blosum.loc[letters, letters], "BLOSUM62", (-4.0, 4.0)),
    ):
        image = ax.imshow(np.ma.masked_invalid(matrix.to_numpy(dtype=float)), cmap=_DIVERGING, vmin=limits[0],
                          vmax=limits[1], interpolation="nearest")  # fmt: skip
        ax.set_xticks(np.arange(len(letters)), letters, fontsize=7)
        ax.set_yticks(np.arange(len(letters)), letters, fontsize=7)
        ax.set_title(name, fontsize=9)
        fig.colorbar(image, ax=ax, shrink=0.8)
    shown = "n/a" if not np.isfinite(r) else f"{r:.2f}"
    fig.suptitle(f"{title + ': ' if title else ''}Pearson r with BLOSUM62 (off-diagonal) = {shown}", fontsize=10)
    return fig


def plot_probing(table: pd.DataFrame, *, title: str | None = None) -> Figure:
    """One panel per probe task, the validation score by layer (paper Fig. 8).

    Embedding probes are drawn in orange (layer 0 = embedding output), attention probes in blue,
    the ``chance`` level (when the table has it) dashed grey.

    Args:
        table: ``probing.csv`` rows (probe, task, layer, metric, score, optionally chance).
        title: figure title.
    """
    if table.empty:
        raise PlmscopeError("no probe results to draw")
    tasks = list(pd.unique(table["task"]))
    fig = Figure(figsize=(2.3 * len(tasks) + 0.4, 2.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(tasks), squeeze=False)[0])
    for ax, task in zip(axes, tasks):
        part = table[table["task"] == task]
        for probe, color in (("embedding", "tab:orange"), ("attention", "tab:blue")):
            rows = part[part["probe"] == probe].sort_values("layer")
            if not rows.empty:
                ax.plot(rows["layer"], rows["score"], marker=".", color=color, label=probe)
        if "chance" in part.columns and part["chance"].notna().any():
            rows = part.sort_values("layer").drop_duplicates("layer")
            ax.plot(rows["layer"], rows["chance"], color="0.5", linestyle="--", linewidth=1, label="chance")
        ax.set_title(task, fontsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("layer (0 = embeddings)" if (part["layer"] == 0).any() else "layer")
        ax.set_ylabel(str(part["metric"].iloc[0]), fontsize=8)
        ax.set_ylim(0, 1)
        ax.tick_params(labelsize=7)
    axes[-1].legend(fontsize="x-small")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
