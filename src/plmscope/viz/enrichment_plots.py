"""Enrichment figures: layer x head heatmaps with per-layer maxima, top-head bar charts, amino-acid summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from plmscope.analysis.features import AMINO_ACID_FEATURES
from plmscope.errors import PlmscopeError

_CMAP = "Blues"
_MASK_HATCH = "////"


def heatmap_matrix(table: pd.DataFrame, feature: str) -> np.ndarray:
    """The proportion of each head for one feature, NaN where masked.

    Args:
        table: the enrichment table (one row per feature, layer, head).
        feature: feature name.

    Returns:
        ``(layers, heads)`` float array, indexed by 0-based layer and head.
    """
    rows = table[table["feature"] == feature]
    if rows.empty:
        raise PlmscopeError(f"enrichment table has no rows for feature {feature!r}")
    num_layers, num_heads = _dims(table)
    matrix = np.full((num_layers, num_heads), np.nan)
    proportion = rows["proportion"].to_numpy(dtype=float, na_value=np.nan)
    values = np.where(rows["masked"].to_numpy(dtype=bool), np.nan, proportion)
    matrix[rows["layer"].to_numpy(dtype=int), rows["head"].to_numpy(dtype=int)] = values
    return matrix


def layer_max(matrix: np.ndarray) -> np.ndarray:
    """Per-layer maximum over heads of a ``(layers, heads)`` matrix; NaN for a fully masked layer."""
    out = np.full(matrix.shape[0], np.nan)
    seen = ~np.isnan(matrix).all(axis=1)
    out[seen] = np.nanmax(matrix[seen], axis=1)
    return out


def plot_heatmap(table: pd.DataFrame, feature: str, *, title: str | None = None) -> tuple[Figure, np.ndarray]:
    """Heatmap of each head's attention proportion (percent) with the per-layer maximum beside it.

    Masked heads are left blank over a grey hatch; layers and heads are labelled 1-based, layer 1
    at the top. The bar chart shares the layer axis; the dashed line marks the background.

    Args:
        table: the enrichment table.
        feature: feature name.
        title: figure title; defaults to the feature name.

    Returns:
        The figure and the plotted ``(layers, heads)`` proportion matrix (fractions, NaN masked).
    """
    matrix = heatmap_matrix(table, feature)
    num_layers, num_heads = matrix.shape
    maxima = layer_max(matrix)
    background = _background(table, feature)

    width = min(14.0, 2.5 + 0.35 * num_heads + 2.0)
    height = min(12.0, 1.5 + 0.28 * num_layers)
    fig = Figure(figsize=(width, height), layout="constrained")
    grid = fig.add_gridspec(1, 3, width_ratios=[max(num_heads, 4), 3, 0.4])
    ax = fig.add_subplot(grid[0])
    bars = fig.add_subplot(grid[1], sharey=ax)
    cax = fig.add_subplot(grid[2])

    extent = (-0.5, num_heads - 0.5, num_layers - 0.5, -0.5)
    ax.add_patch(
        Rectangle((-0.5, -0.5), num_heads, num_layers, facecolor="white", edgecolor="0.75",
                  hatch=_MASK_HATCH, linewidth=0, zorder=0)
    )  # fmt: skip
    percent = np.ma.masked_invalid(100 * matrix)
    vmax = 100 * np.nanmax(matrix) if np.isfinite(matrix).any() else 1.0
    image = ax.imshow(percent, cmap=_CMAP, vmin=0, vmax=max(vmax, 1e-9), aspect="auto", extent=extent,
                      interpolation="nearest", zorder=1)  # fmt: skip
    ax.set_xlim(-0.5, num_heads - 0.5)
    ax.set_ylim(num_layers - 0.5, -0.5)
    ax.set_xticks(_ticks(num_heads), [str(k + 1) for k in _ticks(num_heads)])
    ax.set_yticks(_ticks(num_layers), [str(k + 1) for k in _ticks(num_layers)])
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    fig.colorbar(image, cax=cax, label="% attention")

    shown = np.nan_to_num(100 * maxima, nan=0.0)
    bars.barh(np.arange(num_layers), shown, height=0.8, color="tab:blue")
    if np.isfinite(background):
        bars.axvline(100 * background, color="k", linestyle="--", linewidth=1, label="background")
        bars.legend(loc="best", fontsize="small")
    bars.set_xlabel("max % per layer")
    bars.tick_params(axis="y", labelleft=False)
    bars.set_xlim(0, max(float(shown.max()), 100 * background if np.isfinite(background) else 0.0, 1e-9) * 1.05)
    fig.suptitle(title or feature)
    return fig, matrix


def plot_top_heads(
    table: pd.DataFrame, feature: str, *, top_k: int = 10, title: str | None = None
) -> tuple[Figure, pd.DataFrame]:
    """Bar chart of the ``top_k`` heads by proportion, with confidence intervals and the background.

    Args:
        table: the enrichment table.
        feature: feature name.
        top_k: heads shown.
        title: figure title; defaults to the feature name.

    Returns:
        The figure and the plotted rows (label, proportion, ci_low, ci_high), best head first.
    """
    rows = table[(table["feature"] == feature)]
    if rows.empty:
        raise PlmscopeError(f"enrichment table has no rows for feature {feature!r}")
    top = rows[~rows["masked"].astype(bool)].sort_values("rank").head(top_k)
    top = top[["label", "layer", "head", "proportion", "ci_low", "ci_high"]].reset_index(drop=True)
    background = _background(table, feature)

    fig = Figure(figsize=(max(4.0, 1.0 + 0.55 * max(len(top), 1)), 3.6), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(top))
    if len(top):
        p = 100 * top["proportion"].to_numpy(dtype=float)
        err = np.vstack([p - 100 * top["ci_low"].to_numpy(dtype=float), 100 * top["ci_high"].to_numpy(dtype=float) - p])
        ax.bar(x, p, color="tab:blue", yerr=np.clip(err, 0, None), capsize=3, ecolor="0.2", label="head")
        ax.set_xticks(x, top["label"].tolist(), rotation=45 if len(top) > 8 else 0)
    else:
        reason = "no head has enough attention" if np.isfinite(background) else "no protein carries this annotation"
        ax.text(0.5, 0.5, reason, transform=ax.transAxes, ha="center", va="center")
        ax.set_xticks([])
    if np.isfinite(background):
        ax.axhline(100 * background, color="k", linestyle="--", linewidth=1, label="background")
    ax.set_xlabel("head (layer-head)")
    ax.set_ylabel("% attention")
    ax.set_ylim(bottom=0)
    if len(top) or np.isfinite(background):
        ax.legend(fontsize="small")
    ax.set_title(title or f"{feature}: top heads")
    return fig, top


def amino_acid_matrix(table: pd.DataFrame) -> pd.DataFrame:
    """Max proportion per layer for each amino-acid feature present.

    Returns:
        A DataFrame, index the one-letter codes, columns the 1-based layers, NaN for a layer
        whose heads are all masked.
    """
    present = [f for f in AMINO_ACID_FEATURES if (table["feature"] == f).any()]
    if not present:
        raise PlmscopeError("enrichment table has no amino-acid features")
    num_layers, _ = _dims(table)
    data = np.vstack([layer_max(heatmap_matrix(table, f)) for f in present])
    return pd.DataFrame(data, index=[f[-1] for f in present], columns=list(range(1, num_layers + 1)))


def plot_amino_acids(table: pd.DataFrame, *, title: str | None = None) -> tuple[Figure, pd.DataFrame]:
    """Heatmap of the max attention proportion per layer (columns) for each amino acid (rows).

    Returns:
        The figure and the plotted matrix (fractions) from :func:`amino_acid_matrix`.
    """
    matrix = amino_acid_matrix(table)
    values = matrix.to_numpy(dtype=float)
    n_aa, num_layers = values.shape
    fig = Figure(figsize=(min(14.0, 2.5 + 0.3 * num_layers), 1.2 + 0.25 * n_aa), layout="constrained")
    ax = fig.add_subplot()
    ax.add_patch(
        Rectangle((-0.5, -0.5), num_layers, n_aa, facecolor="white", edgecolor="0.75", hatch=_MASK_HATCH,
                  linewidth=0, zorder=0)
    )  # fmt: skip
    vmax = 100 * np.nanmax(values) if np.isfinite(values).any() else 1.0
    image = ax.imshow(np.ma.masked_invalid(100 * values), cmap=_CMAP, vmin=0, vmax=max(vmax, 1e-9), aspect="auto",
                      interpolation="nearest", zorder=1)  # fmt: skip
    ax.set_yticks(np.arange(n_aa), matrix.index.tolist())
    ax.set_xticks(_ticks(num_layers), [str(k + 1) for k in _ticks(num_layers)])
    ax.set_xlabel("layer")
    ax.set_ylabel("amino acid (attended to)")
    fig.colorbar(image, ax=ax, label="max % attention in layer")
    ax.set_title(title or "amino acids: max attention per layer")
    return fig, matrix


def _dims(table: pd.DataFrame) -> tuple[int, int]:
    """Number of layers and heads covered by the table."""
    return int(table["layer"].max()) + 1, int(table["head"].max()) + 1


def _background(table: pd.DataFrame, feature: str) -> float:
    """The background frequency recorded for a feature (NaN when unknown)."""
    values = table.loc[table["feature"] == feature, "background"].to_numpy(dtype=float, na_value=np.nan)
    return float(values[0]) if len(values) else float("nan")


def _ticks(n: int, *, most: int = 20) -> list[int]:
    """0-based tick positions: all of them up to ``most``, otherwise every k-th."""
    step = max(1, int(np.ceil(n / most)))
    return list(range(0, n, step))
