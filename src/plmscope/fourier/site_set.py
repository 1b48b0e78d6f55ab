"""One site set of an epistasis landscape: fit q-SFT and the other estimators, score them on held-out variants, tabulate."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from plmscope import progress
from plmscope.errors import PlmscopeError
from plmscope.fourier import metrics
from plmscope.fourier.cache import PersistentCache, row_keys
from plmscope.fourier.coefficients import FourierCoefficients
from plmscope.fourier.landscape import Landscape
from plmscope.fourier.landscape_spec import LandscapeSpec
from plmscope.fourier.methods import METHODS
from plmscope.fourier.sampling import draw_points
from plmscope.fourier.tables import (
    SiteSetResult,
    interaction_table,
    prediction_metrics,
    reference_support,
    spectrum_rows,
)
from plmscope.fourier.transform import all_points

log = logging.getLogger(__name__)

ScoreFunction = Callable[[np.ndarray], np.ndarray]
"""``(m, n)`` points of a landscape -> ``(m,)`` scores (the model call, e.g. a variant scorer)."""


class JournaledScore:
    """Wraps a score function: journals every finite scored chunk into the cache; counts points and seconds."""

    def __init__(self, score: ScoreFunction, cache: PersistentCache, *, name: str = ""):
        self.score, self.cache, self.name = score, cache, name
        self.points = 0
        self.seconds = 0.0
        self._noted = time.monotonic()

    def __call__(self, X: np.ndarray) -> np.ndarray:
        started = time.perf_counter()
        y = self.score(X)
        self.seconds += time.perf_counter() - started
        self.points += X.shape[0]
        if np.all(np.isfinite(y)):
            self.cache.record(X, y)
        if time.monotonic() - self._noted >= progress.EVERY_SECONDS:  # a progress line every few seconds
            self._noted = time.monotonic()
            progress.note(f"site set {self.name}: {self.points} variants scored by the model "
                          f"({progress.elapsed(self.seconds)} scoring), {len(self.cache)} in the cache")  # fmt: skip
        return y


def cache_path(cache_dir: Path, cfg: Mapping[str, Any], spec: LandscapeSpec, *, dtype: str) -> tuple[Path, str]:
    """The cache file of a site set, keyed by a fingerprint of model, score, sequence, sites, q and dtype."""
    fingerprint = spec.fingerprint(model=cfg["model"], score=cfg["score"], dtype=dtype)
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{cfg['model']}-{cfg['score']}-{spec.protein_id}")
    return Path(cache_dir) / f"{slug.strip('_.')[-80:]}-n{spec.n}-q{spec.q}-{fingerprint}.parquet", fingerprint


def fit_qsft(name: str, cfg: Mapping[str, Any], land: Landscape, cache: PersistentCache) -> tuple[Any, dict]:
    """q-SFT with the configured options (noise threshold chosen on its own validation queries)."""
    started = time.perf_counter()
    qcfg = dict(cfg["qsft"])
    qsft = make_estimator("qsft", cfg)
    coef = qsft.fit(land)
    cache.flush()
    seconds = time.perf_counter() - started
    budget = int(coef.queries)
    info = {
        "b": qsft.b_used, "C": qsft.C, "delays": qsft.delays, "R": qsft.R, "queries": budget,
        "validation_queries": int(qsft.validation_used),
        "noise_threshold": qcfg["noise_threshold"],
        "thresholds_tried": [{"threshold": t, "validation_r2": r, "coefficients": s}
                             for t, r, s in qsft.thresholds_tried],
    }  # fmt: skip
    log.info("[%s] q-SFT b=%d: %d coefficients from %d queries (%.1f s)", name, qsft.b_used, len(coef), budget,
             seconds)  # fmt: skip
    return coef, info | {"seconds": seconds}


REGRESSIONS = ("lasso", "ridge")
"""Estimators whose design matrix is bounded by ``baseline_max_samples``."""


def estimator_options(method: str, cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword options of one listed estimator (seed: q-SFT's; per-estimator options from ``estimator_options``)."""
    options: dict[str, Any] = {"seed": int(cfg["qsft"].get("seed", 0))}
    if method in REGRESSIONS:
        options["max_samples"] = max(cfg["baseline_max_samples"], 10)
    options.update((cfg.get("estimator_options") or {}).get(method) or {})
    return options


def make_estimator(method: str, cfg: Mapping[str, Any]):
    """The configured estimator ``method`` (q-SFT from ``qsft``, the others from ``estimator_options``)."""
    options, key = (dict(cfg["qsft"]), "qsft") if method == "qsft" else (estimator_options(method, cfg),
                                                                          f"estimator_options.{method}")  # fmt: skip
    try:
        return METHODS[method](**options)
    except TypeError as err:
        raise PlmscopeError(f"config key {key}: {err}") from None


def check_budgets(landscape: str, name: str, spec: LandscapeSpec, cfg: Mapping[str, Any]) -> None:
    """Refuse a site set whose q-SFT plan, or a listed estimator at q-SFT's budget, cannot fit - before any query.

    q-SFT runs without a budget; every estimator of ``baselines`` is then fitted with as many
    queries as q-SFT used, at most ``min(q^n, q-SFT's planned queries)`` (and ``baseline_max_samples``
    for LASSO and ridge). Each estimator's own :meth:`~plmscope.fourier.base.Estimator.budget_error`
    decides, so this is the check its ``fit`` would make, only earlier.

    Raises:
        PlmscopeError: one line naming the config key, the site set, the estimator, the budget and
            the minimum it needs.
    """
    n, q = spec.n, spec.q
    qsft = make_estimator("qsft", cfg)
    problem = qsft.budget_error(n, q, None)
    if problem:
        raise PlmscopeError(f"config key {landscape}.qsft: site set {name}: {problem}")
    ceiling = min(q**n, qsft.planned_queries(n, q, qsft.choose_b(n, q, None)))
    for method in cfg["baselines"]:
        budget = min(ceiling, cfg["baseline_max_samples"]) if method in REGRESSIONS else ceiling
        problem = make_estimator(method, cfg).budget_error(n, q, budget)
        if problem:
            raise PlmscopeError(
                f"config key {landscape}.baselines: site set {name}: {problem}; the listed estimators get q-SFT's "
                f"budget, at most {budget} queries here (drop {method} from baselines)"
            )


def fit_baseline(
    name: str, method: str, cfg: Mapping[str, Any], land: Landscape, cache: PersistentCache, *, budget: int
) -> tuple[FourierCoefficients, dict]:
    """One listed estimator at q-SFT's budget (LASSO and ridge capped at ``baseline_max_samples``)."""
    started = time.perf_counter()
    samples = min(budget, cfg["baseline_max_samples"]) if method in REGRESSIONS else budget
    if samples < budget:
        log.warning("[%s] %s: budget capped at baseline_max_samples=%d (q-SFT used %d)", name, method, samples,
                    budget)  # fmt: skip
    estimator = make_estimator(method, cfg)
    before = land.n_queries
    view = Landscape(land, land.n, land.q)  # its own query count and budget; every point answered by (and kept in) land
    try:
        coef = estimator.fit(view, samples)
    except PlmscopeError as err:
        raise PlmscopeError(f"site set {name}: {method} at q-SFT's budget of {samples} queries: {err}") from None
    cache.flush()
    seconds = time.perf_counter() - started
    log.info("[%s] %s: %d coefficients from %d samples (%.1f s)", name, method, len(coef), samples, seconds)
    info = {"samples": samples, "queries": int(coef.queries), "new_queries": land.n_queries - before,
            "alpha": getattr(estimator, "alpha_used", None)}  # fmt: skip
    return coef, info | {"seconds": seconds}


def site_set_budget_curve(
    name: str, cfg: Mapping[str, Any], land: Landscape, cache: PersistentCache, sets: Mapping[str, np.ndarray],
    truth: Mapping[str, np.ndarray],
) -> pd.DataFrame:
    """Every configured estimator at every budget of ``cfg["budgets"]``, scored on the run's held-out sets.

    q-SFT takes the largest b that fits each budget (``b`` of the config is ignored here). Points
    go through the run's query cache, so a point scored by any fit or test set is scored once.
    """
    from plmscope.fourier.budget_curve import budget_curve

    qsft = {k: v for k, v in cfg["qsft"].items() if k not in ("seed", "b")}
    methods = {"qsft": qsft, **{m: {k: v for k, v in estimator_options(m, cfg).items() if k != "seed"}
                                for m in cfg["baselines"]}}  # fmt: skip
    tcfg = cfg["test"]
    curve = budget_curve(land, methods, cfg["budgets"], test_sets=sets, truth=truth, n_boot=tcfg["n_boot"],
                         level=tcfg["level"], seed=int(cfg["qsft"].get("seed", 0)))  # fmt: skip
    cache.flush()
    curve.insert(0, "site_set", name)
    return curve


def held_out_points(name: str, cfg: Mapping[str, Any], land: Landscape) -> dict[str, np.ndarray]:
    """Held-out test sets (uniform, each Hamming shell) that exclude every point an estimator queried."""
    n, q = land.n, land.q
    train_X, _ = land.queries()
    exclude = row_keys(train_X, q)
    tcfg = cfg["test"]
    rng = np.random.default_rng(tcfg["seed"])
    sets: dict[str, np.ndarray] = {}
    if tcfg["uniform"]:
        sets["uniform"] = draw_points(rng, n, q, size=tcfg["uniform"], distance=None, exclude=exclude)
    for d in tcfg["hamming"]:
        if d <= n and tcfg["per_distance"]:
            sets[f"hamming_{d}"] = draw_points(rng, n, q, size=tcfg["per_distance"], distance=d, exclude=exclude)
    for label in [k for k, X in sets.items() if X.shape[0] == 0]:
        level = logging.INFO if q**n <= cfg["exact_max_points"] else logging.WARNING  # "all" still scores it
        log.log(level, "[%s] test set %s is empty: every such variant was queried by an estimator", name, label)
    if q**n > cfg["exact_max_points"] and not any(X.shape[0] for X in sets.values()):
        log.warning("[%s] no variant is held out, so the metrics table has no rows for it; with exact_max_points "
                    ">= %d the estimators are scored on all variants", name, q**n)  # fmt: skip
    return {k: X for k, X in sets.items() if X.shape[0]}


def spectra(
    name: str, spec: LandscapeSpec, coefs: Mapping[str, FourierCoefficients], exact: FourierCoefficients | None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]]:
    """Spectrum summary (S5, ruggedness, support vs exact), energy per order, pair energy, pair matrices."""
    rows, energies, pairs, matrices = [], [], [], {}
    for method, coef in coefs.items():
        s, e, p, mat = spectrum_rows(name, method, coef)
        s.update(support_precision=np.nan, support_recall=np.nan, coefficient_nmse=np.nan)  # NaN without exact
        if exact is not None and method != "exact":
            # precision: share of the estimated coefficients that are nonzero in the exact transform;
            # recall: share of the largest exact coefficients (95% of the variance) that were found
            s["support_precision"] = metrics.support_precision_recall(coef, exact)[0]
            s["support_recall"] = metrics.support_precision_recall(coef, reference_support(exact, 0.95))[1]
            s["coefficient_nmse"] = metrics.coefficient_nmse(coef, exact)
        rows.append(s)
        energies.extend(e)
        pairs.extend(p)
        matrices[method] = mat
    labels = spec.site_labels()
    pair_table = pd.DataFrame(pairs)
    if not pair_table.empty:
        pair_table["site_i"] = [spec.sites[i] + 1 for i in pair_table["i"]]
        pair_table["site_j"] = [spec.sites[j] + 1 for j in pair_table["j"]]
        pair_table["label_i"] = [labels[i] for i in pair_table["i"]]
        pair_table["label_j"] = [labels[j] for j in pair_table["j"]]
        pair_table = pair_table.drop(columns=["i", "j"])
    return pd.DataFrame(rows), pd.DataFrame(energies), pair_table, matrices


def interactions(
    name: str, spec: LandscapeSpec, coefs: Mapping[str, FourierCoefficients], icfg: Mapping[str, Any]
) -> pd.DataFrame:
    """The interaction tables of every estimator, stacked (columns ``site_set``, ``method`` first)."""
    parts = []
    for method, coef in coefs.items():
        table = interaction_table(coef, spec, max_order=icfg["max_order"], top_k=icfg["top_k"])
        table.insert(0, "method", method)
        table.insert(0, "site_set", name)
        parts.append(table)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def analyse_site_set(
    name: str, spec: LandscapeSpec, cfg: Mapping[str, Any], *, score: ScoreFunction, cache_dir: Path, dtype: str
) -> SiteSetResult:
    """Recover the spectrum of one site set with q-SFT and every listed estimator; score them on held-out variants.

    Every estimator in ``cfg["baselines"]`` is fitted with q-SFT's number of queries; with
    ``cfg["budgets"]`` each (q-SFT included) is also fitted at every budget (the budget curve).

    Every scored variant goes to a :class:`PersistentCache` under ``cache_dir`` (see :func:`cache_path`),
    so reruns and overlapping estimators never score a variant twice.

    Args:
        name: site-set name (table column ``site_set``).
        spec: the landscape.
        cfg: a validated landscape config (:func:`plmscope.options.validate_landscape`).
        score: ``(m, n)`` points -> ``(m,)`` scores (called only for points not in the cache).
        cache_dir: query-cache directory.
        dtype: the dtype the scores are computed in (part of the cache fingerprint).

    Returns:
        The :class:`SiteSetResult` (tables, coefficients, predictions for the figures).
    """
    path, fingerprint = cache_path(cache_dir, cfg, spec, dtype=dtype)
    cache = PersistentCache(path, spec.n, spec.q)
    cached_before = len(cache)
    func = JournaledScore(score, cache, name=name)
    progress.note(f"site set {name}: started ({cached_before} variants cached)")
    land = Landscape(func, spec.n, spec.q, cache=cache.cache, batch_size=cfg["scoring"]["chunk"])
    log.info("[%s] sites %s (%s), q=%d: cache %s holds %d points", name, spec.describe()["sites"], spec.wild_type,
             spec.q, path, cached_before)  # fmt: skip
    info: dict[str, Any] = {"fingerprint": fingerprint, "cache": str(path), "cached_points_before": cached_before}
    timings: dict[str, float] = {}
    coefs: dict[str, FourierCoefficients] = {}
    coefs["qsft"], info["qsft"] = fit_qsft(name, cfg, land, cache)
    timings["qsft"] = info["qsft"].pop("seconds")
    budget = info["qsft"]["queries"]
    for method in cfg["baselines"]:
        coefs[method], info[method] = fit_baseline(name, method, cfg, land, cache, budget=budget)
        timings[method] = info[method].pop("seconds")

    started = time.perf_counter()
    sets = held_out_points(name, cfg, land)
    truth = {label: land(X) for label, X in sets.items()}
    cache.flush()
    timings["test_sets"] = time.perf_counter() - started

    exact = None
    if spec.q**spec.n <= cfg["exact_max_points"]:  # the exact transform as ground truth where q^n is small
        started = time.perf_counter()
        exact = coefs["exact"] = METHODS["exact"]().fit(land)
        cache.flush()
        timings["exact"] = time.perf_counter() - started
        log.info("[%s] exact transform over all %d points (%.1f s)", name, spec.q**spec.n, timings["exact"])
        sets["all"] = all_points(spec.n, spec.q)
        truth["all"] = land(sets["all"])
    curve = None
    if cfg.get("budgets"):
        started = time.perf_counter()
        held = {k: v for k, v in sets.items() if k != "all"}
        curve = site_set_budget_curve(name, cfg, land, cache, held, {k: truth[k] for k in held})
        timings["budget_curve"] = time.perf_counter() - started
        log.info("[%s] budget curve at %s (%.1f s)", name, cfg["budgets"], timings["budget_curve"])
    metric_table, predictions = prediction_metrics(name, spec, coefs, sets, truth, cfg["test"], budget=budget)
    spectrum, energy, pairs, matrices = spectra(name, spec, coefs, exact)
    progress.note(f"site set {name}: done, {func.points} variants scored by the model in {progress.elapsed(func.seconds)}")
    info.update({"timings_seconds": timings, "scored_points": func.points, "scoring_seconds": func.seconds,
                 "distinct_queries": land.n_queries, "cached_points_after": len(cache),
                 "test_set_sizes": {k: int(v.shape[0]) for k, v in sets.items() if k != "all"}})  # fmt: skip
    return SiteSetResult(
        name=name, spec=spec, coefficients=coefs, metrics=metric_table, spectrum=spectrum, energy=energy,
        pairs=pairs, pair_matrices=matrices, interactions=interactions(name, spec, coefs, cfg["interactions"]),
        predictions=predictions, info=info, budget_curve=curve,
    )  # fmt: skip
