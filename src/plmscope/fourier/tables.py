"""Tables of a recovered spectrum: wild-type-anchored interactions, energy per order and pair, prediction metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from plmscope.errors import located
from plmscope.fourier import metrics
from plmscope.fourier.coefficients import FourierCoefficients
from plmscope.fourier.landscape_spec import LandscapeSpec


def interaction_table(
    coefficients: FourierCoefficients, spec: LandscapeSpec, *, max_order: int, top_k: int
) -> pd.DataFrame:
    """Amino-acid interactions of a Fourier model, anchored at the wild type, ranked by magnitude.

    For a site set S and mutant residues a at S, the interaction is the mixed difference
    ``e_S(a) = sum_{T subset of S} (-1)^{|S|-|T|} f(a_T)``, where ``a_T`` carries the mutations of T on
    the wild type (order 1: the single-mutant effect; order 2: ``f(ab) - f(a) - f(b) + f(wt)``).
    Only site sets inside the support of some coefficient can be nonzero; their dense tables
    come from one small inverse FFT per set.

    Args:
        coefficients: the Fourier model.
        spec: the landscape (site positions and residues).
        max_order: largest |S| listed.
        top_k: rows kept per order (largest magnitude first).

    Returns:
        Columns ``interaction_order``, ``sites`` (1-based, comma-separated), ``site_labels``, ``mutations``
        (e.g. ``"K12A,E15G"``), ``amino_acids``, ``value``, ``magnitude``, ``rank`` (1 = largest
        within its order), sorted by order then rank.
    """
    q = coefficients.q
    nonzero = coefficients.frequencies != 0
    supports = {tuple(np.flatnonzero(row)) for row in nonzero if row.any()}
    candidates: set[tuple[int, ...]] = set()
    for support in supports:
        for r in range(1, min(max_order, len(support)) + 1):
            candidates.update(combinations(support, r))
    letters = spec.letters
    labels = spec.site_labels()
    frames = []
    for S in sorted(candidates, key=lambda s: (len(s), s)):
        r = len(S)
        # G_S[k_S]: every coefficient contributes through its restriction to S (x is 0 elsewhere)
        dense = np.zeros((q,) * r, dtype=np.complex128)
        np.add.at(dense, tuple(coefficients.frequencies[:, list(S)].T), coefficients.values)
        h = (np.fft.ifftn(dense) * dense.size).real  # f(a_S, wild type elsewhere)
        for axis in range(r):
            h = h - np.take(h, [0], axis=axis)
        sub = h[(slice(1, None),) * r]  # all sites of S mutated
        idx = np.stack(np.unravel_index(np.arange(sub.size), sub.shape), axis=1) + 1  # (m, r)
        vals = sub.ravel()
        frames.append((S, idx, vals))
    rows = []
    for order in range(1, max_order + 1):
        parts = [(S, idx, vals) for S, idx, vals in frames if len(S) == order]
        if not parts:
            continue
        sets = np.concatenate([np.full(v.size, k) for k, (_, _, v) in enumerate(parts)])
        idx = np.concatenate([i for _, i, _ in parts])
        vals = np.concatenate([v for _, _, v in parts])
        top = np.argsort(-np.abs(vals), kind="stable")[:top_k]
        for rank, j in enumerate(top, start=1):
            S = parts[sets[j]][0]
            aa = [str(letters[s, v]) for s, v in zip(S, idx[j])]
            rows.append({
                "interaction_order": order,
                "sites": ",".join(str(spec.sites[s] + 1) for s in S),
                "site_labels": ",".join(labels[s] for s in S),
                "mutations": ",".join(f"{labels[s]}{a}" for s, a in zip(S, aa)),
                "amino_acids": ",".join(aa),
                "coefficient": float(vals[j]),
                "magnitude": float(abs(vals[j])),
                "rank": rank,
            })  # fmt: skip
    columns = ["interaction_order", "sites", "site_labels", "mutations", "amino_acids", "coefficient", "magnitude", "rank"]
    return pd.DataFrame(rows, columns=columns)


@dataclass
class SiteSetResult:
    """Everything computed for one site set (tables are long-format DataFrames)."""

    name: str
    spec: LandscapeSpec
    coefficients: dict[str, FourierCoefficients]
    metrics: pd.DataFrame
    spectrum: pd.DataFrame
    energy: pd.DataFrame
    pairs: pd.DataFrame
    pair_matrices: dict[str, np.ndarray]
    interactions: pd.DataFrame
    predictions: dict[str, tuple[np.ndarray, np.ndarray]]
    info: dict[str, Any] = field(default_factory=dict)
    budget_curve: pd.DataFrame | None = None  # with a landscape's ``budgets``: budget_curve.COLUMNS + site_set


METRIC_COLUMNS: tuple[str, ...] = (
    "site_set", "sites", "n", "q", "method", "test_set", "budget", "n_points",
    "r2", "r2_lo", "r2_hi", "nmse", "nmse_lo", "nmse_hi", "pearson_r2", "pearson_r2_lo", "pearson_r2_hi",
)  # fmt: skip
"""Columns of :func:`prediction_metrics` (the ``metrics`` table before the published values are added)."""


def metric_row(y: np.ndarray, pred: np.ndarray, *, n_boot: int, level: float, seed: int) -> dict[str, float]:
    out: dict[str, float] = {"n_points": int(y.size)}
    for label, func in (("r2", metrics.r2), ("nmse", metrics.nmse), ("pearson_r2", metrics.pearson_r2)):
        if y.size < 2:
            out.update({label: np.nan, f"{label}_lo": np.nan, f"{label}_hi": np.nan})
            continue
        est, lo, hi = metrics.bootstrap_ci(func, y, pred, n_boot=n_boot, level=level, seed=seed)
        out.update({label: est, f"{label}_lo": lo, f"{label}_hi": hi})
    return out


def prediction_metrics(
    name: str,
    spec: LandscapeSpec,
    coefs: Mapping[str, FourierCoefficients],
    test_sets: Mapping[str, np.ndarray],
    truth: Mapping[str, np.ndarray],
    tcfg: Mapping[str, Any],
    *,
    budget: int,
) -> tuple[pd.DataFrame, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """One row per (estimator, test set) with bootstrap CIs; the uniform-set predictions for the figures.

    The ``"all"`` set (every variant, training points included) gets at most 200 bootstrap replicates.
    """
    rows, predictions = [], {}
    sites = " ".join(map(str, spec.describe()["sites"]))
    for method, coef in coefs.items():
        if method == "exact":
            continue
        for label, X in test_sets.items():
            pred = coef.predict(X)
            n_boot = tcfg["n_boot"] if label != "all" else max(1, min(tcfg["n_boot"], 200))
            row = {"site_set": name, "sites": sites, "n": spec.n, "q": spec.q, "method": method, "test_set": label,
                   "budget": budget}  # fmt: skip
            row.update(metric_row(truth[label], pred, n_boot=n_boot, level=tcfg["level"], seed=tcfg["seed"]))
            rows.append(row)
            if label == "uniform":
                predictions[method] = (truth[label], pred)
    return pd.DataFrame(rows, columns=list(METRIC_COLUMNS)), predictions  # no rows when nothing was held out


def spectrum_rows(name: str, method: str, coef: FourierCoefficients) -> tuple[dict, list[dict], list[dict], np.ndarray]:
    var = metrics.variance(coef)
    per_order = metrics.energy_per_order(coef)
    pair = metrics.pair_energy(coef)
    spectrum = {
        "site_set": name,
        "method": method,
        "n_coefficients": len(coef),
        "queries": int(coef.queries),
        "variance": var,
        "s5": metrics.sparsity_s5(coef),
        "ruggedness": metrics.ruggedness(coef),
        "interaction_share": metrics.interaction_share(coef),
    }
    energy = [
        {"site_set": name, "method": method, "interaction_order": int(r), "energy": float(e),
         "fraction": float(e / var) if var > 0 and r > 0 else np.nan}
        for r, e in enumerate(per_order)
    ]  # fmt: skip
    n = coef.n
    pairs = [
        {"site_set": name, "method": method, "i": i, "j": j, "energy": float(pair[i, j]),
         "fraction": float(pair[i, j] / var) if var > 0 else np.nan}
        for i in range(n) for j in range(i + 1, n)
    ]  # fmt: skip
    return spectrum, energy, pairs, (pair / var if var > 0 else pair)


def reference_support(exact: FourierCoefficients, share: float) -> np.ndarray:
    """Frequencies of the largest exact coefficients holding ``share`` of the variance (plus k = 0)."""
    power = np.abs(exact.values) ** 2
    nonconst = exact.orders > 0
    order = np.argsort(-np.where(nonconst, power, -1.0), kind="stable")
    total = power[nonconst].sum()
    if total <= 0:
        return exact.frequencies[~nonconst]
    cum = np.cumsum(power[order])
    keep = order[: int(np.searchsorted(cum, share * total) + 1)]
    keep = np.union1d(keep[nonconst[keep]], np.flatnonzero(~nonconst))
    return exact.frequencies[keep]


def read_published(path: str | Path) -> pd.DataFrame:
    """Published numbers (``resources/epistasis/published.csv``).

    Raises:
        PlmscopeError: unreadable file or missing columns.
    """
    path = Path(path)
    if not path.is_file():
        raise located(path, "file not found")
    try:
        table = pd.read_csv(path, comment="#")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise located(path, f"not a readable CSV table ({' '.join(str(err).split())})") from None
    need = ["sequence", "sites", "model", "score", "metric", "value", "test_set", "source"]
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise located(path, f"lacks columns {missing}")
    return table


def published_rows(published: pd.DataFrame, result: SiteSetResult) -> pd.DataFrame:
    spec = result.spec
    sites = set(spec.describe()["sites"])
    match = published[
        (published["sequence"].str.strip() == spec.sequence)
        & published["sites"].map(lambda s: set(int(v) for v in str(s).split()) == sites)
    ]
    return match


COMPARISON_COLUMNS: tuple[str, ...] = (
    "site_set", "sites", "metric", "test_set", "ours", "ours_lo", "ours_hi", "ours_model", "ours_score",
    "published", "published_model", "published_score", "source", "note",
)  # fmt: skip


def published_comparison(
    published: pd.DataFrame, results: list[SiteSetResult], metric_table: pd.DataFrame, *, model: str, score: str
) -> pd.DataFrame:
    """Our q-SFT metrics beside the published ones for the same sequence and sites.

    Also writes ``published_<metric>`` and ``published_model`` into the matching rows of
    ``metric_table`` (in place), so the metrics table carries the reference values.
    """
    comparison = []
    for r in results:
        for _, pub in published_rows(published, r).iterrows():
            mask = (metric_table["site_set"] == r.name) & (metric_table["method"] == "qsft") & (
                metric_table["test_set"] == pub["test_set"])  # fmt: skip
            ours = metric_table[mask]
            metric = str(pub["metric"])
            found = len(ours) and metric in ours

            def value(column: str) -> float:
                return float(ours[column].iloc[0]) if found else np.nan

            comparison.append({
                "site_set": r.name, "sites": " ".join(map(str, r.spec.describe()["sites"])), "metric": metric,
                "test_set": pub["test_set"], "ours": value(metric), "ours_lo": value(metric + "_lo"),
                "ours_hi": value(metric + "_hi"), "ours_model": model, "ours_score": score,
                "published": float(pub["value"]), "published_model": pub["model"], "published_score": pub["score"],
                "source": pub["source"], "note": pub.get("note", ""),
            })  # fmt: skip
            metric_table.loc[mask, f"published_{metric}"] = float(pub["value"])
            metric_table.loc[mask, "published_model"] = pub["model"]
    return pd.DataFrame(comparison, columns=list(COMPARISON_COLUMNS))
