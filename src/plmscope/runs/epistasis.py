"""The ``epistasis`` verb: Fourier spectra of masked-LM variant scores over chosen sites (q-SFT, the listed estimators, exact)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from plmscope.errors import PlmscopeError
from plmscope.fourier.config import load_config
from plmscope.fourier.landscape_spec import LandscapeSpec, build_spec, load_protein
from plmscope.fourier.site_set import analyse_site_set, check_budgets
from plmscope.fourier.tables import COMPARISON_COLUMNS, SiteSetResult, published_comparison, read_published
from plmscope.outputs import output_directory, save_figure, write_tables

log = logging.getLogger(__name__)


class _LazyModel:
    """Loads the masked LM on first use, so a fully cached rerun never touches the model."""

    def __init__(self, cfg: Mapping[str, Any], *, progress: bool):
        self.cfg, self.progress = cfg, progress
        self._scorer = None
        self._variant_scorers: dict[tuple, Any] = {}
        self.load_seconds = 0.0

    @property
    def loaded(self) -> bool:
        return self._scorer is not None

    @property
    def n_sequences(self) -> int:
        return 0 if self._scorer is None else self._scorer.n_sequences

    def scorer(self):
        if self._scorer is None:
            from plmscope.models.scoring import MaskedLMScorer, load_masked_lm

            started = time.perf_counter()
            s = self.cfg["scoring"]
            adapter = load_masked_lm(self.cfg["model"], max_residues=s["max_residues"], device=s["device"],
                                     dtype=s["dtype"], attn_implementation=s["attn_implementation"])  # fmt: skip
            self._scorer = MaskedLMScorer(adapter, max_tokens=s["max_tokens"], batch_size=s["batch_size"],
                                          progress=self.progress)  # fmt: skip
            self.load_seconds = time.perf_counter() - started
            log.info("loaded masked LM %r (%s) in %.1f s", self.cfg["model"], type(adapter.model).__name__,
                     self.load_seconds)  # fmt: skip
        return self._scorer

    def variant_scorer(self, spec: LandscapeSpec):
        from plmscope.models.scoring import ADDITIVE_SCORES, VariantScorer

        score = self.cfg["score"]
        key = (spec.sequence, score, spec.sites if score in ADDITIVE_SCORES else None)
        if key not in self._variant_scorers:  # the wild type is scored once per key
            self._variant_scorers[key] = VariantScorer(self.scorer(), spec.sequence, spec.sites, score)
        return self._variant_scorers[key]

    def score_function(self, spec: LandscapeSpec):
        """``(m, n)`` points of ``spec`` -> scores (the model is loaded on the first call)."""
        return lambda X: self.variant_scorer(spec)(spec.to_sequences(X))


def resolved_dtype(cfg: Mapping[str, Any]) -> str:
    """The torch dtype the scores are computed in (part of the cache fingerprint)."""
    from plmscope.models.registry import resolve_device, resolve_dtype

    dt = resolve_dtype(cfg["scoring"]["dtype"], resolve_device(cfg["scoring"]["device"]))
    return str(dt).replace("torch.", "")


def _site_sets(name: str, cfg: Mapping[str, Any], pid: str, sequence: str) -> list[tuple[str, LandscapeSpec]]:
    """``(name, spec)`` of every configured site set (names ``set1``, ``set2``... unless given)."""
    specs = []
    for k, entry in enumerate(cfg["site_sets"]):
        set_name = f"set{k + 1}"
        if isinstance(entry, Mapping) and "name" in entry:
            set_name = str(entry["name"])
            entry = {kk: v for kk, v in entry.items() if kk != "name"}
        spec = build_spec(pid, sequence, entry, q=cfg["q"], key=f"{name}.site_sets[{k}]")
        check_budgets(name, set_name, spec, cfg)  # before the model is loaded or any variant scored
        specs.append((set_name, spec))
    if len({s for s, _ in specs}) != len(specs):
        raise PlmscopeError(f"config key {name}.site_sets: site set names must be distinct")
    return specs


def run_epistasis(
    config: str | Path | Mapping[str, Any],
    output_dir: str | Path,
    *,
    landscape: str | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Fourier analysis of masked-LM variant scores for every site set of one landscape.

    For each site set: the landscape ``f(x) = score(mutant) - score(wild type)`` over Z_q^n;
    q-SFT with the configured (b, C, delays, R, noise threshold, seed) - ``noise_threshold: auto``
    picks the threshold on q-SFT's own uniformly random validation queries; every estimator the
    config lists in ``baselines`` (lasso, ridge, hierarchical, proxy, residual) with as many
    queries; held-out test sets (uniform, and each Hamming distance from the wild type) that
    exclude every point an estimator queried, with bootstrap CIs of NMSE,
    R^2 (1 - SSE/SST) and Pearson r^2; where ``q^n <= exact_max_points`` the exact transform as
    ground truth (support precision: share of the estimated coefficients that are nonzero in the
    exact transform; recall: share of the largest exact coefficients, 95% of the variance, that
    were found; coefficient NMSE; accuracy on all points); S5, E[k], energy per order and per site
    pair; the wild-type-anchored interaction table. Every scored variant is kept in a Parquet
    query cache (``cache_dir``) keyed by a fingerprint of model, score, sequence, sites, q,
    substitutions and dtype, so reruns and overlapping estimators never score a variant twice.

    Args:
        config: one landscape config (mapping), a JSON string, or a YAML/JSON file (see
            :func:`plmscope.fourier.config.load_config`).
        output_dir: directory written atomically: ``metrics``, ``spectrum``, ``energy_per_order``,
            ``pair_energy``, ``interactions``, ``published_comparison``, with ``budgets`` configured
            ``budget_curve`` (Parquet + CSV; per site set, estimator, budget and test set the R^2 with CI),
            ``coefficients/<site set>_<method>.parquet``, ``meta.json`` and the figures
            ``energy_by_order``, ``sparsity_ruggedness``, ``pair_energy_<site set>``,
            ``predicted_vs_true_<site set>``, with ``budgets`` ``budget_curve_<site set>`` (PNG + SVG).
        landscape: name of the landscape in a multi-landscape config.
        cache_dir: query-cache directory (overrides the config's ``cache_dir``).
        progress: tqdm bars while scoring.

    Returns:
        A summary: output, landscape name, per site set the q-SFT uniform-test R^2 and Pearson
        r^2, model sequences scored, seconds.

    Raises:
        PlmscopeError: an invalid config, protein or site set, an unloadable model, or a budget
            that does not fit the q-SFT configuration.
    """
    started = time.perf_counter()
    name, cfg = load_config(config, landscape=landscape)
    cache_dir = Path(cache_dir if cache_dir is not None else cfg["cache_dir"])
    pid, sequence = load_protein(cfg["protein"], key=f"{name}.protein")
    published = read_published(cfg["published"]) if cfg["published"] else None
    specs = _site_sets(name, cfg, pid, sequence)

    model = _LazyModel(cfg, progress=progress)
    dtype = resolved_dtype(cfg)
    results = [analyse_site_set(set_name, spec, cfg, score=model.score_function(spec), cache_dir=cache_dir,
                                dtype=dtype) for set_name, spec in specs]  # fmt: skip
    metric_table = pd.concat([r.metrics for r in results], ignore_index=True)
    comparison = (
        pd.DataFrame(columns=list(COMPARISON_COLUMNS)) if published is None
        else published_comparison(published, results, metric_table, model=cfg["model"], score=cfg["score"])
    )  # fmt: skip
    tables = {
        "metrics": metric_table,
        "spectrum": pd.concat([r.spectrum for r in results], ignore_index=True),
        "energy_per_order": pd.concat([r.energy for r in results], ignore_index=True),
        "pair_energy": pd.concat([r.pairs for r in results], ignore_index=True),
        "interactions": pd.concat([r.interactions for r in results], ignore_index=True),
        "published_comparison": comparison,
    }
    curves = [r.budget_curve for r in results if r.budget_curve is not None]
    if curves:
        tables["budget_curve"] = pd.concat(curves, ignore_index=True)
    figures = _figures(results, tables, title=f"{name}: {cfg['model']}, {cfg['score']}")
    meta = _meta(name, cfg, pid, sequence, results, model, seconds=time.perf_counter() - started)
    _write(Path(output_dir), tables, results, figures, meta)
    uniform = metric_table[(metric_table["method"] == "qsft") & (metric_table["test_set"] == "uniform")]
    return {
        "output": str(output_dir),
        "landscape": name,
        "site_sets": {
            row["site_set"]: {"r2": round(float(row["r2"]), 4), "pearson_r2": round(float(row["pearson_r2"]), 4)}
            for _, row in uniform.iterrows()
        },
        "model_sequences": model.n_sequences,
        "seconds": meta["seconds"],
    }


def _meta(name, cfg, pid, sequence, results: list[SiteSetResult], model: _LazyModel, *, seconds: float) -> dict:
    """``meta.json``: the validated config, the protein, per site set its spec and run facts, model use."""
    return {
        "landscape": name,
        "config": cfg,
        "protein_id": pid,
        "sequence": sequence,
        "alphabet": "x_i = 0: wild type; q = 20: x_i = 1..19 the other amino acids in ACDEFGHIKLMNPQRSTVWY order; "
                    "q = 2: x_i = 1 the configured substitution",
        "score_definition": "mutant minus wild type, see plmscope.models.scoring.VariantScorer",
        "site_sets": {r.name: {**r.spec.describe(), **r.info} for r in results},
        "model_loaded": model.loaded,
        "model_sequences": model.n_sequences,
        "model_load_seconds": model.load_seconds,
        "seconds": round(seconds, 3),
    }  # fmt: skip


def _write(output_dir: Path, tables, results: list[SiteSetResult], figures, meta) -> None:
    """Tables, coefficients, figures and ``meta.json`` into ``output_dir`` at once."""
    with output_directory(output_dir) as tmp:
        write_tables(tmp, tables)
        (tmp / "coefficients").mkdir()
        for r in results:
            for method, coef in r.coefficients.items():
                coef.save(tmp / "coefficients" / f"{r.name}_{method}.parquet")
        for stem, fig in figures.items():
            save_figure(fig, tmp, stem)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, default=_json_default) + "\n")


def _format_ci(row: Mapping[str, Any], key: str) -> str:
    return f"{row[key]:.2f} [{row[key + '_lo']:.2f}, {row[key + '_hi']:.2f}]"


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _figures(results, tables: Mapping[str, pd.DataFrame], *, title: str) -> dict[str, Any]:
    from plmscope.viz.epistasis_plots import (
        plot_budget_curve,
        plot_energy_by_order,
        plot_pair_energy,
        plot_predicted_vs_true,
        plot_sparsity_ruggedness,
    )

    metric_table = tables["metrics"]
    figures = {
        "energy_by_order": plot_energy_by_order(tables["energy_per_order"], title=title),
        "sparsity_ruggedness": plot_sparsity_ruggedness(tables["spectrum"], title=title),
    }
    for r in results:
        sites = " ".join(map(str, r.spec.describe()["sites"]))
        if r.budget_curve is not None and r.budget_curve["r2"].notna().any():
            figures[f"budget_curve_{r.name}"] = plot_budget_curve(r.budget_curve, title=f"{r.name} ({sites}): {title}")
        figures[f"pair_energy_{r.name}"] = plot_pair_energy(
            r.pair_matrices, r.spec.site_labels(), title=f"{r.name} ({sites}): pairwise interaction energy"
        )
        if r.predictions:
            rows = metric_table[(metric_table["site_set"] == r.name) & (metric_table["test_set"] == "uniform")]
            scores = {row["method"]: f"R² {_format_ci(row, 'r2')}\nr² {_format_ci(row, 'pearson_r2')}"
                      for _, row in rows.iterrows()}  # fmt: skip
            figures[f"predicted_vs_true_{r.name}"] = plot_predicted_vs_true(
                r.predictions, scores=scores, title=f"{r.name} ({sites}): held-out uniform variants"
            )
    return figures
