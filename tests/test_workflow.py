"""The Snakemake workflow: lint, dry runs, config validation, one full CPU run on two proteins (its values
recomputed independently) and a killed run resumed with --unlock / --rerun-incomplete."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
import yaml
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from plmscope.attention import read_analysed, read_attention, read_meta
from plmscope.data.table import read_proteins, write_proteins

REPO = Path(__file__).resolve().parents[1]


def snakemake(*args: str, cwd: Path = REPO, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run this interpreter's snakemake; return the completed process (stdout+stderr in .stdout)."""
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        check=False,
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
    """The checkpoint's plan: a structured table gets 3D views, contacts, probing; FASTA gets skips, named once;
    structures without any contact at |i - j| >= 6 (straight chains) skip only the contact regression."""
    from plmscope.data.table import ProteinRecord
    from plmscope.runs.plan import run_plan
    from plmscope.runs.prepare import run_prepare

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    fasta = tmp_path / "mine.fasta"
    fasta.write_text(">a\nMKTAYIAKQRQISFVKSHFSRQ\n>b\nACDEFGHIKLMNPQRSTVWY\n")
    demo = REPO / "resources/demo/proteins.parquet"
    flat = tmp_path / "flat_input.parquet"
    straight = np.zeros((16, 3), dtype=np.float32)
    straight[:, 0] = 3.8 * np.arange(16)  # residues 6 apart are 22.8 Å apart: no contact
    write_proteins([ProteinRecord(f"f{k}", "ACDEFGHIKLMNPQRS", ca=straight)
                    for k in range(config["contacts"]["train_proteins"] + 2)], flat)  # fmt: skip
    config["datasets"] = {"demo": {"format": "table", "inputs": [str(demo)]},
                          "mine": {"format": "fasta", "inputs": [str(fasta)]},
                          "flat": {"format": "table", "inputs": [str(flat)]}}  # fmt: skip
    config["epistasis"]["activate"] = False
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    for name, fmt, source in (("demo", "table", demo), ("mine", "fasta", fasta), ("flat", "table", flat)):
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
    assert "output: results/contacts/antiberty/flat" not in out
    assert "output: results/views/antiberty/flat" in out and "output: results/probing/antiberty/flat" in out
    n_flat = config["contacts"]["train_proteins"] + 2
    assert out.count(f"dataset flat: contacts skipped: none of the {n_flat} proteins with CA coordinates has a contact") == 1
    assert out.count("dataset flat:") == 1
    # the default comparison lists the probes of the datasets that are probed, as the paper target does
    compare = next(line for line in out.splitlines() if " compare --enrichment " in line)
    assert "--probing results/probing/antiberty/demo results/probing/antiberty/flat -o" in compare, compare
    assert "output: results/comparison/comparison.csv, results/comparison/comparison.md, " \
           "results/comparison/probing_comparison.csv" in out  # fmt: skip


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


# ---- the tiny default run: `snakemake --cores 2` on two demo proteins with the real AntiBERTy ----------
# One run (module-scoped) serves every check below; the values are recomputed here, independently of
# plmscope.analysis, from the dumped attention rows and the protein table (README, "Definitions").

DATASET = "two"
ATTENTION = f"results/attention/antiberty/{DATASET}"
ENRICHMENT = f"results/enrichment/antiberty/{DATASET}"
MISSING_CA = (3, 20, 21)  # residues of the second protein (70 residues) given no coordinates


def tiny_config(root: Path) -> Path:
    """Write the two shortest demo proteins and a fast config beside them; return the config path."""
    proteins = read_proteins(REPO / "resources/demo/proteins.parquet")
    two = sorted(proteins, key=lambda r: len(r.sequence))[:2]
    ca = two[1].ca.copy()
    ca[list(MISSING_CA)] = np.nan  # residues without coordinates: their pairs count for no contact statistic
    two[1] = dataclasses.replace(two[1], ca=ca, valid=None)
    table = root / "two.parquet"
    write_proteins(two, table)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["datasets"] = {DATASET: {"format": "table", "inputs": [str(table)]}}
    config["enrichment"]["min_count"] = 1
    config["contacts"]["train_proteins"] = 1
    config["robustness"]["n_boot"] = 50
    config["probing"]["valid_fraction"] = 0.5
    config["epistasis"]["activate"] = False  # minutes of scoring; run_epistasis has its own tests
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """The run directory of one complete `snakemake --cores 2` on the tiny config (config.yaml inside)."""
    root = tmp_path_factory.mktemp("tiny_run")
    config = tiny_config(root)
    result = snakemake("-s", str(REPO / "Snakefile"), "-d", str(root), "--configfile", str(config), "--cores", "2")
    assert result.returncode == 0, result.stdout
    (root / "snakemake.stdout").write_text(result.stdout)  # the console, for the tests that read it
    return root


@pytest.fixture(scope="module")
def recomputed(tiny_run) -> dict:
    """Per-head counts of the tiny run recomputed with plain numpy from the attention rows and the protein table.

    Returns a dict with the config, the enrichment table, the backgrounds table, and per feature
    ("contact", "binding_site") the recomputed ``(n_attention, n_feature)`` arrays ``(layers, heads)``
    and the background ``(n_eligible, n_feature)``.
    """
    config = yaml.safe_load((tiny_run / "config.yaml").read_text())
    cutoff = config["enrichment"]["contact_cutoff"]
    min_sep = config["enrichment"]["contact_min_separation"]
    meta = read_meta(tiny_run / ATTENTION)
    layers, heads = meta["num_layers"], meta["num_heads"]
    rows = read_attention(tiny_run / ATTENTION).to_pandas()
    assert len(rows) == meta["n_rows"] > 0
    assert (rows["weight"] >= config["attention"]["theta"]).all()
    analysed = {row["protein_id"]: row["n_residues"] for row in read_analysed(tiny_run / ATTENTION).to_pylist()}
    proteins = {r.id: r for r in read_proteins(tiny_run / f"results/proteins/{DATASET}.parquet")}
    assert set(analysed) == set(proteins) and set(rows["protein_id"]) <= set(analysed)

    counts = {f: [np.zeros((layers, heads), dtype=np.int64) for _ in range(2)] for f in ("contact", "binding_site")}
    background = {f: [0, 0] for f in ("contact", "binding_site")}
    for pid, n in analysed.items():
        record = proteins[pid]
        sub = rows[rows["protein_id"] == pid]
        layer, head, i, j = (sub[c].to_numpy(dtype=np.int64) for c in ("layer", "head", "i", "j"))
        assert ((i < n) & (j < n)).all()
        if record.ca is not None:  # contacts: CA-CA < cutoff and |i - j| >= min_sep, both residues with coordinates
            ca = np.asarray(record.ca[:n], dtype=np.float64)
            has = np.asarray(record.valid[:n], dtype=bool) & np.isfinite(ca).all(axis=1)
            distance = np.sqrt(((ca[:, None, :] - ca[None, :, :]) ** 2).sum(axis=-1))
            sep = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
            eligible = has[:, None] & has[None, :]
            with np.errstate(invalid="ignore"):
                contact = eligible & (distance < cutoff) & (sep >= min_sep)
            background["contact"][0] += int(eligible.sum())  # ordered pairs, i = j included
            background["contact"][1] += int(contact.sum())
            keep = eligible[i, j]
            np.add.at(counts["contact"][0], (layer[keep], head[keep]), 1)
            hit = keep & contact[i, j]
            np.add.at(counts["contact"][1], (layer[hit], head[hit]), 1)
        if record.sites is not None:  # binding site: a property of the attended-to residue j
            site = np.zeros(n, dtype=bool)
            site[[k for k in record.sites if k < n]] = True
            background["binding_site"][0] += n
            background["binding_site"][1] += int(site.sum())
            np.add.at(counts["binding_site"][0], (layer, head), 1)
            np.add.at(counts["binding_site"][1], (layer[site[j]], head[site[j]]), 1)
    return {
        "run": tiny_run,
        "config": config,
        "table": pd.read_parquet(tiny_run / ENRICHMENT / "enrichment.parquet"),
        "backgrounds": pd.read_parquet(tiny_run / ENRICHMENT / "backgrounds.parquet").set_index("feature"),
        "counts": counts,
        "background": background,
    }


def feature_rows(recomputed: dict, feature: str) -> pd.DataFrame:
    """The enrichment table's rows of one feature, in (layer, head) order."""
    table = recomputed["table"]
    rows = table[table["feature"] == feature].sort_values(["layer", "head"]).reset_index(drop=True)
    heads = recomputed["counts"][feature][0].shape[1]
    assert ((rows["layer"] - 1) * heads + rows["head"] - 1).tolist() == list(range(  # 1-based on disk
        recomputed["counts"][feature][0].size))
    return rows


@pytest.mark.slow
def test_full_run_on_two_real_proteins(tiny_run):
    """`snakemake --cores 2` end to end on two demo proteins with the real pretrained AntiBERTy."""
    enrichment = tiny_run / ENRICHMENT
    table = pd.read_parquet(enrichment / "enrichment.parquet")
    assert set(table["layer"]) == set(range(1, 9)) and set(table["head"]) == set(range(1, 9))  # 1-based on disk
    assert (tiny_run / "results/README.md").read_text().startswith("# plmscope outputs")
    assert {"contact", "helix", "aa_A"} <= set(table["feature"])
    assert (enrichment / "top_heads.csv").stat().st_size > 0
    figures = tiny_run / "results/figures/antiberty/two"
    assert (figures / "contact_heatmap.png").stat().st_size > 0
    assert (figures / "contact_heatmap.svg").stat().st_size > 0
    views = tiny_run / "results/views/antiberty/two"
    assert (views / "index.html").stat().st_size > 0
    assert len(list(views.glob("*.html"))) >= 2
    contacts = pd.read_csv(tiny_run / "results/contacts/antiberty/two/contact_prediction.csv")
    assert {"regression", "random"} <= set(contacts["method"])
    null_models = pd.read_csv(tiny_run / "results/robustness/antiberty/two/null_models.csv")
    assert len(null_models) > 0
    assert (tiny_run / "results/comparison/comparison.md").stat().st_size > 0
    probes = pd.read_csv(tiny_run / "results/comparison/probing_comparison.csv")
    assert set(zip(probes["model"], probes["dataset"])) == {("antiberty", "two")}
    assert any((tiny_run / "results/paper_analyses/antiberty/two").glob("*.png"))
    assert any((tiny_run / "results/probing/antiberty/two").glob("*.csv"))

    report = snakemake(
        "-s", str(REPO / "Snakefile"), "-d", str(tiny_run), "--configfile", str(tiny_run / "config.yaml"),
        "--report", str(tiny_run / "report.zip"),
    )
    assert report.returncode == 0, report.stdout
    archive = zipfile.ZipFile(tiny_run / "report.zip")
    names = archive.namelist()
    assert "report/report.html" in names
    assert any(name.endswith("contact_heatmap.png") for name in names)
    assert any(name.endswith("index.html") for name in names)

    # issue #12: the console shows the long jobs' progress lines (the full log stays in logs/)
    console = (tiny_run / "snakemake.stdout").read_text()
    assert "attention antiberty/two: 2/2 proteins (100%)" in console
    assert "loaded 'antiberty'" not in console
    assert "loaded 'antiberty'" in (tiny_run / "logs/attention_extract/antiberty/two.log").read_text()
    # the front page: the summary, first category, with the numbers of the tables
    report_html = archive.read("report/report.html").decode()
    # Snakemake lists categories sorted by name: the numbers give the reading order (epistasis is off here)
    categories = ["1. Summary", "2. Contacts", "4. Secondary structure"]
    assert all(c in report_html for c in categories) and sorted(categories) == categories
    page = archive.read(next(name for name in names if name.endswith("summary.html"))).decode()
    top = pd.read_csv(enrichment / "top_heads.csv")
    contact = top[(top["feature"] == "contact") & (top["rank"] == 1)].iloc[0]
    assert f"<td>contact</td><td>{contact['label']}</td><td>{100 * contact['proportion']:.1f} [" in page
    assert f"{100 * contact['background']:.2f}" in page
    regression = contacts[(contacts["method"] == "regression") & (contacts["k"] == "L/5")].iloc[0]
    sd = "" if pd.isna(regression["precision_sd"]) else f"{regression['precision_sd']:.3f}"  # one test protein: no sd
    assert f"{regression['precision']:.3f} [{sd}]" in page
    assert "The epistasis stage is off (epistasis.activate: false)." in page
    assert any(name.endswith("headline_heads.csv") for name in names)


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


def test_contact_proportions_equal_a_recount_of_the_attention_rows(recomputed):
    rows = feature_rows(recomputed, "contact")
    n_attention, n_feature = (a.ravel() for a in recomputed["counts"]["contact"])
    assert n_feature.sum() > 0  # some thresholded attention lands on contacts: the comparison is not vacuous
    np.testing.assert_array_equal(rows["n_attention"], n_attention)
    np.testing.assert_array_equal(rows["n_feature"], n_feature)
    min_count = recomputed["config"]["enrichment"]["min_count"]
    masked = n_attention < min_count
    np.testing.assert_array_equal(rows["masked"], masked)
    with np.errstate(invalid="ignore", divide="ignore"):
        proportion = np.where(masked, np.nan, n_feature / n_attention)
    np.testing.assert_array_equal(rows["proportion"], proportion)  # exactly: same division, NaN where masked
    k = int(rows.index[rows["rank"] == 1][0])  # and one head spelled out: the top contact head
    assert rows.at[k, "proportion"] == np.nanmax(proportion) == n_feature[k] / n_attention[k]


@pytest.mark.slow
def test_contact_background_equals_a_recount_of_the_coordinates(recomputed):
    n_eligible, n_contacts = recomputed["background"]["contact"]
    stored = recomputed["backgrounds"].loc["contact"]
    assert (stored["n_eligible"], stored["n_feature"]) == (n_eligible, n_contacts)
    assert 0 < n_contacts < n_eligible
    lengths = read_analysed(recomputed["run"] / ATTENTION).column("n_residues").to_numpy()
    assert n_eligible < (lengths**2).sum()  # the residues without coordinates removed pairs
    assert (feature_rows(recomputed, "contact")["background"] == n_contacts / n_eligible).all()


@pytest.mark.slow
@pytest.mark.parametrize("feature", ["contact", "binding_site"])
def test_z_tests_and_wilson_intervals_equal_statsmodels(recomputed, feature):
    """Two-sample z-test vs the background and Wilson CI, both Bonferroni over the unmasked heads."""
    alpha = recomputed["config"]["enrichment"]["alpha"]
    rows = feature_rows(recomputed, feature)
    n_attention, n_feature = (a.ravel() for a in recomputed["counts"][feature])
    ref_nobs, ref_count = recomputed["background"][feature]
    tested = np.flatnonzero(n_attention >= recomputed["config"]["enrichment"]["min_count"])
    m = len(tested)
    assert 0 < m < len(rows) and (rows["n_tests"] == m).all()
    for k in tested:
        z, p = proportions_ztest([n_feature[k], ref_count], [n_attention[k], ref_nobs])
        low, high = proportion_confint(n_feature[k], n_attention[k], alpha=alpha / m, method="wilson")
        row = rows.iloc[k]
        assert row["z"] == pytest.approx(z, rel=1e-9, abs=1e-12)
        assert row["p_value"] == pytest.approx(p, rel=1e-9, abs=1e-300)
        assert row["p_adjusted"] == pytest.approx(min(1.0, m * p), rel=1e-9, abs=1e-300)
        assert row["ci_low"] == pytest.approx(max(low, 0.0), rel=1e-9, abs=1e-15)
        assert row["ci_high"] == pytest.approx(min(high, 1.0), rel=1e-9, abs=1e-15)
        assert row["enrichment"] == pytest.approx(n_feature[k] / n_attention[k] / (ref_count / ref_nobs), rel=1e-12)
    assert rows["p_value"].min() < 0.05  # at least one head is not a trivial p = 1
    masked = np.setdiff1d(np.arange(len(rows)), tested)
    assert len(masked) > 0 and rows.loc[masked, ["z", "p_value", "p_adjusted", "ci_low", "ci_high"]].isna().all().all()


@pytest.mark.slow
def test_binding_site_proportions_equal_a_recount_of_the_site_labels(recomputed):
    rows = feature_rows(recomputed, "binding_site")
    n_attention, n_feature = (a.ravel() for a in recomputed["counts"]["binding_site"])
    assert n_feature.sum() > 0
    np.testing.assert_array_equal(rows["n_attention"], n_attention)
    np.testing.assert_array_equal(rows["n_feature"], n_feature)
    tested = n_attention >= recomputed["config"]["enrichment"]["min_count"]
    with np.errstate(invalid="ignore", divide="ignore"):
        np.testing.assert_array_equal(rows["proportion"], np.where(tested, n_feature / n_attention, np.nan))
    n_residues, n_sites = recomputed["background"]["binding_site"]
    stored = recomputed["backgrounds"].loc["binding_site"]
    assert (stored["n_eligible"], stored["n_feature"]) == (n_residues, n_sites)
    assert (rows["background"] == n_sites / n_residues).all()


def tree_bytes(directory: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file under ``directory`` (Snakemake's own timestamp file left out)."""
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != ".snakemake_timestamp"
    }


def first_part_listed(partial: Path) -> bool:
    """The progress manifest of an attention run lists its first finished part (then the part is complete)."""
    with contextlib.suppress(OSError, ValueError):
        return bool(json.loads((partial / "progress.json").read_text()).get("parts"))
    return False


@pytest.mark.slow
def test_killed_run_resumes_after_unlock_and_rerun_incomplete(tiny_run, tmp_path):
    """SIGKILL snakemake mid-attention; --unlock, then --rerun-incomplete resumes and gives the clean run's enrichment.

    The killed run's attention writes one part per protein (one protein per batch), and the kill comes
    after the first part: the rerun keeps that part and runs the other protein.
    """
    config = yaml.safe_load((tiny_run / "config.yaml").read_text())
    config["attention"].update(proteins_per_part=1, max_tokens=80)  # 51 and 70 residues: one protein per batch
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    base = ["-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "--configfile", str(tmp_path / "config.yaml")]
    # the same --cores for both runs: the attention job's torch threads are part of its resume fingerprint
    partial = tmp_path / f"{ATTENTION}.partial"
    with open(tmp_path / "killed.log", "w") as out:
        run = subprocess.Popen(
            [sys.executable, "-m", "snakemake", *base, "--cores", "2", ENRICHMENT],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    family: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 600
        while not first_part_listed(partial):  # the attention job has finished its first protein
            assert run.poll() is None, (tmp_path / "killed.log").read_text()
            assert time.monotonic() < deadline, "the attention job wrote no part in 10 minutes"
            time.sleep(0.005)
        family = [psutil.Process(run.pid), *psutil.Process(run.pid).children(recursive=True)]
        os.killpg(run.pid, signal.SIGKILL)
        for process in family:  # a job in another process group would survive killpg
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    assert not psutil.wait_procs(family, timeout=30)[1]
    assert not (tmp_path / ATTENTION).exists(), "the attention job finished before the kill"

    locked = snakemake(*base, "--cores", "2", ENRICHMENT)
    assert locked.returncode != 0 and "cannot be locked" in locked.stdout  # the killed run left its lock
    unlock = snakemake(*base, "--unlock")
    assert unlock.returncode == 0, unlock.stdout
    resumed = snakemake(*base, "--rerun-incomplete", "--cores", "2", ENRICHMENT)
    assert resumed.returncode == 0, resumed.stdout
    assert not partial.exists()
    log = (tmp_path / "logs/attention_extract/antiberty" / f"{DATASET}.log").read_text()
    assert "resuming from" in log and "1 of 2 batches" in log, log

    assert read_meta(tmp_path / ATTENTION)["n_rows"] == read_meta(tiny_run / ATTENTION)["n_rows"]
    keys = ["protein_id", "layer", "head", "i", "j"]
    clean, again = (read_attention(directory / ATTENTION).to_pandas().sort_values(keys, ignore_index=True)
                    for directory in (tiny_run, tmp_path))  # fmt: skip
    pd.testing.assert_frame_equal(again[keys], clean[keys])
    np.testing.assert_allclose(again["weight"], clean["weight"], atol=1e-5)  # batches of 1 vs 2: last bits
    clean, again = tree_bytes(tiny_run / ENRICHMENT), tree_bytes(tmp_path / ENRICHMENT)
    assert sorted(again) == sorted(clean) and any(name.endswith(".parquet") for name in clean)
    assert [name for name in clean if again[name] != clean[name]] == []


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
    assert re.search(r"--log logs/enrichment_compute/prot_bert/proteinnet\.log enrichment .*--semantics provis", out)
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
    assert re.search(r"plmscope --log \S+ epistasis --spec", result.stdout)


def test_default_run_uses_the_configured_semantics_and_no_alternate():
    result = snakemake("-n", "--forceall", "-p")
    assert result.returncode == 0, result.stdout
    assert re.search(r"--log logs/enrichment_compute/antiberty/demo\.log enrichment .*--semantics plmscope", result.stdout)
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
