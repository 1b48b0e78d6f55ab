"""Console and log: `plmscope --log FILE` keeps the full log in FILE and shows progress lines on stderr (issue #12)."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

from plmscope.data.table import read_proteins, write_proteins
from plmscope.progress import Progress, set_job

REPO = Path(__file__).resolve().parents[1]
RULES = sorted((REPO / "workflow/rules").glob("*.smk"))


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "plmscope.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)  # fmt: skip


def test_progress_writes_a_line_per_update_when_due_and_always_the_last(caplog):
    set_job("attention antiberty/demo")
    with caplog.at_level(logging.INFO, logger="plmscope.progress"):
        with Progress(480, "proteins", every=0.0) as bar:
            bar.update(120)
            bar.update(360)
        with Progress(10, "sequences", "masked PLL", every=3600) as bar:
            bar.update(4)  # not due: no line
            bar.update(6)  # the end: always a line
    lines = [r.getMessage() for r in caplog.records]
    assert re.fullmatch(r"attention antiberty/demo: 120/480 proteins \(25%\), 0:00:0\d elapsed", lines[0]), lines
    assert lines[1].startswith("attention antiberty/demo: 480/480 proteins (100%)")
    assert len(lines) == 3 and lines[2].startswith("attention antiberty/demo: masked PLL 10/10 sequences (100%)")


def test_log_option_puts_the_full_log_in_the_file_and_progress_on_stderr(tmp_path):
    """A real attention run of AntiBERTy on three demo proteins with `--log`."""
    three = sorted(read_proteins(REPO / "resources/demo/proteins.parquet"), key=lambda r: len(r.sequence))[:3]
    write_proteins(three, tmp_path / "three.parquet")
    result = _cli("--log", "logs/att.log", "attention", "--proteins", "three.parquet", "--model", "antiberty",
                  "-o", "results/attention/antiberty/three", "--device", "cpu", "--max-tokens", "256", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    log = (tmp_path / "logs/att.log").read_text()
    assert "INFO plmscope.runs.attention: loaded 'antiberty'" in log  # the full log, in the file only
    assert "loaded 'antiberty'" not in result.stderr
    assert "attention antiberty/three: 3/3 proteins (100%)" in log
    progress = [line for line in result.stderr.splitlines() if "attention antiberty/three: " in line]
    assert progress and re.search(r"3/3 proteins \(100%\), \d+:\d\d:\d\d elapsed$", progress[-1]), result.stderr


def test_log_option_error_goes_to_stderr_and_the_log(tmp_path):
    result = _cli("--log", "e.log", "attention", "--proteins", "missing.parquet", "--model", "antiberty",
                  "-o", "att", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 1
    error = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(error) == 1 and error[0].startswith("plmscope attention: error:"), result.stderr
    assert error[0] in (tmp_path / "e.log").read_text()


def test_no_rule_sends_both_streams_into_its_log_only():
    """Rules log through `plmscope --log {log:q}`, so Snakemake's console shows each job's progress lines."""
    bad = []
    for path in RULES:
        text = path.read_text()
        for n, line in enumerate(text.splitlines(), 1):
            if "2>&1" in line or re.search(r"[^2]>>? *\{log", line) or "&> {log" in line:
                bad.append(f"{path.name}:{n}: {line.strip()}")
        shells = re.findall(r"shell:\n((?:\s+\".*\"\n)+)", text)
        for shell in shells:
            if "{params.plmscope:q}" in shell and "{params.plmscope:q} --log {log:q} " not in shell:
                bad.append(f"{path.name}: a plmscope call without --log {{log:q}}: {shell.strip()[:80]}")
    assert not bad, "\n".join(bad)


def test_cheap_rules_are_scheduled_before_expensive_ones():
    text = "\n".join(path.read_text() for path in RULES)

    def priority(rule: str) -> int:
        body = re.search(rf"(?:rule|checkpoint) {rule}:\n((?:    .*\n|\n)+?)(?=\S|\Z)", text).group(1)
        found = re.search(r"priority: (\d+)", body)
        return int(found.group(1)) if found else 0

    cheap = ["outputs_readme", "data_prepare", "data_plan", "enrichment_compute", "figures_enrichment"]
    expensive = ["attention_extract", "contacts_predict", "robustness_null_models", "probing_run", "epistasis_recover"]
    assert min(priority(r) for r in cheap) > max(priority(r) for r in expensive)


def test_progress_of_one_long_protein_counts_its_batches(caplog):
    """A 100k-residue protein run as hundreds of windows: lines before the end say which batch is running."""
    set_job("attention antiberty/long")
    with caplog.at_level(logging.INFO, logger="plmscope.progress"):
        with Progress(1, "proteins", every=0.0, batches=49, batches_done=2) as bar:
            bar.update(0, batches=1)
            bar.update(1, batches=46)
    lines = [r.getMessage() for r in caplog.records]
    assert re.fullmatch(r"attention antiberty/long: 0/1 proteins \(0%\), batch 3/49, 0:00:0\d elapsed", lines[0])
    assert re.fullmatch(r"attention antiberty/long: 1/1 proteins \(100%\), 0:00:0\d elapsed", lines[1])
