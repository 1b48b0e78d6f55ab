"""Epistasis figures: energy by interaction order, pair-energy heatmaps, the sparsity-ruggedness plane, predictions."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from plmscope.errors import PlmscopeError

METHOD_COLOURS: dict[str, str] = {"qsft": "tab:blue", "lasso": "tab:orange", "ridge": "tab:green", "exact": "0.35"}
"""Colour of each Fourier method (others cycle through tab10)."""

METHOD_MARKERS: dict[str, str] = {"qsft": "o", "lasso": "s", "ridge": "^", "exact": "*"}
"""Marker of each method in the sparsity-ruggedness plane."""


def _colours(methods: Sequence[str]) -> dict[str, str]:
    palette = iter(f"C{k}" for k in range(3, 10))
    return {m: METHOD_COLOURS.get(m) or next(palette) for m in methods}


def _require(table: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise PlmscopeError(f"{what} table lacks columns {missing}")
    if table.empty:
        raise PlmscopeError(f"{what} table is empty")


def plot_energy_by_order(energy: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Share of the variance (%) at each interaction order, one panel per site set, one bar per method.

    Args:
        energy: long table with columns ``site_set``, ``method``, ``order`` (>= 1) and
            ``fraction`` (energy of that order / variance).
        title: figure title.

    Returns:
        The figure.

    Raises:
        PlmscopeError: a column is missing or the table is empty.
    """
    _require(energy, ("site_set", "method", "interaction_order", "fraction"), "energy-per-order")
    rows = energy[energy["interaction_order"] >= 1]
    sets = list(pd.unique(rows["site_set"]))
    methods = list(pd.unique(rows["method"]))
    colours = _colours(methods)
    fig = Figure(figsize=(max(4.0, 3.6 * len(sets)), 3.4), layout="constrained")
    axes = fig.subplots(1, len(sets), sharey=True, squeeze=False)[0]
    width = 0.8 / max(len(methods), 1)
    for ax, site_set in zip(axes, sets):
        sub = rows[rows["site_set"] == site_set]
        orders = np.arange(1, int(sub["interaction_order"].max()) + 1)
        for k, method in enumerate(methods):
            values = sub[sub["method"] == method].set_index("interaction_order")["fraction"]
            heights = [100 * float(values.get(o, 0.0)) for o in orders]
            ax.bar(orders + (k - (len(methods) - 1) / 2) * width, heights, width=width, color=colours[method],
                   label=method)  # fmt: skip
        ax.set_xticks(orders)
        ax.set_xlabel("interaction order")
        ax.set_title(str(site_set))
    axes[0].set_ylabel("% of variance")
    axes[0].set_ylim(0, 105)
    axes[-1].legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def plot_pair_energy(
    matrices: Mapping[str, np.ndarray], labels: Sequence[str], *, title: str | None = None
) -> Figure:
    """Heatmaps of the pairwise interaction energy (% of variance) between sites, one panel per method, one colour scale.

    Args:
        matrices: method -> ``(n, n)`` symmetric matrix with zero diagonal (e.g.
            :func:`plmscope.fourier.metrics.pair_energy` divided by the variance).
        labels: ``n`` site labels such as ``"K12"``.
        title: figure title.

    Returns:
        The figure.

    Raises:
        PlmscopeError: no matrices, or a matrix that is not ``(n, n)`` for the labels.
    """
    if not matrices:
        raise PlmscopeError("pair energy: no matrices to draw")
    n = len(labels)
    arrays = {}
    for method, matrix in matrices.items():
        matrix = np.asarray(matrix, dtype=float)
        if matrix.shape != (n, n):
            raise PlmscopeError(f"pair energy: {method} needs an ({n}, {n}) matrix for {n} labels, got {matrix.shape}")
        arrays[method] = 100 * matrix
    top = max(float(np.nanmax(m)) if m.size else 0.0 for m in arrays.values()) or 1.0
    side = 1.0 + 0.4 * n
    fig = Figure(figsize=(side * len(arrays) + 1.2, side + 0.9), layout="constrained")
    axes = fig.subplots(1, len(arrays), squeeze=False)[0]
    for ax, (method, matrix) in zip(axes, arrays.items()):
        image = ax.imshow(matrix, cmap="viridis", vmin=0, vmax=top)
        ax.set_xticks(range(n), list(labels), rotation=90)
        ax.set_yticks(range(n), list(labels))
        ax.set_title(method)
    fig.colorbar(image, ax=list(axes), label="pairwise energy, % of variance")
    if title:
        fig.suptitle(title)
    return fig


def plot_sparsity_ruggedness(spectrum: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Every (site set, method) as a point at (ruggedness E[k], sparsity S5 in %).

    The points of one site set are joined by a faint line and labelled once, labels placed
    without overlapping each other or the markers (site sets at the same place share a label).

    Args:
        spectrum: table with columns ``site_set``, ``method``, ``ruggedness`` and ``s5``.
        title: axes title.

    Returns:
        The figure.

    Raises:
        PlmscopeError: a column is missing or the table is empty.
    """
    _require(spectrum, ("site_set", "method", "ruggedness", "s5"), "spectrum")
    methods = list(pd.unique(spectrum["method"]))
    colours = _colours(methods)
    fig = Figure(figsize=(5.4, 4.2), layout="constrained")
    ax = fig.subplots()
    for method in methods:
        sub = spectrum[spectrum["method"] == method]
        ax.scatter(sub["ruggedness"], 100 * sub["s5"].astype(float), color=colours[method],
                   marker=METHOD_MARKERS.get(method, "o"), s=50, label=method, zorder=3, alpha=0.85)  # fmt: skip
    ax.set_xlabel("ruggedness E[k] (energy-weighted mean order)")
    ax.set_ylabel("sparsity S5 (% of low-order coefficients that are large)")
    ax.set_xlim(left=min(1.0, float(np.nanmin(spectrum["ruggedness"])) - 0.05) if len(spectrum) else 1.0)
    top = float(np.nanmax(100 * spectrum["s5"].to_numpy(float))) if len(spectrum) else 0.0
    ax.set_ylim(0, max(top, 1e-3) * 1.25)  # headroom for labels above the highest point
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="lower left")
    if title:
        ax.set_title(title, fontsize="medium")
    # One label per site set, at the mean of its methods' points, which a faint line joins.
    anchors = []
    for site_set, sub in spectrum.groupby("site_set", sort=False):
        x, y = sub["ruggedness"].to_numpy(float), 100 * sub["s5"].to_numpy(float)
        if len(sub) > 1:
            order = np.argsort(x, kind="stable")
            ax.plot(x[order], y[order], color="0.6", linewidth=0.7, zorder=2)
        anchors.append((float(np.nanmean(x)), float(np.nanmean(y)), str(site_set)))
    _place_labels(ax, *(np.array([a[k] for a in anchors]) for k in (0, 1)), [a[2] for a in anchors])
    return fig


_LABEL_OFFSETS = [(6, 4), (6, -10), (-6, 4), (-6, -10), (0, 9), (0, -14), (12, 12), (12, -18), (-12, 12),
                  (-12, -18), (0, 20), (0, -24), (20, 0), (-20, 0), (0, 32), (0, -36)]  # fmt: skip
"""Candidate label positions (points) around a marker, tried in order."""


def _place_labels(ax, x: np.ndarray, y: np.ndarray, labels: Sequence[str]) -> None:
    """Label each distinct point of a scatter without overlaps.

    Labels of points drawn at the same place are joined (``"a, b"``); each label takes the first
    offset of :data:`_LABEL_OFFSETS` whose text box overlaps no placed label, no marker and stays
    inside the axes (the first offset when none is free).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = ax.figure
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()  # fixes the layout, so that display coordinates are final
    renderer = fig.canvas.get_renderer()
    groups: dict[tuple[float, float], list[str]] = {}
    for xi, yi, label in zip(x, y, labels):
        if np.isfinite(xi) and np.isfinite(yi):
            names = groups.setdefault((round(float(xi), 6), round(float(yi), 6)), [])
            if label not in names:
                names.append(label)
    points = ax.transData.transform(np.array(list(groups), dtype=float).reshape(-1, 2))
    frame = ax.get_window_extent(renderer)
    radius = 6.0 * fig.dpi / 72  # half a marker (s=50 -> about 7 pt wide)
    taken: list = []
    from matplotlib.transforms import Bbox

    drawn = np.vstack([c.get_offsets() for c in ax.collections]) if ax.collections else np.empty((0, 2))
    markers = [Bbox.from_extents(px - radius, py - radius, px + radius, py + radius)
               for px, py in ax.transData.transform(drawn)]  # fmt: skip
    for ((xi, yi), names), (px, py) in zip(groups.items(), points):
        text = ", ".join(names)
        choice = None
        for dx, dy in _LABEL_OFFSETS:
            annotation = ax.annotate(text, (xi, yi), xytext=(dx, dy), textcoords="offset points",
                                     fontsize="x-small", ha="left" if dx > 0 else "right" if dx < 0 else "center")
            box = annotation.get_window_extent(renderer)
            free = frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1)
            free = free and not any(box.overlaps(b) for b in taken) and not any(box.overlaps(m) for m in markers)
            if free:
                choice = (annotation, box)
                break
            annotation.remove()
        if choice is None:
            annotation = ax.annotate(text, (xi, yi), xytext=_LABEL_OFFSETS[0], textcoords="offset points",
                                     fontsize="x-small")  # fmt: skip
            choice = (annotation, annotation.get_window_extent(renderer))
        taken.append(choice[1])


def plot_predicted_vs_true(
    predictions: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    scores: Mapping[str, str] | None = None,
    title: str | None = None,
) -> Figure:
    """Predicted against true scores on a test set, one panel per method.

    Args:
        predictions: method -> ``(y_true (m,), y_pred (m,))``.
        scores: method -> text written in the panel (e.g. ``"R² 0.81 [0.78, 0.84]"``).
        title: figure title.

    Returns:
        The figure.

    Raises:
        PlmscopeError: no predictions, or arrays of different lengths.
    """
    if not predictions:
        raise PlmscopeError("predicted vs true: no predictions to draw")
    scores = dict(scores or {})
    colours = _colours(list(predictions))
    fig = Figure(figsize=(3.4 * len(predictions), 3.4), layout="constrained")
    axes = fig.subplots(1, len(predictions), squeeze=False)[0]
    for ax, (method, (y_true, y_pred)) in zip(axes, predictions.items()):
        y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
        if y_true.shape != y_pred.shape:
            raise PlmscopeError(
                f"predicted vs true: {method} has {y_true.shape} true and {y_pred.shape} predicted values"
            )
        ax.scatter(y_true, y_pred, s=6, alpha=0.5, color=colours[method], linewidths=0)
        if y_true.size:
            lo = float(min(y_true.min(), y_pred.min()))
            hi = float(max(y_true.max(), y_pred.max()))
            ax.plot([lo, hi], [lo, hi], color="0.4", lw=0.8, ls="--")
        ax.set_xlabel("model score (mutant - wild type)")
        ax.set_title(method)
        if method in scores:
            ax.text(0.03, 0.97, scores[method], transform=ax.transAxes, va="top", fontsize="small")
    axes[0].set_ylabel("Fourier prediction")
    if title:
        fig.suptitle(title)
    return fig


def plot_budget_curve(curve: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Held-out R² against queries, one panel per test set, one line (with its CI band) per method.

    Args:
        curve: table from :func:`plmscope.fourier.budget_curve.budget_curve` (columns ``method``,
            ``queries``, ``test_set``, ``r2``, ``r2_lo``, ``r2_hi``; rows without R² are skipped).
        title: figure title.

    Returns:
        The figure.

    Raises:
        PlmscopeError: missing columns or no scored rows.
    """
    _require(curve, ["method", "queries", "test_set", "r2", "r2_lo", "r2_hi"], "budget curve")
    scored = curve.dropna(subset=["r2"])
    if scored.empty:
        raise PlmscopeError("budget curve table has no scored rows")
    tests = list(dict.fromkeys(scored["test_set"]))
    methods = list(dict.fromkeys(scored["method"]))
    colours = _colours(methods)
    fig = Figure(figsize=(3.6 * len(tests), 3.4), layout="constrained")
    axes = fig.subplots(1, len(tests), squeeze=False, sharey=True)[0]
    for ax, test in zip(axes, tests):
        part = scored[scored["test_set"] == test]
        for method in methods:
            line = part[part["method"] == method].sort_values("queries")
            if line.empty:
                continue
            x = line["queries"].to_numpy(float)
            ax.plot(x, line["r2"], marker=METHOD_MARKERS.get(method, "o"), ms=4, color=colours[method], label=method)
            ax.fill_between(x, line["r2_lo"], line["r2_hi"], color=colours[method], alpha=0.2, linewidth=0)
        ax.set_xscale("log")
        ax.set_xlabel("queries")
        ax.set_title(test)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("held-out R²")
    axes[-1].legend(fontsize="small", loc="lower right")
    if title:
        fig.suptitle(title)
    return fig
