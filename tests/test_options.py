"""plmscope.options is the one source of defaults and choices: the schema, config.yaml, the CLI and the tables agree."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from plmscope import options as opt
from plmscope.cli import build_parser
from plmscope.errors import PlmscopeError

REPO = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
CONFIG = yaml.safe_load((REPO / "config.yaml").read_text())
LANDSCAPE = SCHEMA["definitions"]["epistasis_landscape"]["properties"]


def _enum(node: dict) -> list:
    if "enum" in node:
        return node["enum"]
    if "items" in node:
        return _enum(node["items"])
    return next(_enum(option) for option in node["oneOf"] if "enum" in option)


def _defaults(properties: dict) -> dict:
    """Schema defaults of an object's properties (nested objects recursively)."""
    out = {}
    for key, node in properties.items():
        if "properties" in node and key != "protein":  # protein is required: no defaults
            out[key] = _defaults(node["properties"])
        elif "default" in node:
            out[key] = node["default"]
    return out


def test_schema_enums_match_the_tables_of_the_code():
    from plmscope.fourier import METHODS
    from plmscope.models.registry import FAMILIES
    from plmscope.models.scoring import SCORES

    assert set(opt.ESTIMATORS) == set(METHODS)
    assert set(_enum(LANDSCAPE["baselines"])) == set(opt.BASELINES) <= set(METHODS)
    assert _enum(LANDSCAPE["score"]) == list(opt.SCORES) == list(SCORES)
    assert set(opt.FAMILIES) == set(FAMILIES)
    assert _enum(SCHEMA["definitions"]["dataset"]["properties"]["format"]) == list(opt.INPUT_FORMATS)
    attention = SCHEMA["properties"]["attention"]["properties"]
    assert _enum(attention["long_sequences"]) == list(opt.LONG_SEQUENCE_POLICIES)
    assert _enum(attention["dtype"]) == list(opt.DTYPES) == _enum(LANDSCAPE["scoring"]["properties"]["dtype"])
    for stage in ("contacts", "robustness"):
        assert _enum(SCHEMA["properties"][stage]["properties"]["long_sequences"]) == list(opt.WHOLE_SEQUENCE_POLICIES)
    contacts = SCHEMA["properties"]["contacts"]["properties"]
    assert _enum(contacts["solver"]) == list(opt.SOLVERS)
    assert _enum(contacts["select_range"]) == list(opt.SELECT_RANGES)


def test_probe_tasks_restated_for_the_cli_match_the_analysis():
    from plmscope.analysis.probing import TASKS

    assert opt.PROBE_TASKS == TASKS


@pytest.mark.parametrize(
    ("stage", "key", "value"),
    [
        ("attention", "theta", opt.THETA),
        ("attention", "max_residues", opt.MAX_RESIDUES),
        ("attention", "max_tokens", opt.MAX_TOKENS),
        ("attention", "long_sequences", opt.LONG_SEQUENCES),
        ("enrichment", "min_count", opt.MIN_COUNT),
        ("enrichment", "alpha", opt.ALPHA),
        ("enrichment", "top_k", opt.TOP_K),
        ("enrichment", "contact_cutoff", opt.CONTACT_CUTOFF),
        ("enrichment", "contact_min_separation", opt.CONTACT_MIN_SEPARATION),
    ],
)
def test_result_defining_defaults_agree_in_schema_config_and_options(stage, key, value):
    assert SCHEMA["properties"][stage]["properties"][key]["default"] == value
    assert CONFIG[stage][key] == value


def test_other_stages_use_the_same_contact_definition_and_limits():
    assert CONFIG["contacts"]["contact_cutoff"] == opt.CONTACT_CUTOFF
    assert CONFIG["robustness"]["thresholds"] == list(opt.THRESHOLDS)
    assert opt.THETA in opt.THRESHOLDS


def test_landscape_schema_defaults_are_the_options_defaults():
    assert _defaults(LANDSCAPE) == opt.LANDSCAPE_DEFAULTS
    assert _defaults(LANDSCAPE["qsft"]["properties"]) == opt.QSFT_DEFAULTS


def test_estimator_options_are_the_estimators_own_defaults():
    import inspect

    from plmscope.fourier import METHODS

    schema = LANDSCAPE["estimator_options"]["properties"]
    assert set(schema) == set(opt.ESTIMATOR_DEFAULTS) <= set(opt.BASELINES)
    for name, options in opt.ESTIMATOR_DEFAULTS.items():
        params = inspect.signature(METHODS[name].__init__).parameters
        assert {key: params[key].default for key in options} == options, name
        for key, node in schema[name]["properties"].items():
            if "enum" in node:
                assert options[key] in node["enum"], (name, key)


def test_config_landscapes_fill_to_the_options_and_qsft_options_match_config():
    for name, landscape in CONFIG["epistasis"]["landscapes"].items():
        cfg = opt.validate_landscape(landscape, name=name)
        assert set(cfg) == {"protein", "site_sets", *opt.LANDSCAPE_DEFAULTS}
        for key in ("C", "R", "delays", "noise_threshold", "max_iter"):
            assert cfg["qsft"][key] == opt.QSFT_DEFAULTS[key], (name, key)  # the demo landscapes use the defaults


def test_cli_defaults_come_from_options():
    parser = build_parser()

    def defaults(verb: str) -> dict:
        return vars(parser.parse_args(_required(verb)))

    att = defaults("attention")
    assert (att["theta"], att["max_residues"], att["max_tokens"], att["long_sequences"], att["dtype"]) == (
        opt.THETA, opt.MAX_RESIDUES, opt.MAX_TOKENS, opt.LONG_SEQUENCES, opt.DTYPE)  # fmt: skip
    enr = defaults("enrichment")
    assert (enr["min_count"], enr["alpha"], enr["top_k"], enr["contact_cutoff"], enr["contact_min_separation"]) == (
        opt.MIN_COUNT, opt.ALPHA, opt.TOP_K, opt.CONTACT_CUTOFF, opt.CONTACT_MIN_SEPARATION)  # fmt: skip
    rob = defaults("robustness")
    assert (rob["theta"], rob["thresholds"], rob["min_count"], rob["alpha"], rob["max_tokens"]) == (
        opt.THETA, list(opt.THRESHOLDS), opt.MIN_COUNT, opt.ALPHA, opt.MAX_TOKENS)  # fmt: skip
    for verb in ("contacts", "probe"):
        assert defaults(verb)["contact_cutoff"] == opt.CONTACT_CUTOFF
        assert defaults(verb)["max_residues"] == opt.MAX_RESIDUES
    assert parser.parse_args([*_required("attention"), "--max-tokens", "2048"]).max_tokens == 2048


def test_library_defaults_come_from_options():
    import inspect

    from plmscope.runs.attention import run_attention
    from plmscope.runs.enrichment import run_enrichment
    from plmscope.runs.robustness import run_null_models

    for func in (run_attention, run_null_models):
        params = inspect.signature(func).parameters
        assert params["theta"].default == opt.THETA and params["max_tokens"].default == opt.MAX_TOKENS
    params = inspect.signature(run_enrichment).parameters
    assert (params["min_count"].default, params["contact_cutoff"].default) == (opt.MIN_COUNT, opt.CONTACT_CUTOFF)


def test_validators():
    assert opt.check_int("n", 3) == 3
    for bad in (0, -1, 1.5, True, "x", None):
        with pytest.raises(PlmscopeError, match="^n must be a positive integer"):
            opt.check_int("n", bad)
    with pytest.raises(PlmscopeError, match=r"in \[2, 4\]"):
        opt.check_int("n", 5, low=2, high=4)
    assert opt.check_theta(1) == 1.0
    for bad in (0, 1.5, -0.1, "x", True):
        with pytest.raises(PlmscopeError, match=r"theta must be a number in \(0, 1\]"):
            opt.check_theta(bad)
    with pytest.raises(PlmscopeError, match=r"alpha must be a number in \(0, 1\)"):
        opt.check_probability("alpha", 1.0)
    assert opt.resolve_max_tokens("auto", "cpu") == opt.MAX_TOKENS_CPU
    assert opt.resolve_max_tokens("auto", "cuda") == opt.MAX_TOKENS_CUDA
    assert opt.resolve_max_tokens(1000, "cpu") == 1000


def _required(verb: str) -> list[str]:
    return {
        "attention": ["attention", "--proteins", "p", "--model", "m", "-o", "o"],
        "enrichment": ["enrichment", "--attention", "a", "--proteins", "p", "-o", "o"],
        "robustness": ["robustness", "--proteins", "p", "--model", "m", "-o", "o"],
        "contacts": ["contacts", "--proteins", "p", "--model", "m", "-o", "o"],
        "probe": ["probe", "--proteins", "p", "--model", "m", "-o", "o"],
    }[verb]


def test_semantics_switch_agrees_in_schema_config_cli_and_analysis():
    from plmscope.analysis import semantics

    top, paper = SCHEMA["properties"]["semantics"], SCHEMA["properties"]["paper"]["properties"]["semantics"]
    assert top["enum"] == paper["enum"] == list(opt.SEMANTICS_CHOICES) == list(semantics.SEMANTICS)
    assert top["default"] == CONFIG["semantics"] == opt.SEMANTICS == semantics.DEFAULT_SEMANTICS == "plmscope"
    assert paper["default"] == CONFIG["paper"]["semantics"] == opt.PAPER_SEMANTICS == "provis"
    for verb in ("attention", "enrichment"):
        assert vars(build_parser().parse_args(_required(verb)))["semantics"] == opt.SEMANTICS


def test_estimator_and_analysis_keyword_defaults_come_from_options():
    """A literal default in the library (q-SFT's C/R, the contact definition) that drifts from options fails here."""
    import inspect

    from plmscope.analysis import enrichment, features, semantics
    from plmscope.fourier.qsft import QSFT
    from plmscope.fourier.residual import ResidualQSFT

    for cls in (QSFT, ResidualQSFT):
        params = inspect.signature(cls).parameters
        assert (params["C"].default, params["R"].default) == (opt.QSFT_C, opt.QSFT_R), cls.__name__
        for key in ("b", "delays", "noise_threshold", "seed"):
            assert params[key].default == opt.QSFT_DEFAULTS[key], (cls.__name__, key)
    params = inspect.signature(QSFT).parameters
    assert (params["n_validation"].default, params["max_iter"].default) == (
        opt.QSFT_DEFAULTS["n_validation"], opt.QSFT_DEFAULTS["max_iter"])  # fmt: skip
    checked = 0
    for module in (enrichment, features, semantics):
        for name, func in inspect.getmembers(module, inspect.isfunction) + [
            (f"{c}.__init__", getattr(module, c).__init__) for c in dir(module)
            if inspect.isclass(getattr(module, c)) and getattr(module, c).__module__ == module.__name__
        ]:  # fmt: skip
            if getattr(func, "__module__", None) != module.__name__:
                continue
            params = inspect.signature(func).parameters
            if "cutoff" in params and params["cutoff"].default is not inspect.Parameter.empty:
                assert params["cutoff"].default == opt.CONTACT_CUTOFF, (module.__name__, name)
                checked += 1
            if "min_separation" in params and params["min_separation"].default is not inspect.Parameter.empty:
                assert params["min_separation"].default == opt.CONTACT_MIN_SEPARATION, (module.__name__, name)
    assert checked >= 4  # feature_arrays, the enrichment counter and functions, the semantics dispatchers
