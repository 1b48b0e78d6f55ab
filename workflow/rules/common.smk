# Shared Python for the rules: config validation, wildcard constraints and input functions.
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

DATASETS = list(config["datasets"])
MODELS = list(config["models"])


wildcard_constraints:
    dataset="|".join(DATASETS),
    model="|".join(MODELS),


def get_dataset_inputs(wildcards):
    """Input files of a dataset, as listed in the config."""
    return config["datasets"][wildcards.dataset]["inputs"]


def get_model_source(wildcards):
    """Hugging Face name, local directory or 'antiberty' for a configured model."""
    return config["models"][wildcards.model]["source"]


def get_sample_option(wildcards):
    """`--sample N --seed S` when the dataset asks for a seeded subset, else nothing."""
    dataset = config["datasets"][wildcards.dataset]
    if dataset.get("sample") is None:
        return ""
    return f"--sample {dataset['sample']} --seed {dataset.get('seed', 123)}"


def get_final_output():
    """Every enrichment table and figure directory for each configured model x dataset."""
    out = expand("results/enrichment/{model}/{dataset}", model=MODELS, dataset=DATASETS)
    if config["figures"]["activate"]:
        out += expand("results/figures/{model}/{dataset}", model=MODELS, dataset=DATASETS)
    if config["views"]["activate"]:
        out += expand("results/views/{model}/{dataset}", model=MODELS, dataset=DATASETS)
    return out
