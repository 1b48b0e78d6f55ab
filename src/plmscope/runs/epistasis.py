"""The ``epistasis`` verb: Fourier spectra of masked-LM variant scores over chosen sites (q-SFT, LASSO, exact)."""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import logging
import math
import time
import uuid
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import pandas as pd

from plmscope.errors import PlmscopeError, located
from plmscope.fourier import FourierCoefficients, Landscape, QueryCache, metrics
from plmscope.fourier.landscape_spec import LandscapeSpec, build_spec, load_protein
from plmscope.fourier.methods import METHODS
from plmscope.io import atomic_path
from plmscope.runs.common import save_figure, write_tables

log = logging.getLogger(__name__)

SCORE_NAMES: tuple[str, ...] = ("pll_unmasked", "pll_masked", "masked_marginal", "wt_marginal")
BASELINES: tuple[str, ...] = ("lasso", "ridge")

DEFAULTS: dict[str, Any] = {
    "protein": None,  # required: {id, sequence} | {fasta, id?} | {table, id}
    "model": "antiberty",
    "score": "pll_unmasked",
    "q": 20,
    "site_sets": None,  # required: list of site sets (1-based)
    "qsft": {
        "b": None,
        "C": 2,
        "delays": "identity",
        "R": 2,
        "noise_threshold": "auto",
        "n_validation": None,
        "max_iter": 30,
        "seed": 0,
    },
    "baselines": ["lasso"],
    "baseline_max_samples": 1_000_000,
    "test": {"uniform": 500, "hamming": [1, 2, 3], "per_distance": 200, "n_boot": 1000, "level": 0.95, "seed": 12345},
    "exact_max_points": 1000,
    "interactions": {"max_order": 3, "top_k": 100},
    "scoring": {"max_tokens": 8192, "batch_size": None, "device": "auto", "dtype": "auto", "max_residues": None,
                "attn_implementation": "eager", "chunk": 4096},  # fmt: skip
    "cache_dir": "results/epistasis_cache",
    "published": None,
}
"""Every key of a landscape config with its default (None: required for protein and site_sets)."""


# ------------------------------------------------------------------------------------------ config
def _merge(defaults: Mapping[str, Any], given: Mapping[str, Any], where: str) -> dict[str, Any]:
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise PlmscopeError(
            f"config key {where or 'landscape'}: unknown entries {unknown}; expected {sorted(defaults)}"
        )
    out = copy.deepcopy(dict(defaults))
    for key, value in given.items():
        if isinstance(defaults[key], dict) and key not in ("protein",):
            if not isinstance(value, Mapping):
                prefix = f"{where}." if where else ""
                raise PlmscopeError(f"config key {prefix}{key}: expected a mapping, got {value!r}")
            out[key] = _merge(defaults[key], value, f"{where + '.' if where else ''}{key}")
        else:
            out[key] = copy.deepcopy(value)
    return out


def _check_int(key: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise PlmscopeError(f"config key {key}: must be an integer >= {low}, got {value!r}")
    return int(value)


def normalize_config(config: Mapping[str, Any], *, name: str = "landscape") -> dict[str, Any]:
    """Fill defaults into one landscape config and check it.

    Raises:
        PlmscopeError: an unknown or missing key, or a bad value; the message names the key.
    """
    if not isinstance(config, Mapping):
        raise PlmscopeError(f"config key {name}: expected a mapping, got {type(config).__name__}")
    cfg = _merge(DEFAULTS, config, "")
    if cfg["protein"] is None:
        raise PlmscopeError(f"config key {name}.protein: required (id + sequence, fasta or table)")
    sets = cfg["site_sets"]
    if not isinstance(sets, (list, tuple)) or not sets:
        raise PlmscopeError(f"config key {name}.site_sets: required, a non-empty list of site sets")
    if cfg["score"] not in SCORE_NAMES:
        raise PlmscopeError(f"config key {name}.score: must be one of {list(SCORE_NAMES)}, got {cfg['score']!r}")
    if not isinstance(cfg["model"], str) or not cfg["model"]:
        raise PlmscopeError(f"config key {name}.model: expected a model name or directory")
    baselines = cfg["baselines"]
    if not isinstance(baselines, (list, tuple)) or any(b not in BASELINES for b in baselines):
        raise PlmscopeError(f"config key {name}.baselines: a list of {list(BASELINES)}, got {baselines!r}")
    test = cfg["test"]
    for key in ("uniform", "per_distance", "n_boot"):
        _check_int(f"{name}.test.{key}", test[key], 0 if key != "n_boot" else 1)
    if not isinstance(test["hamming"], (list, tuple)):
        raise PlmscopeError(f"config key {name}.test.hamming: expected a list of distances")
    for d in test["hamming"]:
        _check_int(f"{name}.test.hamming", d, 1)
    if not 0 < float(test["level"]) < 1:
        raise PlmscopeError(f"config key {name}.test.level: must lie in (0, 1), got {test['level']!r}")
    _check_int(f"{name}.exact_max_points", cfg["exact_max_points"], 0)
    _check_int(f"{name}.baseline_max_samples", cfg["baseline_max_samples"], 10)
    _check_int(f"{name}.interactions.max_order", cfg["interactions"]["max_order"], 1)
    _check_int(f"{name}.interactions.top_k", cfg["interactions"]["top_k"], 1)
    _check_int(f"{name}.scoring.max_tokens", cfg["scoring"]["max_tokens"], 1)
    _check_int(f"{name}.scoring.chunk", cfg["scoring"]["chunk"], 1)
    if cfg["scoring"]["attn_implementation"] not in ("eager", "sdpa"):
        raise PlmscopeError(f"config key {name}.scoring.attn_implementation: must be eager or sdpa")
    if cfg["scoring"]["batch_size"] is not None:
        _check_int(f"{name}.scoring.batch_size", cfg["scoring"]["batch_size"], 1)
    return cfg


def load_config(source: str | Path | Mapping[str, Any], *, landscape: str | None = None) -> tuple[str, dict[str, Any]]:
    """Read a landscape config from a mapping, a JSON string, or a YAML/JSON file.

    A file (or mapping) may hold the whole workflow config (``epistasis: landscapes: {name: ...}``
    and ``epistasis: paper: {name: ...}``), a ``{name: landscape}`` mapping, or one landscape;
    ``landscape`` picks an entry by name.

    Returns:
        ``(name, normalised landscape config)``.

    Raises:
        PlmscopeError: unreadable file, unknown landscape name, or an invalid config.
    """
    where: Any = "config"
    if isinstance(source, Mapping):
        data: Any = source
    else:
        text = str(source)
        if text.lstrip().startswith("{"):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as err:
                raise PlmscopeError(f"--spec: not valid JSON ({err.msg} at character {err.pos})") from None
        else:
            import yaml

            where = Path(text)
            if not where.is_file():
                raise located(where, "file not found")
            try:
                data = yaml.safe_load(where.read_text(encoding="utf-8"))
            except yaml.YAMLError as err:
                raise located(where, f"not valid YAML ({' '.join(str(err).split())})") from None
    if not isinstance(data, Mapping):
        raise located(where, "expected a mapping at the top level")
    if "epistasis" in data:  # a workflow config: its landscapes inherit the block's cache_dir
        block = data["epistasis"] or {}
        data = {**((block.get("paper") or {}).get("landscapes") or {}), **(block.get("landscapes") or {})}
        if block.get("cache_dir"):
            inherit = {"cache_dir": block["cache_dir"]}
            data = {k: {**inherit, **v} if isinstance(v, Mapping) else v for k, v in data.items()}
    if "protein" in data or "site_sets" in data:
        name = landscape or "landscape"
        return name, normalize_config(data, name=name)
    if landscape is None:
        if len(data) != 1:
            names = ", ".join(map(str, data))
            raise located(where, f"holds {len(data)} landscapes ({names}); pick one with --landscape")
        landscape = next(iter(data))
    if landscape not in data:
        raise located(where, f"no landscape named {landscape!r} (known: {', '.join(map(str, data))})")
    return landscape, normalize_config(data[landscape], name=landscape)


# ----------------------------------------------------------------------------------- the model
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


def resolved_dtype(cfg: Mapping[str, Any]) -> str:
    """The torch dtype the scores are computed in (part of the cache fingerprint)."""
    from plmscope.models.registry import resolve_device, resolve_dtype

    dt = resolve_dtype(cfg["scoring"]["dtype"], resolve_device(cfg["scoring"]["device"]))
    return str(dt).replace("torch.", "")


# ----------------------------------------------------------------------------------- the cache
def _row_keys(X: np.ndarray, q: int) -> np.ndarray:
    """Scalar keys of the rows of X (base-q integers when they fit, else row bytes)."""
    X = np.asarray(X, dtype=np.int64)
    n = X.shape[1]
    if q**n < 2**62:
        return X @ np.array([q ** (n - 1 - i) for i in range(n)], dtype=np.int64)
    return np.array([bytes(r) for r in np.ascontiguousarray(X.astype(np.int16))], dtype=object)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class PersistentCache:
    """A :class:`QueryCache` shared across runs and processes, with a crash journal.

    Points are journaled (one small Parquet part per scored chunk) as soon as they are scored, and
    folded into the main file by :meth:`flush` (under a file lock, merging points that other
    processes added meanwhile). An interrupted run loses at most the chunk in progress.

    Args:
        path: main Parquet file of the cache.
        n, q: landscape shape.
    """

    def __init__(self, path: Path, n: int, q: int):
        self.path, self.n, self.q = Path(path), n, q
        self.journal = self.path.with_name(self.path.name + ".journal")
        with _locked(self.path):
            self.cache = QueryCache(self.path)
            self.cache.bind(n, q)
            recovered = self._absorb_journal()
            if recovered:
                self.cache.save()
                self._clear_journal()
                log.info("%s: recovered %d scored points from an interrupted run", self.path, recovered)

    def _absorb_journal(self) -> int:
        added = 0
        for part in sorted(self.journal.glob("part-*.parquet")) if self.journal.is_dir() else []:
            try:
                piece = QueryCache(part)
            except PlmscopeError as err:  # a part cut short by a crash: skip it
                log.warning("skipping unreadable journal part %s (%s)", part, err)
                continue
            if (piece.n, piece.q) == (self.n, self.q):
                added += self._add_missing(piece.X, piece.y)
        return added

    def _add_missing(self, X: np.ndarray, y: np.ndarray) -> int:
        if X.shape[0] == 0:
            return 0
        known = _row_keys(self.cache.X, self.q)
        keys = _row_keys(X, self.q)
        keys, first = np.unique(keys, return_index=True)
        new = first[~np.isin(keys, known)]
        if new.size:
            self.cache.extend(X[new], y[new])
        return int(new.size)

    def _clear_journal(self) -> None:
        if self.journal.is_dir():
            for part in self.journal.glob("part-*.parquet"):
                part.unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # another process may be journaling into it
                self.journal.rmdir()

    def record(self, X: np.ndarray, y: np.ndarray) -> None:
        """Journal freshly scored points (atomically, one part file)."""
        part = QueryCache(self.journal / f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet")
        part.bind(self.n, self.q)
        part.extend(np.asarray(X), np.asarray(y, dtype=np.float64))
        with _locked(self.path):
            self.journal.mkdir(parents=True, exist_ok=True)
            part.save()

    def flush(self) -> None:
        """Write every known point to the main file (merging other writers' points); clear the journal."""
        with _locked(self.path):
            if self.path.exists():
                disk = QueryCache(self.path)
                if (disk.n, disk.q) == (self.n, self.q):
                    self._add_missing(disk.X, disk.y)
            self._absorb_journal()
            self.cache.save()
            self._clear_journal()

    def __len__(self) -> int:
        return int(self.cache.y.shape[0])


class _ScoreFunction:
    """``(m, n)`` points -> scores, journaling every scored chunk; counts and times the model calls."""

    def __init__(self, spec: LandscapeSpec, model: _LazyModel, cache: PersistentCache):
        self.spec, self.model, self.cache = spec, model, cache
        self.points = 0
        self.seconds = 0.0

    def __call__(self, X: np.ndarray) -> np.ndarray:
        started = time.perf_counter()
        y = self.model.variant_scorer(self.spec)(self.spec.to_sequences(X))
        self.seconds += time.perf_counter() - started
        self.points += X.shape[0]
        if np.all(np.isfinite(y)):
            self.cache.record(X, y)
        return y


# ------------------------------------------------------------------------------------ sampling
def _shell_size(n: int, q: int, d: int | None) -> int:
    return q**n if d is None else math.comb(n, d) * (q - 1) ** d


def _enumerate(n: int, q: int, distance: int | None) -> np.ndarray:
    """Every point of Z_q^n (``distance=None``) or of the Hamming shell ``distance`` around 0."""
    from plmscope.fourier import all_points

    if distance is None:
        return all_points(n, q)
    values = all_points(distance, q - 1) + 1  # ((q-1)^d, d), entries 1..q-1
    blocks = []
    for sites in combinations(range(n), distance):
        block = np.zeros((values.shape[0], n), dtype=np.int64)
        block[:, list(sites)] = values
        blocks.append(block)
    return np.concatenate(blocks) if blocks else np.zeros((0, n), dtype=np.int64)


def draw_points(
    rng: np.random.Generator, n: int, q: int, *, size: int, distance: int | None, exclude: np.ndarray
) -> np.ndarray:
    """Distinct random points, uniform over Z_q^n (``distance=None``) or over the Hamming shell ``distance``.

    Args:
        rng: random generator.
        n, q: landscape shape.
        size: points wanted (fewer are returned when the set minus ``exclude`` is smaller).
        distance: number of sites that differ from the wild type (``x_i != 0``), or None.
        exclude: ``(k,)`` row keys (:func:`_row_keys`) that must not be drawn (training points).

    Returns:
        ``(m, n)`` int64 array, ``m <= size``.
    """
    total = _shell_size(n, q, distance)
    if size <= 0 or total == 0:
        return np.zeros((0, n), dtype=np.int64)
    if total <= max(20_000, 4 * (size + exclude.size)):  # small: enumerate and sample without replacement
        pts = _enumerate(n, q, distance)
        pts = pts[~np.isin(_row_keys(pts, q), exclude)]
        take = rng.permutation(pts.shape[0])[:size]
        return pts[take]
    chosen: list[np.ndarray] = []
    seen = np.asarray(exclude)
    have = 0
    for _ in range(50):
        m = 2 * (size - have) + 16
        if distance is None:
            cand = rng.integers(0, q, size=(m, n))
        else:
            cand = np.zeros((m, n), dtype=np.int64)
            where = np.argsort(rng.random((m, n)), axis=1)[:, :distance]
            np.put_along_axis(cand, where, rng.integers(1, q, size=(m, distance)), axis=1)
        keys = _row_keys(cand, q)
        keys, first = np.unique(keys, return_index=True)
        keep = first[~np.isin(keys, seen)]
        keep = rng.permutation(keep)[: size - have]
        chosen.append(cand[keep])
        seen = np.concatenate([seen, _row_keys(cand[keep], q)])
        have += keep.size
        if have >= size:
            break
    return np.concatenate(chosen)[:size]


# --------------------------------------------------------------------------------- interactions
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
        Columns ``order``, ``sites`` (1-based, comma-separated), ``site_labels``, ``mutations``
        (e.g. ``"K12A,E15G"``), ``amino_acids``, ``value``, ``magnitude``, ``rank`` (1 = largest
        within its order), sorted by order then rank.
    """
    q, n = coefficients.q, coefficients.n
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
                "order": order,
                "sites": ",".join(str(spec.sites[s] + 1) for s in S),
                "site_labels": ",".join(labels[s] for s in S),
                "mutations": ",".join(f"{labels[s]}{a}" for s, a in zip(S, aa)),
                "amino_acids": ",".join(aa),
                "value": float(vals[j]),
                "magnitude": float(abs(vals[j])),
                "rank": rank,
            })  # fmt: skip
    columns = ["order", "sites", "site_labels", "mutations", "amino_acids", "value", "magnitude", "rank"]
    return pd.DataFrame(rows, columns=columns)


# ------------------------------------------------------------------------------------ analysis
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


def _metric_rows(y: np.ndarray, pred: np.ndarray, *, n_boot: int, level: float, seed: int) -> dict[str, float]:
    out: dict[str, float] = {"n_points": int(y.size)}
    for label, func in (("r2", metrics.r2), ("nmse", metrics.nmse), ("pearson_r2", metrics.pearson_r2)):
        if y.size < 2:
            out.update({label: np.nan, f"{label}_lo": np.nan, f"{label}_hi": np.nan})
            continue
        est, lo, hi = metrics.bootstrap_ci(func, y, pred, n_boot=n_boot, level=level, seed=seed)
        out.update({label: est, f"{label}_lo": lo, f"{label}_hi": hi})
    return out


def _prediction_metrics(
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
            row.update(_metric_rows(truth[label], pred, n_boot=n_boot, level=tcfg["level"], seed=tcfg["seed"]))
            rows.append(row)
            if label == "uniform":
                predictions[method] = (truth[label], pred)
    return pd.DataFrame(rows), predictions


def _spectrum_rows(
    name: str, method: str, coef: FourierCoefficients
) -> tuple[dict, list[dict], list[dict], np.ndarray]:
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
    }
    energy = [
        {"site_set": name, "method": method, "order": int(r), "energy": float(e),
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


def _reference_support(exact: FourierCoefficients, share: float) -> np.ndarray:
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


def analyse_site_set(
    name: str, spec: LandscapeSpec, cfg: Mapping[str, Any], model: _LazyModel, cache_dir: Path
) -> SiteSetResult:
    """Recover the spectrum of one site set with q-SFT and the baselines; score them on held-out variants.

    Returns:
        The :class:`SiteSetResult` (tables, coefficients, predictions for the figures).
    """
    n, q = spec.n, spec.q
    fingerprint = spec.fingerprint(model=cfg["model"], score=cfg["score"], dtype=resolved_dtype(cfg))
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{cfg['model']}-{cfg['score']}-{spec.protein_id}")
    cache_path = cache_dir / f"{slug.strip('_.')[-80:]}-n{n}-q{q}-{fingerprint}.parquet"
    cache = PersistentCache(cache_path, n, q)
    cached_before = len(cache)
    func = _ScoreFunction(spec, model, cache)
    land = Landscape(func, n, q, cache=cache.cache, batch_size=cfg["scoring"]["chunk"])
    log.info("[%s] sites %s (%s), q=%d: cache %s holds %d points", name, spec.describe()["sites"], spec.wild_type, q,
             cache_path, cached_before)  # fmt: skip

    coefs: dict[str, FourierCoefficients] = {}
    info: dict[str, Any] = {"fingerprint": fingerprint, "cache": str(cache_path), "cached_points_before": cached_before}
    timings: dict[str, float] = {}

    # q-SFT (its noise threshold is chosen on its own uniformly random validation queries)
    started = time.perf_counter()
    qcfg = dict(cfg["qsft"])
    try:
        qsft = METHODS["qsft"](**qcfg)
    except TypeError as err:
        raise PlmscopeError(f"config key qsft: {err}") from None
    coefs["qsft"] = qsft.fit(land)
    cache.flush()
    timings["qsft"] = time.perf_counter() - started
    budget = int(coefs["qsft"].queries)
    info["qsft"] = {
        "b": qsft.b_used, "C": qsft.C, "delays": qsft.delays, "R": qsft.R, "queries": budget,
        "validation_queries": qsft.validation_size(n, q, qsft.b_used),
        "noise_threshold": qcfg["noise_threshold"],
        "thresholds_tried": [{"threshold": t, "validation_r2": r, "coefficients": s}
                             for t, r, s in qsft.thresholds_tried],
    }  # fmt: skip
    log.info("[%s] q-SFT b=%d: %d coefficients from %d queries (%.1f s)", name, qsft.b_used, len(coefs["qsft"]), budget,
             timings["qsft"])  # fmt: skip

    # baselines at the same budget
    for method in cfg["baselines"]:
        started = time.perf_counter()
        samples = min(budget, cfg["baseline_max_samples"])
        if samples < budget:
            log.warning("[%s] %s: budget capped at baseline_max_samples=%d (q-SFT used %d)", name, method, samples,
                        budget)  # fmt: skip
        estimator = METHODS[method](seed=int(qcfg.get("seed", 0)), max_samples=max(cfg["baseline_max_samples"], 10))
        coefs[method] = estimator.fit(land, samples)
        cache.flush()
        timings[method] = time.perf_counter() - started
        info[method] = {"samples": samples, "new_queries": int(coefs[method].queries),
                        "alpha": getattr(estimator, "alpha_used", None)}  # fmt: skip
        log.info("[%s] %s: %d coefficients from %d samples (%.1f s)", name, method, len(coefs[method]), samples,
                 timings[method])  # fmt: skip

    # held-out test sets: never a point any estimator queried
    train_X, _ = land.queries()
    exclude = _row_keys(train_X, q)
    tcfg = cfg["test"]
    rng = np.random.default_rng(tcfg["seed"])
    test_sets: dict[str, np.ndarray] = {}
    if tcfg["uniform"]:
        test_sets["uniform"] = draw_points(rng, n, q, size=tcfg["uniform"], distance=None, exclude=exclude)
    for d in tcfg["hamming"]:
        if d <= n and tcfg["per_distance"]:
            test_sets[f"hamming_{d}"] = draw_points(rng, n, q, size=tcfg["per_distance"], distance=d, exclude=exclude)
    for label in [k for k, X in test_sets.items() if X.shape[0] == 0]:
        level = logging.INFO if q**n <= cfg["exact_max_points"] else logging.WARNING  # "all" still scores it
        log.log(level, "[%s] test set %s is empty: every such variant was queried by an estimator", name, label)
    test_sets = {k: X for k, X in test_sets.items() if X.shape[0]}
    started = time.perf_counter()
    truth = {label: land(X) for label, X in test_sets.items()}
    cache.flush()
    timings["test_sets"] = time.perf_counter() - started

    # exact transform as ground truth where q^n is small
    exact = None
    if q**n <= cfg["exact_max_points"]:
        started = time.perf_counter()
        exact = METHODS["exact"]().fit(land)
        cache.flush()
        coefs["exact"] = exact
        timings["exact"] = time.perf_counter() - started
        log.info("[%s] exact transform over all %d points (%.1f s)", name, q**n, timings["exact"])

    # prediction metrics (on every variant too when the exact transform queried them all)
    if exact is not None:
        from plmscope.fourier import all_points

        test_sets["all"] = all_points(n, q)
        truth["all"] = land(test_sets["all"])
    metric_table, predictions = _prediction_metrics(name, spec, coefs, test_sets, truth, tcfg, budget=budget)

    # spectral summaries
    spectra, energies, pairs, matrices = [], [], [], {}
    for method, coef in coefs.items():
        s, e, p, mat = _spectrum_rows(name, method, coef)
        if exact is not None and method != "exact":
            # precision: share of the estimated coefficients that are nonzero in the exact transform;
            # recall: share of the largest exact coefficients (95% of the variance) that were found
            s["support_precision"] = metrics.support_precision_recall(coef, exact)[0]
            s["support_recall"] = metrics.support_precision_recall(coef, _reference_support(exact, 0.95))[1]
            s["coefficient_nmse"] = metrics.coefficient_nmse(coef, exact)
        spectra.append(s)
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

    icfg = cfg["interactions"]
    inter = []
    for method, coef in coefs.items():
        table = interaction_table(coef, spec, max_order=icfg["max_order"], top_k=icfg["top_k"])
        table.insert(0, "method", method)
        table.insert(0, "site_set", name)
        inter.append(table)
    info.update({"timings_seconds": timings, "scored_points": func.points, "scoring_seconds": func.seconds,
                 "distinct_queries": land.n_queries, "cached_points_after": len(cache),
                 "test_set_sizes": {k: int(v.shape[0]) for k, v in test_sets.items() if k != "all"}})  # fmt: skip
    return SiteSetResult(
        name=name,
        spec=spec,
        coefficients=coefs,
        metrics=metric_table,
        spectrum=pd.DataFrame(spectra),
        energy=pd.DataFrame(energies),
        pairs=pair_table,
        pair_matrices=matrices,
        interactions=pd.concat(inter, ignore_index=True) if inter else pd.DataFrame(),
        predictions=predictions,
        info=info,
    )


# ------------------------------------------------------------------------------------ published
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


def _published_rows(published: pd.DataFrame, result: SiteSetResult) -> pd.DataFrame:
    spec = result.spec
    sites = set(spec.describe()["sites"])
    match = published[
        (published["sequence"].str.strip() == spec.sequence)
        & published["sites"].map(lambda s: set(int(v) for v in str(s).split()) == sites)
    ]
    return match


# --------------------------------------------------------------------------------------- output
def _format_ci(row: Mapping[str, Any], key: str) -> str:
    return f"{row[key]:.2f} [{row[key + '_lo']:.2f}, {row[key + '_hi']:.2f}]"


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
    picks the threshold on q-SFT's own uniformly random validation queries; the baselines
    (LASSO) with as many samples; held-out test sets (uniform, and each Hamming distance from
    the wild type) that exclude every point an estimator queried, with bootstrap CIs of NMSE,
    R^2 (1 - SSE/SST) and Pearson r^2; where ``q^n <= exact_max_points`` the exact transform as
    ground truth (support precision: share of the estimated coefficients that are nonzero in the
    exact transform; recall: share of the largest exact coefficients, 95% of the variance, that
    were found; coefficient NMSE; accuracy on all points); S5, E[k], energy per order and per site
    pair; the wild-type-anchored interaction table. Every scored variant is kept in a Parquet
    query cache (``cache_dir``) keyed by a fingerprint of model, score, sequence, sites, q,
    substitutions and dtype, so reruns and overlapping estimators never score a variant twice.

    Args:
        config: one landscape config (mapping), a JSON string, or a YAML/JSON file (see
            :func:`load_config`).
        output_dir: directory written atomically: ``metrics``, ``spectrum``, ``energy_per_order``,
            ``pair_energy``, ``interactions``, ``published_comparison`` (Parquet + CSV),
            ``coefficients/<site set>_<method>.parquet``, ``meta.json`` and the figures
            ``energy_by_order``, ``sparsity_ruggedness``, ``pair_energy_<site set>``,
            ``predicted_vs_true_<site set>`` (PNG + SVG).
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
    output_dir = Path(output_dir)
    cache_dir = Path(cache_dir if cache_dir is not None else cfg["cache_dir"])
    pid, sequence = load_protein(cfg["protein"], key=f"{name}.protein")
    published = read_published(cfg["published"]) if cfg["published"] else None

    specs: list[tuple[str, LandscapeSpec]] = []
    for k, entry in enumerate(cfg["site_sets"]):
        key = f"{name}.site_sets[{k}]"
        set_name = f"set{k + 1}"
        if isinstance(entry, Mapping) and "name" in entry:
            set_name = str(entry["name"])
            entry = {kk: v for kk, v in entry.items() if kk != "name"}
        specs.append((set_name, build_spec(pid, sequence, entry, q=cfg["q"], key=key)))
    if len({s for s, _ in specs}) != len(specs):
        raise PlmscopeError(f"config key {name}.site_sets: site set names must be distinct")

    model = _LazyModel(cfg, progress=progress)
    results = [analyse_site_set(set_name, spec, cfg, model, cache_dir) for set_name, spec in specs]

    metric_table = pd.concat([r.metrics for r in results], ignore_index=True)
    comparison = []
    if published is not None:
        for r in results:
            for _, pub in _published_rows(published, r).iterrows():
                ours = metric_table[(metric_table["site_set"] == r.name) & (metric_table["method"] == "qsft")
                                    & (metric_table["test_set"] == pub["test_set"])]  # fmt: skip
                metric = str(pub["metric"])
                value = float(ours[metric].iloc[0]) if len(ours) and metric in ours else np.nan
                comparison.append({
                    "site_set": r.name, "sites": " ".join(map(str, r.spec.describe()["sites"])), "metric": metric,
                    "test_set": pub["test_set"], "ours": value,
                    "ours_lo": float(ours[metric + "_lo"].iloc[0]) if len(ours) and metric in ours else np.nan,
                    "ours_hi": float(ours[metric + "_hi"].iloc[0]) if len(ours) and metric in ours else np.nan,
                    "ours_model": cfg["model"], "ours_score": cfg["score"], "published": float(pub["value"]),
                    "published_model": pub["model"], "published_score": pub["score"], "source": pub["source"],
                    "note": pub.get("note", ""),
                })  # fmt: skip
                mask = (metric_table["site_set"] == r.name) & (metric_table["method"] == "qsft") & (
                    metric_table["test_set"] == pub["test_set"])  # fmt: skip
                metric_table.loc[mask, f"published_{metric}"] = float(pub["value"])
                metric_table.loc[mask, "published_model"] = pub["model"]
    comparison_table = pd.DataFrame(comparison, columns=[
        "site_set", "sites", "metric", "test_set", "ours", "ours_lo", "ours_hi", "ours_model", "ours_score",
        "published", "published_model", "published_score", "source", "note"])  # fmt: skip

    spectrum = pd.concat([r.spectrum for r in results], ignore_index=True)
    energy = pd.concat([r.energy for r in results], ignore_index=True)
    pairs = pd.concat([r.pairs for r in results], ignore_index=True)
    interactions = pd.concat([r.interactions for r in results], ignore_index=True)

    figures = _figures(results, spectrum, energy, metric_table, title=f"{name}: {cfg['model']}, {cfg['score']}")
    meta = {
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
        "seconds": round(time.perf_counter() - started, 3),
    }
    with atomic_path(output_dir, directory=True) as tmp:
        write_tables(
            tmp,
            {
                "metrics": metric_table,
                "spectrum": spectrum,
                "energy_per_order": energy,
                "pair_energy": pairs,
                "interactions": interactions,
                "published_comparison": comparison_table,
            },
        )
        (tmp / "coefficients").mkdir()
        for r in results:
            for method, coef in r.coefficients.items():
                coef.save(tmp / "coefficients" / f"{r.name}_{method}.parquet")
        for stem, fig in figures.items():
            save_figure(fig, tmp, stem)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, default=_json_default) + "\n")

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


def _figures(results, spectrum, energy, metric_table, *, title: str) -> dict[str, Any]:
    from plmscope.viz.epistasis_plots import (
        plot_energy_by_order,
        plot_pair_energy,
        plot_predicted_vs_true,
        plot_sparsity_ruggedness,
    )

    figures = {
        "energy_by_order": plot_energy_by_order(energy, title=title),
        "sparsity_ruggedness": plot_sparsity_ruggedness(spectrum, title=title),
    }
    for r in results:
        sites = " ".join(map(str, r.spec.describe()["sites"]))
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
