"""Enrichment figures: layer x head heatmaps with per-layer maxima, top-head bar charts, amino-acid summary."""

from __future__ import annotations

import logging
from typing import Iterable

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from plmscope.analysis.features import AMINO_ACID_FEATURES
from plmscope.errors import PlmscopeError

log = logging.getLogger(__name__)

_CMAP = "Blues"
_MASK_HATCH = "////"
MASKED_LABEL = "masked (too few thresholded weights)"
"""Legend text of the hatch drawn under masked heads."""


class NothingToDraw(PlmscopeError):
    """A feature has no unmasked head (or no annotated protein): its figures would be empty.

    The message is the one-line note a report shows instead of the figure.
    """


def skip_reason(table: pd.DataFrame, feature: str) -> str | None:
    """Why a feature's figures would be empty, as a one-line note; None when there is something to draw.

    Args:
        table: the enrichment table.
        feature: feature name.

    Returns:
        ``"<feature>: no protein carries this annotation ..."`` when no residue pair is annotated
        (background NaN or 0), ``"<feature>: every head is masked ..."`` when no head reached the
        minimum count, else None.
    """
    rows = table[table["feature"] == feature]
    if rows.empty:
        raise PlmscopeError(f"enrichment table has no rows for feature {feature!r}")
    background = _background(table, feature)
    if not np.isfinite(background) or background <= 0:
        return f"{feature}: no protein carries this annotation; no figure drawn"
    if rows["masked"].astype(bool).all():
        return f"{feature}: every head is masked (too few thresholded weights); no figure drawn"
    return None


def _mask_patch() -> Patch:
    """The legend entry for the hatch drawn under masked cells."""
    return Patch(facecolor="white", edgecolor="0.55", hatch=_MASK_HATCH, label=MASKED_LABEL)


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

    Raises:
        NothingToDraw: every head is masked or no protein is annotated (see :func:`skip_reason`).
    """
    reason = skip_reason(table, feature)
    if reason:
        raise NothingToDraw(reason)
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
    if np.isnan(matrix).any():
        fig.legend(handles=[_mask_patch()], loc="outside lower left", fontsize="small", frameon=False)

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

    Raises:
        NothingToDraw: every head is masked or no protein is annotated (see :func:`skip_reason`).
    """
    rows = table[(table["feature"] == feature)]
    if rows.empty:
        raise PlmscopeError(f"enrichment table has no rows for feature {feature!r}")
    reason = skip_reason(table, feature)
    if reason:
        raise NothingToDraw(reason)
    top = rows[~rows["masked"].astype(bool)].sort_values("rank").head(top_k)
    top = top[["label", "layer", "head", "proportion", "ci_low", "ci_high"]].reset_index(drop=True)
    background = _background(table, feature)

    fig = Figure(figsize=(max(4.0, 1.0 + 0.55 * max(len(top), 1)), 3.6), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(top))
    p = 100 * top["proportion"].to_numpy(dtype=float)
    err = np.vstack([p - 100 * top["ci_low"].to_numpy(dtype=float), 100 * top["ci_high"].to_numpy(dtype=float) - p])
    ax.bar(x, p, color="tab:blue", yerr=np.clip(err, 0, None), capsize=3, ecolor="0.2", label="head (95% CI)")
    ax.set_xticks(x, [f"{layer + 1}-{head + 1}" for layer, head in zip(top["layer"], top["head"])],
                  rotation=45 if len(top) > 8 else 0)  # fmt: skip
    ax.axhline(100 * background, color="k", linestyle="--", linewidth=1, label="background")
    ax.set_xlabel("head (layer-head, from 1)")
    ax.set_ylabel("% attention")
    ax.set_ylim(bottom=0)
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
    fig = Figure(figsize=(min(14.0, 2.5 + 0.3 * num_layers), max(2.6, 1.4 + 0.25 * n_aa)), layout="constrained")
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
    if np.isnan(values).any():
        fig.legend(handles=[_mask_patch()], loc="outside lower left", fontsize="small", frameon=False)
    ax.set_title(title or "amino acids: max attention per layer")
    return fig, matrix


def enrichment_figures(
    table: pd.DataFrame,
    features: Iterable[str],
    *,
    top_k: int = 10,
    title_prefix: str = "",
) -> tuple[list[tuple[str, Figure]], dict[str, str]]:
    """The enrichment figures of several features, leaving out those with nothing to draw.

    Per feature with an unmasked head: ``<feature>_heatmap`` and ``<feature>_top_heads``; plus
    ``amino_acids_heatmap`` when amino-acid features with something to draw are among them. A
    feature whose heads are all masked, or that no protein carries (e.g. PTM on the demo), gets no
    figure but a one-line note, also logged at INFO.

    Args:
        table: the enrichment table.
        features: features to draw, in order.
        top_k: heads in the top-heads charts.
        title_prefix: put before every title (e.g. ``"esm2_t6_8M_UR50D: "``).

    Returns:
        ``(figures, skipped)``: ``[(file stem, Figure), ...]`` and ``{feature: note}`` for the
        features left out.
    """
    figures: list[tuple[str, Figure]] = []
    skipped: dict[str, str] = {}
    drawn: list[str] = []
    for feature in features:
        reason = skip_reason(table, feature)
        if reason:
            skipped[feature] = reason
            log.info("%s", reason)
            continue
        drawn.append(feature)
        figures.append((f"{feature}_heatmap", plot_heatmap(table, feature, title=f"{title_prefix}{feature}")[0]))
        top_fig, _ = plot_top_heads(table, feature, top_k=top_k, title=f"{title_prefix}{feature}: top heads")
        figures.append((f"{feature}_top_heads", top_fig))
    amino = [f for f in drawn if f in AMINO_ACID_FEATURES]
    if amino:
        title = f"{title_prefix}amino acids: max attention per layer"
        figures.append(("amino_acids_heatmap", plot_amino_acids(table[table["feature"].isin(amino)], title=title)[0]))
    return figures, skipped


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
