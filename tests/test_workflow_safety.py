"""Config strings are data: quoting of every shell value, name patterns and numeric bounds (issue #9)."""

from __future__ import annotations

import math
import re
import shlex
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from plmscope.analysis.features import FEATURES
from plmscope.data.table import read_proteins

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "workflow" / "rules"
SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())

STAGES = ("data", "attention", "enrichment", "figures", "contacts", "robustness", "probing", "paper",
          "epistasis", "downloads", "outputs")  # fmt: skip
EVIL_SOURCE = "$(touch pwned)antiberty"
# A real file name with every shell metacharacter Snakemake lets through (it expands `{x}` and `<x>`).
EVIL_NAME = "odd $(touch pwned) `touch pwned2` ; touch pwned3 & | <> <X> (v2) 'single' \"double\" \\ $HOME.fasta"
SPACED_NAME = "my protein (v2).fasta"
FASTA = ">P1 one\nMKTAYIAKQR\n>P2 two\nACDEFGHIKL\n"


def snakemake(workdir: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """This interpreter's snakemake on the repository's Snakefile, run in `workdir`."""
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), *args],
        check=False,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )


def default_config() -> dict:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    # the epistasis inputs are repository files: point at them from any working directory
    for block in (config["epistasis"]["landscapes"], config["epistasis"]["paper"]["landscapes"]):
        for spec in block.values():
            spec["protein"]["fasta"] = str(REPO / spec["protein"]["fasta"])
            if spec.get("published"):
                spec["published"] = str(REPO / spec["published"])
    return config


def write_config(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def pwned(*dirs: Path) -> list[Path]:
    return [p for d in dirs for p in d.rglob("pwned*")]


def shell_commands(output: str) -> list[list[str]]:
    """Every `Shell command:` line of a `-p` run, split as bash would (raises on broken quoting)."""
    return [shlex.split(line.split("Shell command: ", 1)[1]) for line in output.splitlines() if "Shell command: " in line]


@pytest.fixture
def hostile(tmp_path) -> tuple[Path, Path]:
    """A config whose model source, input paths and cache directory carry shell code."""
    data = tmp_path / "data"
    data.mkdir()
    (data / EVIL_NAME).write_text(FASTA)
    (data / SPACED_NAME).write_text(">P3 three\nMKVLAAGIVG\n")
    config = default_config()
    config["datasets"] = {"odd": {"format": "fasta", "inputs": [f"data/{EVIL_NAME}", f"data/{SPACED_NAME}"]}}
    config["models"] = {"evil": {"source": EVIL_SOURCE}}
    config["epistasis"]["cache_dir"] = "cache $(touch pwned)"
    return tmp_path, write_config(tmp_path, config)


# --- quoting -------------------------------------------------------------------------------------


def test_every_placeholder_in_rule_files_is_quoted():
    """No `{params.x}`, `{input}`, `{output}`, `{wildcards.x}`, `{log}` or `{threads}` without `:q`."""
    placeholder = re.compile(r"\{(params|input|output|wildcards|log|threads|resources)\b[^{}]*\}")
    unquoted = [
        f"{smk.name}: {m.group(0)}"
        for smk in sorted(RULES.glob("*.smk"))
        for m in placeholder.finditer(smk.read_text())
        if not m.group(0).endswith(":q}")
    ]
    assert not unquoted, unquoted


def test_hostile_config_dry_run_quotes_every_value(hostile):
    workdir, config = hostile
    result = snakemake(workdir, "-n", "-p", "--forceall", "--configfile", str(config))
    assert result.returncode == 0, result.stdout
    commands = shell_commands(result.stdout)
    assert len(commands) >= 10
    prepare = [c for c in commands if "prepare" in c]
    assert prepare and all(
        f"data/{EVIL_NAME}" in c and f"data/{SPACED_NAME}" in c for c in prepare
    ), prepare  # each path one argument
    models = [c[c.index("--model") + 1] for c in commands if "--model" in c]
    assert models and set(models) == {EVIL_SOURCE}
    assert shlex.quote(EVIL_SOURCE) in result.stdout and shlex.quote(f"data/{EVIL_NAME}") in result.stdout
    epistasis = [c for c in commands if "epistasis" in c]
    assert epistasis and all(c[c.index("--cache-dir") + 1] == "cache $(touch pwned)" for c in epistasis)
    # optional flags left out leave no empty argument behind (`:q` of [] and of "" is nothing)
    assert not [c for c in commands if "" in c]
    assert not pwned(workdir, REPO)


def test_hostile_input_paths_work_through_a_real_prepare_job(hostile):
    workdir, config = hostile
    result = snakemake(workdir, "results/proteins/odd.parquet", "--cores", "1", "--configfile", str(config))
    assert result.returncode == 0, result.stdout
    proteins = read_proteins(workdir / "results/proteins/odd.parquet")
    assert [p.id for p in proteins] == ["P1", "P2", "P3"]
    assert not pwned(workdir, REPO)


def test_optional_flags_stay_separate_arguments(tmp_path):
    """`--background-proteins`, `--sample`, `--feature-dataset` reach the CLI as separate arguments."""
    config = write_config(tmp_path, default_config())
    result = snakemake(tmp_path, "paper", "-n", "-p", "--forceall", "--configfile", str(config))
    assert result.returncode == 0, result.stdout
    commands = shell_commands(result.stdout)
    enrichment = next(c for c in commands if "--proteins" in c and "results/proteins/proteinnet.parquet" in c
                      and "enrichment" in c)  # fmt: skip
    flag = enrichment.index("--background-proteins")
    assert enrichment[flag + 1] == "results/proteins_full/proteinnet.parquet"
    prepare = next(c for c in commands if "results/proteins/proteinnet.parquet" in c and "prepare" in c)
    assert prepare[prepare.index("--sample") :][:4] == ["--sample", "5000", "--seed", "123"]
    compare = next(c for c in commands if "results/paper/comparison.csv" in c)
    flag = compare.index("--feature-dataset")
    pairs = compare[flag + 1 : flag + 8]
    assert {"contact=proteinnet", "binding_site=binding_sites", "amino_acids=proteinnet"} <= set(pairs)


# --- names ---------------------------------------------------------------------------------------

BAD_NAMES = ("..", ".", ".hidden", "a/b", "a b", "x;y", "$(x)", "a.b", "-a", "_a", "", "a`b`", "a'b")


@pytest.mark.parametrize("name", BAD_NAMES)
def test_schema_name_pattern_rejects(name):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(name, SCHEMA["definitions"]["name"])


def test_schema_pattern_is_common_smk_pattern_and_accepts_the_paper_names():
    pattern = SCHEMA["definitions"]["name"]["pattern"]
    assert f'NAME_PATTERN = "{pattern}"' in (RULES / "common.smk").read_text()
    config = default_config()
    names = [*config["paper"]["models"], *config["paper"]["datasets"], *config["epistasis"]["paper"]["landscapes"],
             *config["models"], *config["datasets"], *config["epistasis"]["landscapes"]]  # fmt: skip
    assert "esm2_t33_650M_UR50D" in names
    assert all(re.fullmatch(pattern, name) for name in names)


def rename(config: dict, block: str, name: str) -> None:
    *parents, last = block.split(".")
    section = config
    for key in parents:
        section = section[key]
    first = next(iter(section[last]))
    section[last][name] = section[last].pop(first)


@pytest.mark.parametrize(
    ("block", "name"),
    [
        ("datasets", ".."),
        ("models", ".hidden"),
        ("epistasis.landscapes", "a/b"),
        ("paper.models", ".."),
        ("paper.datasets", "x;touch pwned"),
        ("epistasis.paper.landscapes", "."),
        ("models", "ab\n"),  # the schema's `$` would let a trailing newline through
    ],
)
def test_bad_name_stops_the_run_before_any_job(tmp_path, block, name):
    config = default_config()
    rename(config, block, name)
    result = snakemake(tmp_path, "-n", "--configfile", str(write_config(tmp_path, config)))
    assert result.returncode != 0
    assert f"config {block}: name {name!r} does not match" in result.stdout, result.stdout
    assert "Building DAG" not in result.stdout
    assert not pwned(tmp_path)


# --- numbers and choices -------------------------------------------------------------------------


def set_key(config: dict, key: str, value) -> None:
    *parents, last = key.split(".")
    for part in parents:
        config = config[part]
    config[last] = value


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("attention.theta", math.nan, "config attention.theta: nan is not a finite number"),
        ("enrichment.alpha", math.nan, "config enrichment.alpha: nan is not a finite number"),
        ("enrichment.contact_cutoff", math.inf, "config enrichment.contact_cutoff: inf is not a finite number"),
        ("robustness.thresholds", [0.1, math.nan], "config robustness.thresholds[1]: nan is not a finite number"),
        ("enrichment.min_count", 0, "config enrichment.min_count: 0 is less than the minimum of 1"),
        ("views.feature", "helixx", "config views.feature: 'helixx' is not one of"),
        ("views.feature", "$(touch pwned)", "config views.feature: '$(touch pwned)' is not one of"),
        ("attention.theta", 0, "config attention.theta: 0 is less than or equal to the minimum of 0"),
        ("enrichment.alpha", 1, "config enrichment.alpha: 1 is greater than or equal to the maximum of 1"),
        ("probing.valid_dataset", "missing", "config probing.valid_dataset: 'missing' is not a configured dataset"),
        ("datasets.demo.inputs", ["data/a{x}.fasta"], "config datasets.demo.inputs[0]: 'data/a{x}.fasta'"),
    ],
)
def test_bad_value_stops_the_run_in_one_line_naming_the_key(tmp_path, key, value, message):
    config = default_config()
    set_key(config, key, value)
    result = snakemake(tmp_path, "-n", "--configfile", str(write_config(tmp_path, config)))
    assert result.returncode != 0
    lines = [line for line in result.stdout.splitlines() if line.startswith(message)]
    assert len(lines) == 1, result.stdout
    assert "Building DAG" not in result.stdout
    assert not pwned(tmp_path)


def test_views_feature_enum_is_the_feature_list():
    assert SCHEMA["definitions"]["feature"]["enum"] == list(FEATURES)


# --- layout (renovation #10) ---------------------------------------------------------------------


def test_rule_files_are_named_by_stage_and_included_common_first():
    assert {p.stem for p in RULES.glob("*.smk")} == {"common", *STAGES}
    includes = re.findall(r'^include: "workflow/rules/(\w+)\.smk"', (REPO / "Snakefile").read_text(), re.MULTILINE)
    assert includes[0] == "common" and set(includes) == {"common", *STAGES}


def test_common_smk_stands_alone(tmp_path):
    """common.smk needs no other rule file: shared tables (downloads, built models) live in it."""
    (tmp_path / "Snakefile").write_text(
        f'configfile: "{REPO / "config.yaml"}"\n\n\n'
        f'include: "{RULES / "common.smk"}"\n\n\n'
        "rule check:\n"
        "    output:\n"
        '        "check.txt",\n'
        "    params:\n"
        "        n=len(DOWNLOAD_TARGETS) + len(BUILT_MODELS) + len(get_final_output()),\n"
        "    shell:\n"
        '        "echo {params.n:q} > {output:q}"\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", "Snakefile", "-n", "check"],
        check=False, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout
