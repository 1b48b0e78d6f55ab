# Shared Python for the rules: config checks, the tables every stage reads (datasets, models,
# downloads, landscapes), wildcard constraints and input functions. Depends on no other rule file.
#
# Config strings are data, never shell code: every value reaching a rule's `shell:` is quoted with
# `:q` (lists element by element; optional flags are lists, empty when absent), and dataset, model
# and landscape names (they become result paths and wildcards) must match NAME_PATTERN.
import json
import math
import re
import shutil
import sys
from pathlib import Path, PurePosixPath

import jsonschema
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.settings.types import DeploymentMethod
from snakemake.utils import validate


# Names of datasets, models and landscapes: no '.', '..', leading dot, slash or shell metacharacter.
# Kept equal to `definitions.name.pattern` of workflow/schemas/config.schema.yaml.
NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_-]*$"


def config_error(key, problem):
    """A one-line configuration error naming the offending key."""
    return WorkflowError(f"config {key}: {problem}")


def check_finite_numbers(value, key=""):
    """Reject NaN and infinite numbers anywhere in the config (JSON-schema bounds let NaN through)."""
    if isinstance(value, dict):
        for name, item in value.items():
            check_finite_numbers(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_finite_numbers(item, f"{key}[{index}]")
    elif isinstance(value, float) and not math.isfinite(value):
        raise config_error(key, f"{value} is not a finite number")


def check_names(config):
    """Every dataset, model and landscape name matches NAME_PATTERN (they become paths and wildcards)."""
    paper = config.get("paper") or {}
    epistasis = config.get("epistasis") or {}
    blocks = {
        "datasets": config.get("datasets"),
        "models": config.get("models"),
        "paper.datasets": paper.get("datasets"),
        "paper.models": paper.get("models"),
        "epistasis.landscapes": epistasis.get("landscapes"),
        "epistasis.paper.landscapes": (epistasis.get("paper") or {}).get("landscapes"),
    }
    for key, block in blocks.items():
        for name in block if isinstance(block, dict) else ():
            # fullmatch: JSON-schema's `$` (re.search) would also accept a trailing newline
            if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name):
                raise config_error(key, f"name {name!r} does not match {NAME_PATTERN}")


def validate_config(config):
    """Validate the config against the schema; a violation stops the run in one line naming its key."""
    try:
        validate(config, schema="../schemas/config.schema.yaml")
    except WorkflowError as error:
        cause = error.__context__
        if not isinstance(cause, jsonschema.ValidationError):
            raise
        key = ".".join(str(part) for part in cause.absolute_path) or "(top level)"
        raise config_error(key, cause.message) from None


# Snakemake itself expands `{name}` (wildcards) and `<name>` (pathvars) in input paths.
SNAKEMAKE_PATH_SYNTAX = re.compile(r"[{}]|<[a-z][a-z0-9_]*>")


def check_input_paths(config):
    """Files the config names as rule inputs hold no `{...}` or `<name>` Snakemake would expand."""
    paths = {}
    for block in ("datasets", "paper.datasets"):
        datasets = config["paper"]["datasets"] if block == "paper.datasets" else config["datasets"]
        for name, dataset in datasets.items():
            for index, path in enumerate(dataset.get("inputs", [])):
                paths[f"{block}.{name}.inputs[{index}]"] = path
    epistasis = config["epistasis"]
    for block, landscapes in (
        ("epistasis.landscapes", epistasis["landscapes"]),
        ("epistasis.paper.landscapes", epistasis["paper"]["landscapes"]),
    ):
        for name, spec in landscapes.items():
            for key in ("fasta", "table"):
                paths[f"{block}.{name}.protein.{key}"] = spec["protein"].get(key)
            paths[f"{block}.{name}.published"] = spec.get("published")
    paths["downloads.cache_dir"] = config.get("downloads", {}).get("cache_dir")
    paths["downloads.manifest"] = config.get("downloads", {}).get("manifest")
    for key, path in paths.items():
        if path and SNAKEMAKE_PATH_SYNTAX.search(path):
            raise config_error(key, f"{path!r}: Snakemake would expand its '{{...}}' or '<name>'; rename the file")


check_finite_numbers(config)
check_names(config)
validate_config(config)
check_input_paths(config)


def get_plmscope_command():
    """The plmscope CLI to call, as a list (each element quoted with `:q`).

    Under --use-conda / --sdm conda the envs hold dependencies only (envs/*.yaml): the package runs
    from this workflow's own source, `env PYTHONPATH=<workflow>/src python -m plmscope.cli`. Else the
    `plmscope` beside this Python, so `.venv/bin/snakemake` finds the venv's without activating it.
    """
    if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method:
        return ["env", f"PYTHONPATH={Path(workflow.basedir, 'src')}", "python", "-m", "plmscope.cli"]
    return [shutil.which("plmscope", path=str(Path(sys.executable).parent)) or "plmscope"]


PLMSCOPE = get_plmscope_command()

# The paper's published values ship with the workflow (found also when run with --directory).
PAPER_VALUES_DIR = Path(workflow.basedir, "resources", "paper")


# ---- downloads (workflow/rules/downloads.smk; manifest resources/downloads.yaml) ----------------
DOWNLOAD_CACHE = config.get("downloads", {}).get("cache_dir", "resources/downloads")

# `downloads: manifest:` replaces the shipped manifest (a mirror, a local test server); relative paths are
# relative to the working directory. Absolute, so `plmscope download --manifest` finds it (and writes
# its lock file beside it) whatever the job's working directory.
# (The shipped one is found from this file, not via workflow.source_path: that is a cached copy, and the
# lock file must be written beside the real manifest.)
_SHIPPED_MANIFEST = Path(str(workflow.current_basedir)).parent.parent / "resources" / "downloads.yaml"
DOWNLOAD_MANIFEST = Path(config.get("downloads", {}).get("manifest") or _SHIPPED_MANIFEST).resolve()
if not DOWNLOAD_MANIFEST.is_file():
    raise config_error("downloads.manifest", f"{str(DOWNLOAD_MANIFEST)!r}: no such file")
with open(DOWNLOAD_MANIFEST) as _manifest:
    DOWNLOADS = yaml.safe_load(_manifest)

# A file inside a `*.lmdb` directory stands for that directory (LMDB readers open the directory).
_LMDB_DIRS = {
    name: str(PurePosixPath(entry["dest"]).parent)
    for name, entry in DOWNLOADS.items()
    if not entry.get("extract") and PurePosixPath(entry["dest"]).parent.suffix == ".lmdb"
}

# Manifest name -> what the entry stands for: unpacked archive dir, LMDB dir or downloaded file.
DOWNLOAD_TARGETS = {
    name: f"{DOWNLOAD_CACHE}/{entry['extract_dir']}"
    if entry.get("extract")
    else f"{DOWNLOAD_CACHE}/{_LMDB_DIRS.get(name, entry['dest'])}"
    for name, entry in DOWNLOADS.items()
}

# Entries by the path (relative to the cache) of the output each download rule produces.
DOWNLOAD_FILES = {entry["dest"]: entry for name, entry in DOWNLOADS.items() if name not in _LMDB_DIRS}
DOWNLOAD_LMDBS = {path: DOWNLOADS[name] for name, path in _LMDB_DIRS.items()}
DOWNLOAD_ARCHIVES = {entry["extract_dir"]: entry for entry in DOWNLOADS.values() if entry.get("extract")}

# Wildcard regexes matching exactly those paths ("(?!)" never matches).
DOWNLOAD_PATTERNS = {
    kind: "|".join(re.escape(path) for path in sorted(paths)) or "(?!)"
    for kind, paths in (("file", DOWNLOAD_FILES), ("lmdb", DOWNLOAD_LMDBS), ("extracted", DOWNLOAD_ARCHIVES))
}

# Model directories built by this workflow (TAPE BERT converted from TAPE's own weights, attention.smk).
BUILT_MODELS = {"resources/models/tape_bert"}


# ---- datasets and models ---------------------------------------------------------------------
DATASETS = list(config["datasets"])
MODELS = list(config["models"])
PAPER = config["paper"]
PAPER_DATASETS = list(PAPER["datasets"])
PAPER_MODELS = list(PAPER["models"])
# Every dataset and model that jobs may need (the default run's and the paper's).
# TAPE's own validation splits for the provis-semantics probes of the paper models: `<dataset>_valid`.
PAPER_VALID_DATASETS = {f"{name}_valid": spec for name, spec in PAPER.get("probing_valid_datasets", {}).items()}
ALL_DATASETS = {**PAPER["datasets"], **PAPER_VALID_DATASETS, **config["datasets"]}
ALL_MODELS = {**PAPER["models"], **config["models"]}

for _name, _dataset in ALL_DATASETS.items():
    if "download" in _dataset and _dataset["download"] not in DOWNLOADS:
        _block = "datasets" if _name in config["datasets"] else "paper.datasets"
        raise config_error(
            f"{_block}.{_name}.download", f"{_dataset['download']!r} is not an entry of {DOWNLOAD_MANIFEST}"
        )
if config["probing"]["activate"] and config.get("semantics", "plmscope") == "provis" and not config["probing"].get("valid_dataset"):
    raise config_error("probing.valid_dataset", "semantics 'provis' probes need a validation dataset (TAPE's valid split)")
if config["probing"].get("valid_dataset") and config["probing"]["valid_dataset"] not in ALL_DATASETS:
    raise config_error(
        "probing.valid_dataset", f"{config['probing']['valid_dataset']!r} is not a configured dataset"
    )


def name_regex(names, *, none="(?!)"):
    """A wildcard regex matching exactly these names (escaped); `none` when there are none."""
    return "|".join(re.escape(name) for name in names) or none


wildcard_constraints:
    dataset=name_regex(ALL_DATASETS),
    model=name_regex(ALL_MODELS),


def get_dataset_inputs(wildcards):
    """Files (or download targets) a dataset is built from."""
    dataset = ALL_DATASETS[wildcards.dataset]
    if "download" in dataset:
        return [DOWNLOAD_TARGETS[dataset["download"]]]
    return dataset["inputs"]


def get_dataset_paths(wildcards):
    """The paths handed to `plmscope prepare` (a list): inputs, or the file inside a downloaded archive."""
    dataset = ALL_DATASETS[wildcards.dataset]
    if "download" in dataset:
        return [str(Path(DOWNLOAD_TARGETS[dataset["download"]], dataset.get("path", "")))]
    return list(dataset["inputs"])


def get_dataset_format(wildcards):
    """Input format of a dataset (proteinnet, tape-lmdb, pdb, fasta, table)."""
    return ALL_DATASETS[wildcards.dataset]["format"]


def get_dssp_option(wildcards):
    """`["--dssp"]` when the dataset asks for DSSP secondary structure, else `[]`."""
    return ["--dssp"] if ALL_DATASETS[wildcards.dataset].get("dssp", False) else []


def get_sample_option(wildcards):
    """`["--sample", N, "--seed", S, "--semantics", X]` when the dataset asks for a seeded subset, else `[]`."""
    dataset = ALL_DATASETS[wildcards.dataset]
    if dataset.get("sample") is None:
        return []
    return ["--sample", str(dataset["sample"]), "--seed", str(dataset.get("seed", 123)),
            "--semantics", get_dataset_semantics(wildcards.dataset)]  # fmt: skip


def is_sampled(dataset):
    """True when a dataset analyses a seeded subset (backgrounds then come from the full table)."""
    return ALL_DATASETS[dataset].get("sample") is not None


def get_background_input(wildcards):
    """The full (unsampled) protein table of a sampled dataset, for background frequencies."""
    dataset = wildcards.dataset
    return [f"results/proteins_full/{dataset}.parquet"] if is_sampled(dataset) else []


def get_background_option(wildcards, input):
    """`["--background-proteins", table]` for a sampled dataset, else `[]`."""
    background = [input.background] if isinstance(input.background, str) else list(input.background)
    return ["--background-proteins", *background] if background else []


def get_optional_option(flag, value):
    """`[flag, value]`, or `[]` when the value is null (the CLI default)."""
    return [] if value is None else [flag, str(value)]


def get_model_source(wildcards):
    """Hugging Face name, local directory or 'antiberty' for a configured model."""
    return ALL_MODELS[wildcards.model]["source"]


def get_model_input(wildcards):
    """A model directory this workflow builds (TAPE BERT conversion), else nothing."""
    source = get_model_source(wildcards)
    return [source] if source in BUILT_MODELS else []


def is_paper_only(model):
    """True for a model of the `paper:` block that the default run does not configure."""
    return model in PAPER_MODELS and model not in MODELS


# ---- semantics (README "Semantics: provis vs plmscope") ---------------------------------------
# The default run's jobs use `semantics`, the `paper` target's own jobs (paper-only models and
# datasets) `paper.semantics`; the paper comparison also computes each enrichment under the other.
SEMANTICS = config["semantics"]
PAPER_SEMANTICS = PAPER["semantics"]
OTHER_SEMANTICS = {"provis": "plmscope", "plmscope": "provis"}


wildcard_constraints:
    semantics="provis|plmscope",
    shard="[0-9]+",


def get_semantics(model):
    """Semantics of a model's attention and enrichment: `paper.semantics` for paper-only models, else `semantics`."""
    return PAPER_SEMANTICS if is_paper_only(model) else SEMANTICS


def get_dataset_semantics(dataset):
    """Semantics of a dataset's sample: `paper.semantics` for a dataset only the paper block configures."""
    return PAPER_SEMANTICS if dataset in PAPER_DATASETS and dataset not in DATASETS else SEMANTICS


def get_alternate_enrichment(models, datasets):
    """Enrichment of each model x dataset under the semantics it does not use by default."""
    return [
        f"results/enrichment_{OTHER_SEMANTICS[get_semantics(model)]}/{model}/{dataset}"
        for model in models
        for dataset in datasets
    ]


def get_shards(model):
    """Attention jobs per dataset of a model (`attention.shards`, `paper.attention.shards` for paper-only models)."""
    if is_paper_only(model) and "shards" in PAPER["attention"]:
        return PAPER["attention"]["shards"]
    return config["attention"]["shards"]


def get_attention_dirs(wildcards):
    """The attention dataset of a model x dataset, or its shards when `attention.shards` > 1."""
    model, dataset = wildcards.model, wildcards.dataset
    shards = get_shards(model)
    if shards == 1:
        return [f"results/attention/{model}/{dataset}"]
    return [f"results/attention_shards/{model}/{dataset}/{k}" for k in range(shards)]


def get_attention_setting(key):
    """Input function: an attention setting, from `paper.attention` for paper-only models."""

    def setting(wildcards, **_):
        if is_paper_only(wildcards.model) and key in PAPER["attention"]:
            return PAPER["attention"][key]
        return config["attention"][key]

    return setting


def get_final_output():
    """results/README.md, then what every dataset supports, for each configured model x dataset.

    Analyses that depend on what a dataset carries (structures, labels) come from
    :func:`get_planned_output` once the checkpoint `data_plan` has read its protein table.
    """
    out = ["results/README.md"] + expand("results/plan/{dataset}.md", dataset=DATASETS)
    out += expand("results/enrichment/{model}/{dataset}", model=MODELS, dataset=DATASETS)
    if config["figures"]["activate"]:
        out += expand("results/figures/{model}/{dataset}", model=MODELS, dataset=DATASETS)
    if config["sequence_views"]["activate"]:
        out += expand("results/seqviews/{model}/{dataset}", model=MODELS, dataset=DATASETS)
    out += get_paper_analyses_final_output()
    if config["epistasis"]["activate"]:
        out += expand("results/epistasis/{landscape}", landscape=EPISTASIS_LANDSCAPES)
    return out


def get_paper_output():
    """Everything the `paper` target reproduces: each paper model on each paper dataset."""
    out = expand("results/enrichment/{model}/{dataset}", model=PAPER_MODELS, dataset=PAPER_DATASETS)
    out += expand("results/figures/{model}/{dataset}", model=PAPER_MODELS, dataset=PAPER_DATASETS)
    out += get_paper_target_extras()
    return out


# ---- paper analyses, probing and the comparison (paper.smk, probing.smk) ----------------------
def get_paper_analyses_output(models, datasets):
    """Paper-analysis directories of each model on each dataset."""
    return expand("results/paper_analyses/{model}/{dataset}", model=models, dataset=datasets)


def get_probing_output(models, datasets):
    """Probing directories of each model on each dataset."""
    return expand("results/probing/{model}/{dataset}", model=models, dataset=datasets)


def get_planned_probing_output(wildcards):
    """Probing directories of the default run: each configured model on each dataset whose plan runs probing
    (none when probing.activate is false); the default comparison lists them as the paper target does."""
    return get_probing_output(MODELS, [dataset for dataset in DATASETS if is_planned(dataset, "probing")])


def get_comparison_datasets():
    """Datasets the paper comparison reads: those `paper.feature_datasets` names, else every paper dataset."""
    named = [d for d in PAPER["feature_datasets"].values() if d in PAPER["datasets"]]
    return list(dict.fromkeys(named)) or PAPER_DATASETS


def get_feature_dataset_options():
    """`["--feature-dataset", "feature=dataset", ...]` from `paper.feature_datasets`, else `[]`."""
    pairs = [f"{feature}={dataset}" for feature, dataset in PAPER["feature_datasets"].items()]
    return ["--feature-dataset", *pairs] if pairs else []


def get_probing_validation_option(wildcards, input):
    """`["--valid-proteins", table]` when a validation dataset applies, else the split fraction."""
    if "valid" in input.keys():
        return ["--valid-proteins", input.valid]
    return ["--valid-fraction", str(config["probing"]["valid_fraction"])]


def get_probing_semantics(wildcards):
    """`semantics` of the default run (plmscope unless set); `paper.semantics` (provis unless set) for paper-only models."""
    if is_paper_only(wildcards.model):
        return PAPER.get("semantics", "provis")
    return config.get("semantics", "plmscope")


def get_paper_probing_datasets():
    """Paper datasets probed: under provis semantics only those with a validation split (provis probes need one)."""
    if PAPER.get("semantics", "provis") != "provis":
        return PAPER_DATASETS
    return [d for d in PAPER_DATASETS if get_paper_probing_valid(d)]


def get_paper_probing_valid(dataset):
    """The `<dataset>_valid` table name of `paper.probing_valid_datasets` (TAPE's valid split), or None."""
    name = f"{dataset}_valid"
    return name if name in PAPER_VALID_DATASETS else None


def get_probing_option(key, flag):
    """`[flag, value]` from `probing.<key>`, or `[]` when the value is null (the CLI default: no limit)."""
    return get_optional_option(flag, config["probing"].get(key))


def get_probing_inputs(wildcards):
    """The protein table to probe and, when configured, the validation dataset's table.

    Paper-only models take TAPE's valid split of `paper.probing_valid_datasets` (provis probes need one).
    """
    dataset = wildcards.dataset
    inputs = {"proteins": f"results/proteins/{dataset}.parquet"}
    valid = config["probing"].get("valid_dataset")
    if is_paper_only(wildcards.model) and get_paper_probing_valid(dataset):
        valid = get_paper_probing_valid(dataset)
    if valid:
        inputs["valid"] = f"results/proteins/{valid}.parquet"
    if get_model_input(wildcards):  # the converted TAPE BERT directory (rule model_convert_tape)
        inputs["model"] = get_model_input(wildcards)[0]
    return inputs


def get_paper_analyses_final_output():
    """Default-target outputs of paper.smk and probing.smk for the configured models."""
    out = []
    if config["paper_analyses"]["activate"]:
        out += get_paper_analyses_output(MODELS, DATASETS)
        out += ["results/comparison/comparison.csv", "results/comparison/comparison.md"]
    return out


def get_paper_target_extras():
    """`paper`-target outputs of paper.smk and probing.smk: every paper model x dataset, and the comparison."""
    out = get_paper_analyses_output(PAPER_MODELS, PAPER_DATASETS)
    out += get_probing_output(PAPER_MODELS, get_paper_probing_datasets())
    out += ["results/paper/comparison.csv", "results/paper/comparison.md"]
    return out


# ---- epistasis (higher-order interactions, epistasis.smk) -------------------------------------
EPISTASIS = config["epistasis"]
EPISTASIS_LANDSCAPES = list(EPISTASIS["landscapes"])
EPISTASIS_PAPER = list(EPISTASIS["paper"]["landscapes"])
# Every landscape a job may need (the default run's and the paper's).
ALL_EPISTASIS = {**EPISTASIS["paper"]["landscapes"], **EPISTASIS["landscapes"]}


wildcard_constraints:
    landscape=name_regex(ALL_EPISTASIS, none="__none__"),


def is_epistasis_paper(landscape):
    """True for a landscape of `epistasis.paper` that the default run does not configure."""
    return landscape in EPISTASIS_PAPER and landscape not in EPISTASIS_LANDSCAPES


def get_epistasis_spec(wildcards):
    """The landscape's config as one JSON string (handed to `plmscope epistasis --spec`)."""
    return json.dumps(ALL_EPISTASIS[wildcards.landscape], separators=(",", ":"), sort_keys=True)


def get_epistasis_inputs(wildcards):
    """Files a landscape reads: its protein FASTA or table, and the published numbers."""
    spec = ALL_EPISTASIS[wildcards.landscape]
    protein = spec.get("protein", {})
    files = [protein[key] for key in ("fasta", "table") if protein.get(key)]
    if spec.get("published"):
        files.append(spec["published"])
    return files


def get_epistasis_resource(key):
    """Input function: a scheduler resource, from `epistasis.paper` for paper-only landscapes."""

    def resource(wildcards, **_):
        block = EPISTASIS["paper"] if is_epistasis_paper(wildcards.landscape) else EPISTASIS
        return block[key]

    return resource


# ---- the plan: what each dataset supports (checkpoint data_plan in data.smk) -------------------
# Analysis -> (result directory, config block with its `activate` switch). A skipped analysis is
# named once in the log and in results/plan/<dataset>.md (in the report); it never becomes a job.
PLANNED = {
    "views": ("results/views", "views"),
    "contacts": ("results/contacts", "contacts"),
    "probing": ("results/probing", "probing"),
    "robustness": ("results/robustness", "robustness"),
    "contact_maps": ("results/contact_maps", "contact_maps"),
}
_SKIPS_LOGGED = set()


def get_plan_inactive():
    """Analyses switched off in the config (`activate: false`), as `plmscope plan --inactive` values."""
    blocks = {**{name: block for name, (_, block) in PLANNED.items()}, "sequence_views": "sequence_views"}
    return [name for name, block in blocks.items() if not config[block]["activate"]]


def get_plan(dataset):
    """The plan of a dataset (results/proteins/<dataset>.plan.json), once checkpoint data_plan has run."""
    with open(checkpoints.data_plan.get(dataset=dataset).output.json) as plan:
        return json.load(plan)


def log_skip(dataset, analysis, reason):
    """Name a skipped analysis once in the log (input functions are evaluated several times)."""
    if (dataset, analysis) not in _SKIPS_LOGGED:
        _SKIPS_LOGGED.add((dataset, analysis))
        logger.warning(f"dataset {dataset}: {analysis} skipped: {reason}")


def is_planned(dataset, analysis):
    """True when the dataset supports the analysis and the config activates it; logs a skip once."""
    if not config[PLANNED.get(analysis, (None, analysis))[1]]["activate"]:
        return False
    entry = get_plan(dataset)["analyses"][analysis]
    if not entry["run"]:
        log_skip(dataset, analysis, entry["reason"])
    return entry["run"]


def get_contact_regression_dataset():
    """The dataset whose fitted contact regression `contact_maps` applies, or None (skips logged)."""
    named = config["contact_maps"]["train_dataset"]
    if named is not None:
        if named not in DATASETS:
            raise config_error("contact_maps.train_dataset", f"{named!r} is not a dataset of `datasets:`")
        return named if is_planned(named, "contacts") else None
    for dataset in DATASETS:
        if get_plan(dataset)["analyses"]["contacts"]["run"]:
            return dataset
    return None


def get_contact_regression_input(wildcards):
    """The `contacts` output (regression.parquet inside) of the regression's dataset for this model."""
    dataset = get_contact_regression_dataset()
    return expand("results/contacts/{model}/{dataset}", model=wildcards.model, dataset=dataset)


def get_planned_output(wildcards):
    """Input function of the default target: the analyses each dataset's plan supports (skips logged once)."""
    out = []
    for dataset in DATASETS:
        for analysis, (directory, _) in PLANNED.items():
            if analysis == "contact_maps" or not is_planned(dataset, analysis):
                continue
            out += expand(f"{directory}/{{model}}/{{dataset}}", model=MODELS, dataset=dataset)
    if config["contact_maps"]["activate"]:
        regression = get_contact_regression_dataset()
        if regression is None:
            reason = "no configured dataset has enough proteins with CA coordinates to fit the contact regression"
            if config["contacts"]["activate"] is False:
                reason = "contacts.activate is false: no contact regression is fitted"
            for dataset in DATASETS:
                log_skip(dataset, "contact_maps", reason)
        else:
            out += [f"results/contacts/{model}/{regression}" for model in MODELS]
            out += expand("results/contact_maps/{model}/{dataset}", model=MODELS, dataset=DATASETS)
    out.append("results/summary")  # the report's front page (its inputs follow the plans, like the above)
    return out


# ---- the report: categories in reading order, the summary front page (outputs.smk) --------------
# Snakemake sorts report categories by name, so they are numbered: the summary first, then contact,
# binding site, secondary structure, amino acids, epistasis (issue #12), then the rest.
REPORT_CATEGORIES = {
    "summary": "1. Summary",
    "contact": "2. Contacts",
    "binding_site": "3. Binding sites and PTMs",
    "secondary_structure": "4. Secondary structure",
    "amino_acids": "5. Amino acids",
    "epistasis": "6. Epistasis",
    "robustness": "7. Robustness and probing",
    "paper": "8. Comparison with Vig et al. (2021)",
    "views": "9. Views and analysis plan",
}
_SS_FEATURES = ("helix", "strand", "turn_bend")


def get_figure_category(wildcards):
    """Report category of an enrichment figure `<feature>_heatmap` / `<feature>_top_heads` (wildcard `name`)."""
    name = wildcards.name
    if name.startswith("contact"):
        return REPORT_CATEGORIES["contact"]
    if name.startswith(("binding_site", "ptm")):
        return REPORT_CATEGORIES["binding_site"]
    if name.startswith(_SS_FEATURES):
        return REPORT_CATEGORIES["secondary_structure"]
    return REPORT_CATEGORIES["amino_acids"]


def get_summary_inputs(wildcards):
    """What the summary reads: every enrichment, the planned contact predictions, the configured landscapes."""
    contacts = [f"results/contacts/{model}/{dataset}" for dataset in DATASETS if is_planned(dataset, "contacts")
                for model in MODELS]  # fmt: skip
    landscapes = EPISTASIS_LANDSCAPES if config["epistasis"]["activate"] else []
    return {
        "enrichment": expand("results/enrichment/{model}/{dataset}", model=MODELS, dataset=DATASETS),
        "contacts": contacts,
        "epistasis": expand("results/epistasis/{landscape}", landscape=landscapes),
    }


def get_summary_notes(wildcards):
    """`plmscope summary --note SECTION=TEXT` for the stages this run does not have (a list; `:q` quotes each)."""
    notes = []
    if not config["contacts"]["activate"]:
        notes.append("contact=Contact prediction is off (contacts.activate: false).")
    else:
        for dataset in DATASETS:
            entry = get_plan(dataset)["analyses"]["contacts"]
            if not entry["run"]:
                notes.append(f"contact=Dataset {dataset}: contact prediction skipped: {entry['reason']}.")
    if not config["epistasis"]["activate"]:
        notes.append("epistasis=The epistasis stage is off (epistasis.activate: false).")
    return [item for note in notes for item in ("--note", note)]
