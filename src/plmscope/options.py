"""Every user-facing default and choice of plmscope, with the validators that check them.

One place for the values that define a result (attention threshold, contact definition, length
limit, enrichment statistics, estimator options) so that the CLI (``cli.build_parser``), the
library functions' keyword defaults and the workflow schema cannot drift apart;
``tests/test_options.py`` compares this module with ``workflow/schemas/config.schema.yaml`` and
``config.yaml``. This module imports nothing heavy: the CLI builds its parser from it.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any, Literal, Mapping, get_args

from plmscope.errors import PlmscopeError

# ------------------------------------------------------------------------------------ choices
DType = Literal["auto", "float32", "float16", "bfloat16"]
"""Model dtype option: ``"auto"`` picks one for the device (see :mod:`plmscope.models.registry`)."""
DTYPES: tuple[str, ...] = get_args(DType)

LongSequences = Literal["truncate", "skip", "error", "window"]
"""What to do with a sequence longer than ``max_residues``: keep its first ``max_residues``
residues (Vig et al.), leave it out, stop with an error, or run it in overlapping windows
(attention only, :mod:`plmscope.attention.windows`)."""
LONG_SEQUENCE_POLICIES: tuple[str, ...] = get_args(LongSequences)
WHOLE_SEQUENCE_POLICIES: tuple[str, ...] = ("truncate", "skip", "error")
"""The policies of verbs that need every residue pair of a protein at once (no windows)."""

Family = Literal["albert", "bert", "esm", "xlnet"]
"""Model families (config ``model_type`` values) that have an adapter."""
FAMILIES: tuple[str, ...] = get_args(Family)

Score = Literal["pll_unmasked", "pll_masked", "masked_marginal", "wt_marginal"]
"""Masked-LM variant scores (:mod:`plmscope.models.scoring`)."""
SCORES: tuple[str, ...] = get_args(Score)

Estimator = Literal[
    "exact", "qsft", "qsft_paper", "lasso", "ridge", "hierarchical", "proxy", "residual", "spex", "proxyspex"
]
"""Fourier estimators (:data:`plmscope.fourier.METHODS`)."""
ESTIMATORS: tuple[str, ...] = get_args(Estimator)
BINARY_ONLY: tuple[str, ...] = ("spex", "proxyspex")
"""Estimators of q = 2 landscapes only (shapiq's set-function approximators: a set of mutated sites is a coalition)."""
BASELINES: tuple[str, ...] = ("lasso", "ridge", "hierarchical", "proxy", "residual", "qsft_paper", "spex", "proxyspex")
"""Estimators a landscape's ``baselines`` may list: each is fitted at q-SFT's budget in the ``epistasis`` verb
(``spex`` and ``proxyspex``, shapiq's, on q = 2 landscapes only)."""

InputFormat = Literal["proteinnet", "tape-lmdb", "pdb", "fasta", "table"]
INPUT_FORMATS: tuple[str, ...] = get_args(InputFormat)

Solver = Literal["liblinear", "saga"]
SOLVERS: tuple[str, ...] = get_args(Solver)
SelectRange = Literal["short", "medium", "long", "all"]
SELECT_RANGES: tuple[str, ...] = get_args(SelectRange)

Semantics = Literal["provis", "plmscope"]
"""Definitions of the analyses: ``provis`` reproduces the authors' code (salesforce/provis) exactly,
``plmscope`` uses the corrected ones (README "Semantics: provis vs plmscope";
:mod:`plmscope.analysis.semantics`)."""
SEMANTICS_CHOICES: tuple[str, ...] = get_args(Semantics)

# ------------------------------------------------------------------ result-defining defaults
THETA = 0.3
"""Attention threshold: weights ``>= THETA`` are kept (Vig et al. 2021)."""
MAX_RESIDUES = 510
"""Longest sequence (or window) analysed: 512 positions minus the special tokens (Vig et al.)."""
CONTACT_CUTOFF = 8.0
"""CA-CA distance in Å below which two residues are in contact."""
CONTACT_MIN_SEPARATION = 6
"""Minimum ``|i - j|`` of a contact (shorter pairs are trivially close)."""
MIN_COUNT = 100
"""Heads with fewer thresholded weights on a feature are masked in the enrichment."""
ALPHA = 0.05
"""Family-wise error rate (Bonferroni) of the enrichment statistics."""
TOP_K = 10
"""Top heads listed per feature by ``enrichment``."""
LONG_SEQUENCES: LongSequences = "truncate"
DEVICE = "auto"
DTYPE: DType = "auto"
SEMANTICS: Semantics = "plmscope"
"""Semantics of every verb and of the default run (config ``semantics``)."""
PAPER_SEMANTICS: Semantics = "provis"
"""Semantics of the ``paper`` target's own jobs (config ``paper.semantics``): the authors' definitions."""

MAX_TOKENS: Literal["auto"] | int = "auto"
"""Padded tokens per attention batch: ``"auto"`` picks :data:`MAX_TOKENS_CPU` or :data:`MAX_TOKENS_CUDA`."""
MAX_TOKENS_CPU = 4096
"""On CPU an eager forward at 4,096 tokens per batch is faster than at 8,192 (fewer wasted padded rows)."""
MAX_TOKENS_CUDA = 16384
PROBE_MAX_TOKENS = 4096
PROTEINS_PER_PART = 250
SHARDS = 1
"""Attention jobs per (model, dataset) (config ``attention.shards``): protein i goes to shard ``i % SHARDS``."""
ROWS_PER_PART = 5_000_000
PREPARE_SEED = 123
"""Seed of ``prepare --sample`` (the paper's subsets)."""

# robustness
THRESHOLDS: tuple[float, ...] = (0.1, 0.3, 0.5)
ROBUSTNESS_TOP_K = 5
N_BOOT = 1000

# contacts
CONTACT_TRAIN_PROTEINS = 20
CONTACT_C = 0.15
CONTACT_SOLVER: Solver = "liblinear"
CONTACT_SELECT_RANGE: SelectRange = "all"
CONTACT_N_MAPS = 3

# probing
PROBE_VALID_FRACTION = 0.3
PROBE_MAX_PAIRS = 200
PROBE_C = 1.0
PROBE_MAX_ITER = 1000
PROBE_THREADS = 1
PROBE_TASKS: tuple[str, ...] = ("helix", "strand", "turn_bend", "binding_site", "contact")
"""Probe tasks (:data:`plmscope.analysis.probing.TASKS`, restated here so the CLI does not import pandas)."""

# views
VIEW_FEATURE = "binding_site"
VIEW_MAX_PROTEINS = 5

# ------------------------------------------------------------------------------- estimators
QSFT_C = 3
"""Subsampling groups C of a q-SFT estimator built without options (``fourier.qsft.QSFT()``, ``ResidualQSFT()``,
the estimator benchmarks). An epistasis landscape uses :data:`QSFT_DEFAULTS` (C = 1) instead."""
QSFT_R = 3
"""Random delay sets R of a q-SFT estimator built without options (landscapes: :data:`QSFT_DEFAULTS`, R = 1)."""

QSFT_DEFAULTS: dict[str, Any] = {
    "b": None,
    "C": 1,
    "delays": "identity",
    "R": 1,
    "noise_threshold": "auto",
    "n_validation": None,
    "max_iter": 30,
    "seed": 0,
}
"""q-SFT options of an epistasis landscape (``b`` None: the largest that fits the budget)."""

ESTIMATOR_DEFAULTS: dict[str, dict[str, Any]] = {
    "hierarchical": {"max_order": 3, "hierarchy": "auto", "max_candidates": 200_000},
    "proxy": {"learner": "hist", "max_depth": 3, "max_iter": 2000},
    "residual": {"low_order": 1, "low_fraction": 0.2, "C": 3, "R": 3},
    "qsft_paper": {"C": 2, "delays": "random", "R": 2},
    "spex": {"degree_parameter": 5, "decoder": "soft"},
}
"""Options of the estimators a landscape lists in ``baselines`` (the estimators' own keyword defaults).
``qsft_paper`` is q-SFT with the authors' settings (Tsui & Aghazadeh 2024: C = 2, random delays, R = 2;
their b = 4 becomes the largest b that fits the budget)."""

LANDSCAPE_DEFAULTS: dict[str, Any] = {
    "model": "antiberty",
    "score": "pll_unmasked",
    "q": 20,
    "qsft": QSFT_DEFAULTS,
    "baselines": ["lasso"],
    "baseline_max_samples": 1_000_000,
    "estimator_options": ESTIMATOR_DEFAULTS,
    "budgets": None,
    "test": {"uniform": 500, "hamming": [1, 2, 3], "per_distance": 200, "n_boot": 1000, "level": 0.95, "seed": 12345},
    "exact_max_points": 1000,
    "interactions": {"max_order": 3, "top_k": 100},
    "scoring": {
        "max_tokens": 8192,
        "batch_size": None,
        "device": "auto",
        "dtype": "auto",
        "max_residues": None,
        "attn_implementation": "eager",
        "chunk": 4096,
    },  # fmt: skip
    "cache_dir": "results/epistasis_cache",
    "published": None,
}
"""Every optional key of an epistasis landscape with its default (``protein`` and ``site_sets`` are required)."""


# ------------------------------------------------------------------------------- validators
def check_int(option: str, value: Any, *, low: int = 1, high: int | None = None) -> int:
    """Return ``value`` as an int, or raise unless it is an integer in ``[low, high]`` (bools rejected).

    Raises:
        PlmscopeError: naming ``option``.
    """
    ok = not isinstance(value, bool)
    try:
        ok = ok and int(value) == value
    except (TypeError, ValueError):
        ok = False
    if not ok or value < low or (high is not None and value > high):
        if low == 1 and high is None:
            raise PlmscopeError(f"{option} must be a positive integer, got {value!r}")
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise PlmscopeError(f"{option} must be an integer {bound}, got {value!r}")
    return int(value)


def check_probability(option: str, value: Any, *, closed_low: bool = False, closed_high: bool = False) -> float:
    """Return ``value`` as a float, or raise unless it lies in ``(0, 1)`` (ends closed on request).

    ``check_probability("theta", t, closed_high=True)`` accepts ``(0, 1]``.

    Raises:
        PlmscopeError: naming ``option``.
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if isinstance(value, bool):
        number = float("nan")
    low_ok = number >= 0 if closed_low else number > 0
    high_ok = number <= 1 if closed_high else number < 1
    if not (low_ok and high_ok):
        interval = f"{'[' if closed_low else '('}0, 1{']' if closed_high else ')'}"
        raise PlmscopeError(f"{option} must be a number in {interval}, got {value!r}")
    return number


def check_choice(option: str, value: Any, choices: tuple[str, ...]) -> str:
    """Return ``value`` unless it is not one of ``choices``."""
    if value not in choices:
        raise PlmscopeError(f"{option} must be one of {', '.join(choices)}, got {value!r}")
    return value


def check_theta(theta: Any) -> float:
    """Return the attention threshold as a float, or raise unless ``0 < theta <= 1``."""
    return check_probability("attention threshold theta", theta, closed_high=True)


def resolve_max_tokens(max_tokens: int | str, device_type: str) -> int:
    """The padded-token budget per batch: ``"auto"`` -> :data:`MAX_TOKENS_CPU` on CPU, :data:`MAX_TOKENS_CUDA` else."""
    if max_tokens == "auto":
        return MAX_TOKENS_CPU if device_type == "cpu" else MAX_TOKENS_CUDA
    return check_int("max_tokens", max_tokens)


def parse_shard(shard: str | None) -> tuple[int, int]:
    """``"K/N"`` -> ``(K, N)`` with ``0 <= K < N`` (None: ``(0, 1)``, the whole dataset).

    Raises:
        PlmscopeError: not of that form.
    """
    if shard is None:
        return 0, 1
    index, sep, count = str(shard).partition("/")
    try:
        k, n = int(index), int(count)
    except ValueError:
        k = n = -1
    if not sep or n < 1 or not 0 <= k < n:
        raise PlmscopeError(f"shard must be K/N with 0 <= K < N, got {shard!r}")
    return k, n


def max_tokens_arg(text: str) -> int | str:
    """argparse type of ``--max-tokens``: ``auto`` or a positive integer."""
    return "auto" if text == "auto" else check_int("--max-tokens", int(text))


# --------------------------------------------------------------------------- the landscape schema
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"
"""The workflow's JSON schema (a source checkout or editable install)."""


@functools.lru_cache(maxsize=1)
def config_schema() -> dict[str, Any]:
    """The workflow config schema as a mapping.

    Raises:
        PlmscopeError: the schema file is not there (a non-editable install without the workflow).
    """
    import yaml

    if not SCHEMA_PATH.is_file():
        raise PlmscopeError(f"{SCHEMA_PATH}: config schema not found (run plmscope from a source checkout)")
    return yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))


def validate_landscape(config: Mapping[str, Any], *, name: str = "landscape") -> dict[str, Any]:
    """Validate one epistasis landscape against the schema's ``epistasis_landscape`` and fill its defaults.

    Returns:
        A deep copy of ``config`` with every key of :data:`LANDSCAPE_DEFAULTS` present.

    Raises:
        PlmscopeError: the first schema violation, naming the key path (``name.qsft.C``).
    """
    try:
        import jsonschema
    except ImportError:  # pragma: no cover - jsonschema is in requirements.lock
        raise PlmscopeError(
            "validating an epistasis spec needs jsonschema (pip install 'plmscope[workflow]')"
        ) from None
    schema = config_schema()
    sub = {**schema["definitions"]["epistasis_landscape"], "definitions": schema["definitions"]}
    errors = sorted(jsonschema.Draft202012Validator(sub).iter_errors(config), key=lambda e: list(e.path))
    if errors:
        err = errors[0]
        if err.context:  # a oneOf/anyOf: name what is wrong inside ("2.5 is not of type 'integer'"), not the whole value
            err = jsonschema.exceptions.best_match([err])
        where = ".".join([name, *map(str, err.absolute_path)])
        raise PlmscopeError(f"config key {where}: {err.message}")
    filled = _with_defaults(LANDSCAPE_DEFAULTS, config)
    binary_only = [m for m in filled["baselines"] if m in BINARY_ONLY]
    if binary_only and filled["q"] != 2:
        raise PlmscopeError(f"config key {name}.baselines: {binary_only[0]} (shapiq) needs q = 2, got q = {filled['q']}")
    return filled


def _with_defaults(defaults: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(given))
    for key, value in defaults.items():
        if key not in out:
            out[key] = copy.deepcopy(value)
        elif isinstance(value, Mapping) and isinstance(out[key], Mapping):
            out[key] = _with_defaults(value, out[key])
    return out
