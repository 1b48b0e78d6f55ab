"""Null-model figures: top heads under real / random-weights / shuffled inputs, and the threshold sweep."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from plmscope.errors import PlmscopeError

CONDITION_STYLE: dict[str, dict] = {
    "real": {"color": "tab:blue", "label": "pretrained"},
    "random_weights": {"color": "tab:red", "label": "random weights"},
    "shuffled": {"color": "tab:green", "label": "shuffled sequences"},
}
"""Colour and legend text of each condition."""


def _head_label(rows: pd.DataFrame) -> str:
    """1-based ``"layer-head"`` of the first row (from ``layer``/``head`` when present, else ``label``)."""
    if {"layer", "head"} <= set(rows.columns) and pd.notna(rows["layer"].iloc[0]) and pd.notna(rows["head"].iloc[0]):
        return f"{int(rows['layer'].iloc[0]) + 1}-{int(rows['head'].iloc[0]) + 1}"
    return str(rows["label"].iloc[0]) if "label" in rows.columns else "?"


def _figure_legend(fig: Figure, axes: Sequence) -> None:
    """One legend for the figure with every labelled artist actually drawn in any panel (no duplicates)."""
    handles: dict[str, object] = {}
    for ax in axes:
        if not ax.get_visible():
            continue
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if not label.startswith("_"):
                handles.setdefault(label, handle)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncol=min(len(handles), 4),
                   fontsize="small", frameon=False)  # fmt: skip


def _note(ax, lines: list[str]) -> None:
    """Write what was not drawn in a panel (e.g. a condition without thresholded attention)."""
    if lines:
        low, high = ax.get_ylim()
        ax.set_ylim(low, low + 1.18 * (high - low))  # headroom so the note does not cover data
        ax.text(0.98, 0.97, "\n".join(lines), transform=ax.transAxes, ha="right", va="top", fontsize="x-small",
                color="0.35")  # fmt: skip


def _grid(n: int, *, width: float, height: float) -> tuple[Figure, np.ndarray]:
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False).ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes


def plot_null_models(
    table: pd.DataFrame,
    *,
    features: Sequence[str] | None = None,
    conditions: Sequence[str] = ("real", "random_weights", "shuffled"),
    title: str | None = None,
) -> Figure:
    """Per feature, grouped bars of the real model's top heads under each condition, with bootstrap CIs.

    Args:
        table: the wide null-model table (feature, rank, label, background and, per condition c,
            ``proportion_c``, ``ci_low_c``, ``ci_high_c``).
        features: panels to draw, in order (default: every feature of the table).
        conditions: bar groups, in order.
        title: figure title.

    Returns:
        The figure (% attention; heads labelled 1-based ``layer-head``); a condition without
        thresholded attention is named in a note in the panel, not drawn and not in the legend.

    Raises:
        PlmscopeError: the table lacks a needed column or has no row for the features.
    """
    needed = ["feature", "rank", "label", "background", *(f"proportion_{c}" for c in conditions)]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise PlmscopeError(f"null-model table lacks columns {missing}")
    features = list(pd.unique(table["feature"])) if features is None else list(features)
    features = [f for f in features if (table["feature"] == f).any()]
    if not features:
        raise PlmscopeError("null-model table has no rows for the requested features")
    fig, axes = _grid(len(features), width=4.2, height=3.2)
    width = 0.8 / len(conditions)
    for ax, feature in zip(axes, features):
        rows = table[table["feature"] == feature].sort_values("rank")
        x = np.arange(len(rows))
        missing = []
        for n, condition in enumerate(conditions):
            style = CONDITION_STYLE.get(condition, {"color": f"C{n}", "label": condition})
            value = 100 * rows[f"proportion_{condition}"].to_numpy(dtype=float, na_value=np.nan)
            offset = x + (n - (len(conditions) - 1) / 2) * width
            drawn = np.isfinite(value)
            if not drawn.any():  # nothing to draw: say so in the panel, not in the legend
                missing.append(f"{style['label']}: no weight >= threshold")
                continue
            ax.bar(offset[drawn], value[drawn], width=width, color=style["color"], label=style["label"])
            low, high = f"ci_low_{condition}", f"ci_high_{condition}"
            if low in rows.columns and high in rows.columns:
                lo = 100 * rows[low].to_numpy(dtype=float, na_value=np.nan)
                hi = 100 * rows[high].to_numpy(dtype=float, na_value=np.nan)
                ok = np.isfinite(lo) & np.isfinite(hi) & drawn
                err = np.vstack([np.clip(value - lo, 0, None), np.clip(hi - value, 0, None)])[:, ok]
                ax.errorbar(offset[ok], value[ok], yerr=err, fmt="none", ecolor="k", elinewidth=0.8, capsize=2)
        background = float(rows["background"].iloc[0]) if len(rows) else np.nan
        if np.isfinite(background):
            ax.axhline(100 * background, color="k", linestyle="--", linewidth=1, label="background")
        ax.set_xticks(x, [_head_label(rows.iloc[[k]]) for k in range(len(rows))], rotation=45, fontsize="small")
        ax.set_title(feature)
        ax.set_xlabel("top heads of the pretrained model (layer-head)")
        ax.set_ylabel("% attention")
        ax.set_ylim(bottom=0)
        _note(ax, missing)
    _figure_legend(fig, axes)
    if title:
        fig.suptitle(title)
    return fig


def plot_threshold_sweep(
    sweep: pd.DataFrame,
    *,
    features: Sequence[str] | None = None,
    conditions: Sequence[str] = ("real", "random_weights", "shuffled"),
    title: str | None = None,
) -> Figure:
    """Per feature, the proportion of the real model's best head against the attention threshold.

    Args:
        sweep: the long sweep table (condition, threshold, feature, rank, proportion, background).
        features: panels (default: every feature of the table).
        conditions: one line per condition.
        title: figure title.

    Returns:
        The figure (% attention); panels are titled with the real model's rank-1 head (1-based
        ``layer-head``); thresholds where a condition has no thresholded attention leave gaps, and
        a condition with none at any threshold is named in a note instead of the legend.
    """
    needed = ["condition", "threshold", "feature", "rank", "proportion", "background"]
    missing = [c for c in needed if c not in sweep.columns]
    if missing:
        raise PlmscopeError(f"threshold-sweep table lacks columns {missing}")
    top = sweep[sweep["rank"] == 1]
    features = list(pd.unique(top["feature"])) if features is None else list(features)
    features = [f for f in features if (top["feature"] == f).any()]
    if not features:
        raise PlmscopeError("threshold-sweep table has no rank-1 head for the requested features")
    fig, axes = _grid(len(features), width=3.6, height=2.8)
    for ax, feature in zip(axes, features):
        rows = top[top["feature"] == feature]
        missing = []
        for n, condition in enumerate(conditions):
            style = CONDITION_STYLE.get(condition, {"color": f"C{n}", "label": condition})
            line = rows[rows["condition"] == condition].sort_values("threshold")
            value = 100 * line["proportion"].to_numpy(dtype=float, na_value=np.nan)
            if not np.isfinite(value).any():  # nothing to draw: say so in the panel, not in the legend
                missing.append(f"{style['label']}: no weight >= threshold")
                continue
            ax.plot(line["threshold"], value, marker="o", color=style["color"], label=style["label"])
        background = float(rows["background"].iloc[0])
        if np.isfinite(background):
            ax.axhline(100 * background, color="k", linestyle="--", linewidth=1, label="background")
        ax.set_title(f"{feature} (head {_head_label(rows)})")
        ax.set_xlabel("attention threshold")
        ax.set_ylabel("% attention")
        ax.set_ylim(bottom=0)
        _note(ax, missing)
    _figure_legend(fig, axes)
    if title:
        fig.suptitle(title)
    return fig
