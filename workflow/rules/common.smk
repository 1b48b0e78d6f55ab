# Shared Python for the rules: config validation, wildcard constraints and input functions.
import json
import shutil
import sys
from pathlib import Path

from snakemake.settings.types import DeploymentMethod
from snakemake.utils import validate


validate(config, schema="../schemas/config.schema.yaml")



def get_plmscope_command():
    """The plmscope CLI to call: the conda env's under --use-conda, else the one beside this Python.

    So `.venv/bin/snakemake` finds the venv's `plmscope` without activating the venv.
    """
    if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method:
        return "plmscope"
    return shutil.which("plmscope", path=str(Path(sys.executable).parent)) or "plmscope"


PLMSCOPE = get_plmscope_command()

# The paper's published values ship with the workflow (found also when run with --directory).
PAPER_VALUES_DIR = Path(workflow.basedir, "resources", "paper")

DATASETS = list(config["datasets"])
MODELS = list(config["models"])
PAPER = config["paper"]
PAPER_DATASETS = list(PAPER["datasets"])
PAPER_MODELS = list(PAPER["models"])
# Every dataset and model that jobs may need (the default run's and the paper's).
ALL_DATASETS = {**PAPER["datasets"], **config["datasets"]}
ALL_MODELS = {**PAPER["models"], **config["models"]}


wildcard_constraints:
    dataset="|".join(ALL_DATASETS),
    model="|".join(ALL_MODELS),


def get_dataset_inputs(wildcards):
    """Files (or download targets) a dataset is built from; downloads come from download.smk."""
    dataset = ALL_DATASETS[wildcards.dataset]
    if "download" in dataset:
        return [DOWNLOAD_TARGETS[dataset["download"]]]
    return dataset["inputs"]


def get_dataset_paths(wildcards):
    """The paths handed to `plmscope prepare`: inputs, or the file inside a downloaded archive."""
    dataset = ALL_DATASETS[wildcards.dataset]
    if "download" in dataset:
        return str(Path(DOWNLOAD_TARGETS[dataset["download"]], dataset.get("path", "")))
    return " ".join(dataset["inputs"])


def get_dataset_format(wildcards):
    """Input format of a dataset (proteinnet, tape-lmdb, pdb, fasta, table)."""
    return ALL_DATASETS[wildcards.dataset]["format"]


def get_dssp_option(wildcards):
    """`--dssp` when the dataset asks for DSSP secondary structure."""
    return "--dssp" if ALL_DATASETS[wildcards.dataset].get("dssp", False) else ""


def get_sample_option(wildcards):
    """`--sample N --seed S` when the dataset asks for a seeded subset, else nothing."""
    dataset = ALL_DATASETS[wildcards.dataset]
    if dataset.get("sample") is None:
        return ""
    return f"--sample {dataset['sample']} --seed {dataset.get('seed', 123)}"


def is_sampled(dataset):
    """True when a dataset analyses a seeded subset (backgrounds then come from the full table)."""
    return ALL_DATASETS[dataset].get("sample") is not None


def get_background_input(wildcards):
    """The full (unsampled) protein table of a sampled dataset, for background frequencies."""
    return [f"results/proteins_full/{wildcards.dataset}.parquet"] if is_sampled(wildcards.dataset) else []


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


def get_attention_setting(key):
    """Input function: an attention setting, from `paper.attention` for paper-only models."""

    def setting(wildcards, **_):
        if is_paper_only(wildcards.model) and key in PAPER["attention"]:
            return PAPER["attention"][key]
        return config["attention"][key]

    return setting


def get_final_output():
    """Every enrichment table and figure directory for each configured model x dataset."""
    out = expand("results/enrichment/{model}/{dataset}", model=MODELS, dataset=DATASETS)
    if config["figures"]["activate"]:
        out += expand("results/figures/{model}/{dataset}", model=MODELS, dataset=DATASETS)
    if config["views"]["activate"]:
        out += expand("results/views/{model}/{dataset}", model=MODELS, dataset=DATASETS)
    if config["contacts"]["activate"]:
        out += expand("results/contacts/{model}/{dataset}", model=MODELS, dataset=DATASETS)
    if config["robustness"]["activate"]:
        out += expand("results/robustness/{model}/{dataset}", model=MODELS, dataset=DATASETS)
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


# ---- paper analyses, probing and the comparison (workflow/rules/paper.smk) ----------------------
def get_paper_analyses_output(models, datasets):
    """Paper-analysis directories of each model on each dataset."""
    return expand("results/paper_analyses/{model}/{dataset}", model=models, dataset=datasets)


def get_probing_output(models, datasets):
    """Probing directories of each model on each dataset."""
    return expand("results/probing/{model}/{dataset}", model=models, dataset=datasets)


def get_comparison_datasets():
    """Datasets the paper comparison reads: those `paper.feature_datasets` names, else every paper dataset."""
    named = [d for d in PAPER["feature_datasets"].values() if d in PAPER["datasets"]]
    return list(dict.fromkeys(named)) or PAPER_DATASETS


def get_feature_dataset_options():
    """`--feature-dataset feature=dataset ...` from `paper.feature_datasets`."""
    pairs = [f"{feature}={dataset}" for feature, dataset in PAPER["feature_datasets"].items()]
    return ("--feature-dataset " + " ".join(pairs)) if pairs else ""


def get_probing_validation_option(wildcards, input):
    """`--valid-proteins TABLE` when a validation dataset is configured, else the split fraction."""
    if config["probing"].get("valid_dataset"):
        return f"--valid-proteins {input.valid}"
    return f"--valid-fraction {config['probing']['valid_fraction']}"


def get_probing_option(key, flag):
    """`--flag value` from `probing.<key>`, or nothing when the value is null (the CLI default: no limit)."""
    value = config["probing"].get(key)
    return "" if value is None else f"{flag} {value}"


def get_probing_inputs(wildcards):
    """The protein table to probe and, when configured, the validation dataset's table."""
    inputs = {"proteins": f"results/proteins/{wildcards.dataset}.parquet"}
    valid = config["probing"].get("valid_dataset")
    if valid:
        inputs["valid"] = f"results/proteins/{valid}.parquet"
    return inputs


def get_paper_analyses_final_output():
    """Default-target outputs of paper.smk: analyses, probes and the comparison of the configured models."""
    out = []
    if config["paper_analyses"]["activate"]:
        out += get_paper_analyses_output(MODELS, DATASETS)
        out += ["results/comparison/comparison.csv", "results/comparison/comparison.md"]
    if config["probing"]["activate"]:
        out += get_probing_output(MODELS, DATASETS)
    return out


def get_paper_target_extras():
    """`paper`-target outputs of paper.smk: analyses and probes of every paper model x dataset, and the comparison."""
    out = get_paper_analyses_output(PAPER_MODELS, PAPER_DATASETS)
    out += get_probing_output(PAPER_MODELS, PAPER_DATASETS)
    out += ["results/paper/comparison.csv", "results/paper/comparison.md"]
    return out


# ---- epistasis (higher-order interactions): paste into workflow/rules/common.smk ----

EPISTASIS = config["epistasis"]
EPISTASIS_LANDSCAPES = list(EPISTASIS["landscapes"])
EPISTASIS_PAPER = list(EPISTASIS["paper"]["landscapes"])
# Every landscape a job may need (the default run's and the paper's).
ALL_EPISTASIS = {**EPISTASIS["paper"]["landscapes"], **EPISTASIS["landscapes"]}


wildcard_constraints:
    landscape="|".join(ALL_EPISTASIS) or "__none__",


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
