"""The Snakemake workflow: lint, dry runs, config validation and one full CPU run on two proteins."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from plmscope.data.table import read_proteins, write_proteins

REPO = Path(__file__).resolve().parents[1]


def snakemake(*args: str, cwd: Path = REPO, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run this interpreter's snakemake; return the completed process (stdout+stderr in .stdout)."""
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )


def test_lint_is_clean():
    result = snakemake("--lint")
    assert result.returncode == 0, result.stdout
    assert "Lints for" not in result.stdout


def test_default_config_dry_run_plans_every_stage():
    result = snakemake("-n", "--forceall", "--quiet", "rules")
    assert result.returncode == 0, result.stdout
    for rule in ("data_prepare", "data_plan", "attention_extract", "enrichment_compute", "figures_enrichment",
                 "figures_seqview", "outputs_readme"):  # fmt: skip
        assert rule in result.stdout


def test_dry_run_after_the_plan_requests_only_what_each_dataset_supports(tmp_path):
    """The checkpoint's plan: a structured table gets 3D views, contacts, probing; FASTA gets skips, named once."""
    from plmscope.runs.plan import run_plan
    from plmscope.runs.prepare import run_prepare

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    fasta = tmp_path / "mine.fasta"
    fasta.write_text(">a\nMKTAYIAKQRQISFVKSHFSRQ\n>b\nACDEFGHIKLMNPQRSTVWY\n")
    demo = REPO / "resources/demo/proteins.parquet"
    config["datasets"] = {"demo": {"format": "table", "inputs": [str(demo)]},
                          "mine": {"format": "fasta", "inputs": [str(fasta)]}}  # fmt: skip
    config["epistasis"]["activate"] = False
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    for name, fmt, source in (("demo", "table", demo), ("mine", "fasta", fasta)):
        table = tmp_path / f"results/proteins/{name}.parquet"
        run_prepare([source], fmt=fmt, output=table)
        run_plan(table, tmp_path / f"results/proteins/{name}.plan.json", dataset=name,
                 markdown=tmp_path / f"results/plan/{name}.md",
                 contacts_train_proteins=config["contacts"]["train_proteins"])  # fmt: skip
    result = snakemake("-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "--configfile", str(tmp_path / "config.yaml"),
                       "-n", "-p")  # fmt: skip
    assert result.returncode == 0, result.stdout
    out = result.stdout
    for path in ("results/views/antiberty/demo", "results/contacts/antiberty/demo", "results/probing/antiberty/demo",
                 "results/robustness/antiberty/mine", "results/contact_maps/antiberty/mine",
                 "results/seqviews/antiberty/mine"):  # fmt: skip
        assert f"output: {path}" in out, path
    for path in ("results/views/antiberty/mine", "results/contacts/antiberty/mine", "results/probing/antiberty/mine"):
        assert f"output: {path}" not in out, path
    for analysis in ("views", "contacts", "probing"):
        assert out.count(f"dataset mine: {analysis} skipped:") == 1, analysis
    assert "dataset demo:" not in out


def test_misspelled_config_key_stops_the_run_naming_the_key(tmp_path):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["attention"]["thetta"] = config["attention"].pop("theta")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    result = snakemake("-n", "--configfile", str(bad), "-d", str(tmp_path))
    assert result.returncode != 0
    assert "'thetta' was unexpected" in result.stdout


def test_wrong_type_stops_the_run_naming_the_value(tmp_path):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["enrichment"]["min_count"] = "lots"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    result = snakemake("-n", "--configfile", str(bad), "-d", str(tmp_path))
    assert result.returncode != 0
    assert "'lots' is not of type 'integer'" in result.stdout


@pytest.mark.slow
def test_full_run_on_two_real_proteins(tmp_path):
    """`snakemake --cores 2` end to end on two demo proteins with the real pretrained AntiBERTy."""
    proteins = read_proteins(REPO / "resources/demo/proteins.parquet")
    two = sorted(proteins, key=lambda r: len(r.sequence))[:2]
    table = tmp_path / "two.parquet"
    write_proteins(two, table)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["datasets"] = {"two": {"format": "table", "inputs": [str(table)]}}
    config["enrichment"]["min_count"] = 1
    config["contacts"]["train_proteins"] = 1
    config["robustness"]["n_boot"] = 50
    config["probing"]["valid_fraction"] = 0.5
    config["epistasis"]["activate"] = False  # minutes of scoring; run_epistasis has its own tests
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))

    result = snakemake(
        "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "--configfile", str(tmp_path / "config.yaml"),
        "--cores", "2",
    )
    assert result.returncode == 0, result.stdout

    enrichment = tmp_path / "results/enrichment/antiberty/two"
    table = pd.read_parquet(enrichment / "enrichment.parquet")
    assert set(table["layer"]) == set(range(1, 9)) and set(table["head"]) == set(range(1, 9))  # 1-based on disk
    assert (tmp_path / "results/README.md").read_text().startswith("# plmscope outputs")
    assert {"contact", "helix", "aa_A"} <= set(table["feature"])
    assert (enrichment / "top_heads.csv").stat().st_size > 0
    figures = tmp_path / "results/figures/antiberty/two"
    assert (figures / "contact_heatmap.png").stat().st_size > 0
    assert (figures / "contact_heatmap.svg").stat().st_size > 0
    views = tmp_path / "results/views/antiberty/two"
    assert (views / "index.html").stat().st_size > 0
    assert len(list(views.glob("*.html"))) >= 2
    contacts = pd.read_csv(tmp_path / "results/contacts/antiberty/two/contact_prediction.csv")
    assert {"regression", "random"} <= set(contacts["method"])
    null_models = pd.read_csv(tmp_path / "results/robustness/antiberty/two/null_models.csv")
    assert len(null_models) > 0
    assert (tmp_path / "results/comparison/comparison.md").stat().st_size > 0
    assert any((tmp_path / "results/paper_analyses/antiberty/two").glob("*.png"))
    assert any((tmp_path / "results/probing/antiberty/two").glob("*.csv"))

    report = snakemake(
        "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "--configfile", str(tmp_path / "config.yaml"),
        "--report", str(tmp_path / "report.zip"),
    )
    assert report.returncode == 0, report.stdout
    names = zipfile.ZipFile(tmp_path / "report.zip").namelist()
    assert "report/report.html" in names
    assert any(name.endswith("contact_heatmap.png") for name in names)
    assert any(name.endswith("index.html") for name in names)


@pytest.mark.slow
def test_own_data_fasta_and_pdb_without_sites_every_job_succeeds(tmp_path):
    """Issue #12: a FASTA-only dataset and a PDB folder without SITE records in the default target.

    Every job succeeds; what the data cannot feed is skipped, named once in the log and in the plan
    pages; the FASTA proteins get sequence views and contact maps from the regression fitted on the PDB set.
    """
    fasta = tmp_path / "mine.fasta"
    fasta.write_text(">seq1 first\nMKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ\n>seq2\nEVQLVESGGGLVQPGGSLRLSCAASGFTFS\n")
    pdb_dir = tmp_path / "pdb"
    pdb_dir.mkdir()
    for name in ("1A8O_ca.pdb", "2BEG_ca.pdb"):  # CA records of PDB 1A8O and 2BEG: no SITE records
        (pdb_dir / name).write_bytes((REPO / "tests/data" / name).read_bytes())
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["datasets"] = {
        "mine": {"format": "fasta", "inputs": [str(fasta)]},
        "structures": {"format": "pdb", "inputs": sorted(str(p) for p in pdb_dir.glob("*.pdb"))},
    }
    config["enrichment"]["min_count"] = 1
    # seed 3 trains on 1A8O_A and one 2BEG chain (a lone 26-residue fibril chain has no contact 6 apart)
    config["contacts"].update(train_proteins=2, seed=3)
    config["robustness"]["n_boot"] = 50
    config["probing"]["valid_fraction"] = 0.5
    config["epistasis"]["activate"] = False
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    args = ("-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "--configfile", str(tmp_path / "config.yaml"))

    result = snakemake(*args, "--cores", "2")
    assert result.returncode == 0, result.stdout
    out = result.stdout
    for analysis in ("views", "contacts", "probing"):
        assert out.count(f"dataset mine: {analysis} skipped:") == 1, (analysis, out)
    assert "dataset structures:" not in out
    plan = (tmp_path / "results/plan/mine.md").read_text()
    assert "| contacts | skipped: 0 proteins with CA coordinates" in plan
    assert "| views | skipped: no protein has CA coordinates" in plan
    assert "binding sites 0" in (tmp_path / "results/plan/structures.md").read_text()
    results = tmp_path / "results"
    for missing in ("views", "contacts", "probing"):
        assert not (results / missing / "antiberty/mine").exists()
    # the structured set runs what needs structure; its 3D views fall back from binding_site (no SITE records)
    assert (results / "views/antiberty/structures/index.html").is_file()
    assert "lists no head on this dataset" in (results / "views/antiberty/structures/index.html").read_text()
    assert (results / "contacts/antiberty/structures/regression.parquet").is_file()
    assert any((results / "probing/antiberty/structures").glob("*.csv"))
    for dataset, ids in (("mine", ("seq1", "seq2")), ("structures", ("1A8O_A",))):
        views = results / "seqviews/antiberty" / dataset
        assert (views / "index.html").is_file()
        assert all((views / f"{pid}.html").stat().st_size > 0 for pid in ids)
        maps = results / "contact_maps/antiberty" / dataset
        probs = pd.read_parquet(maps / "contact_probs.parquet")
        assert set(ids) <= set(probs["protein_id"])
        assert all((maps / f"contact_map_{pid}.png").stat().st_size > 0 for pid in ids)
    assert (results / "robustness/antiberty/mine/meta.json").is_file()

    report = snakemake(*args, "--report", str(tmp_path / "report.zip"))
    assert report.returncode == 0, report.stdout
    names = zipfile.ZipFile(tmp_path / "report.zip").namelist()
    assert any(name.endswith("mine.md") for name in names)


PAPER_MODELS = (
    "tape_bert", "prot_albert", "prot_bert", "prot_bert_bfd", "prot_xlnet", "esm2_t6_8M_UR50D",
    "esm2_t12_35M_UR50D", "esm2_t30_150M_UR50D", "esm2_t33_650M_UR50D", "esm2_t36_3B_UR50D",
    "esm2_t48_15B_UR50D",
)  # fmt: skip
PAPER_DATASETS = ("proteinnet", "secondary_structure", "binding_sites", "protein_modifications")


@pytest.mark.parametrize("profile", [None, "profiles/slurm"])
def test_paper_target_plans_every_model_dataset_and_download(profile):
    args = ["-n", "--forceall", "paper"] + ([] if profile is None else ["--profile", profile])
    result = snakemake(*args)
    assert result.returncode == 0, result.stdout
    out = result.stdout
    for model in PAPER_MODELS:
        for dataset in PAPER_DATASETS:
            assert f"output: results/enrichment/{model}/{dataset}" in out, (model, dataset)
            assert f"output: results/figures/{model}/{dataset}" in out, (model, dataset)
    for rule in ("download_file", "download_lmdb", "download_extract", "model_convert_tape", "data_prepare_full"):
        assert f"rule {rule}:" in out
    assert "--sample 5000 --seed 123" in out
    assert "--background-proteins results/proteins_full/proteinnet.parquet" in out
    assert "--sample 5000 --seed 123 --semantics provis" in out  # the paper's own datasets: provis sample
    assert "-o results/enrichment/prot_bert/proteinnet" in out
    assert "--semantics provis > logs/enrichment_compute/prot_bert/proteinnet.log" in out
    assert "-o results/enrichment_plmscope/prot_bert/proteinnet" in out  # the other semantics, for the comparison
    assert "--enrichment-alternate results/enrichment_plmscope/tape_bert/proteinnet" in out
    # every job loading the converted TAPE BERT waits for its conversion (probing raced it before)
    assert ("input: results/proteins/proteinnet.parquet, results/proteins/proteinnet_valid.parquet, "
            "resources/models/tape_bert\n    output: results/probing/tape_bert/proteinnet") in out
    if profile is not None:
        assert "slurm_partition=gpu" in out and "gpu=1" in out


def test_downloads_manifest_config_points_every_download_at_it(tmp_path):
    """`downloads: manifest:` replaces resources/downloads.yaml; rules pass it (absolute) to `plmscope download`."""
    manifest = yaml.safe_load((REPO / "resources" / "downloads.yaml").read_text())
    for entry in manifest.values():
        entry["url"] = entry["url"].replace("https://", "http://127.0.0.1:8123/")
    (tmp_path / "mirror.yaml").write_text(yaml.safe_dump(manifest))
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["downloads"]["manifest"] = "mirror.yaml"  # relative to the working directory
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    args = ("-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "--configfile", str(tmp_path / "config.yaml"))
    out = snakemake(*args, "-n", "-p", "download_all").stdout
    assert out.count(f"download --manifest {tmp_path / 'mirror.yaml'} --url http://127.0.0.1:8123/") == len(manifest), out
    config["downloads"]["manifest"] = "missing.yaml"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(*args, "-n", "download_all")
    assert result.returncode != 0 and "config downloads.manifest:" in result.stdout, result.stdout


@pytest.mark.parametrize("target", ["epistasis", "epistasis_paper"])
def test_epistasis_targets_plan_every_landscape(target):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    section = config["epistasis"] if target == "epistasis" else config["epistasis"]["paper"]
    result = snakemake("-n", "--forceall", target)
    assert result.returncode == 0, result.stdout
    for landscape in section["landscapes"]:
        assert f"output: results/epistasis/{landscape}" in result.stdout
    assert "plmscope epistasis --spec" in result.stdout


def test_default_run_uses_the_configured_semantics_and_no_alternate():
    result = snakemake("-n", "--forceall", "-p")
    assert result.returncode == 0, result.stdout
    assert "--semantics plmscope > logs/enrichment_compute/antiberty/demo.log" in result.stdout
    assert "enrichment_plmscope" not in result.stdout and "enrichment_provis" not in result.stdout


def test_attention_shards_plan_one_job_per_shard_and_one_enrichment(tmp_path):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["attention"]["shards"] = 2
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake("results/figures/antiberty/demo", "-n", "--forceall", "-p", "--configfile", str(tmp_path / "config.yaml"))
    assert result.returncode == 0, result.stdout
    out = result.stdout
    for k in range(2):
        assert f"-o results/attention_shards/antiberty/demo/{k}" in out and f"--shard {k}/2" in out
    assert "--attention results/attention_shards/antiberty/demo/0 results/attention_shards/antiberty/demo/1" in out
    assert "-o results/attention/antiberty/demo " not in out


def _job_resources(dry_run: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, resources) of every job block of a dry run's output."""
    import re

    jobs = []
    for block in re.split(r"\n(?=rule \w+:)", dry_run):
        rule = re.match(r"rule (\w+):", block)
        found = re.search(r"^\s+resources: (.*)$", block, re.M)
        if rule and found:
            pairs = (item.split("=", 1) for item in found.group(1).split(", ") if "=" in item)
            jobs.append((rule.group(1), {k: v for k, v in pairs}))
    return jobs


def test_slurm_profile_routes_every_gpu_job_to_the_gpu_partition():
    result = snakemake("-n", "--forceall", "--profile", "profiles/slurm", "paper", "epistasis_paper")
    assert result.returncode == 0, result.stdout
    jobs = _job_resources(result.stdout)
    gpu_jobs = [(rule, res) for rule, res in jobs if int(res.get("gpu", 0)) > 0]
    assert {"attention_extract", "probing_run", "epistasis_recover"} <= {rule for rule, _ in gpu_jobs}
    for rule, res in gpu_jobs:
        assert res["slurm_partition"] == "gpu", rule
    for rule, res in jobs:
        assert res.get("slurm_account"), rule  # the account placeholder reaches every job
        if rule in ("enrichment_compute", "enrichment_semantics", "data_prepare", "figures_enrichment"):
            assert res["slurm_partition"] == "cpu", rule
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    assert "slurm_extra" not in str(profile)  # the plugin rejects --gres there; gres/gpu_model resources instead


def test_run_starts_with_a_cheap_output_and_ends_saying_where_results_are():
    """results/README.md (seconds) is scheduled first; onsuccess names results/ and the report command."""
    assert "priority: 50" in (REPO / "workflow/rules/outputs.smk").read_text()
    snakefile = (REPO / "Snakefile").read_text()
    assert "onsuccess:" in snakefile and "results/README.md" in snakefile and "--report report.zip" in snakefile
