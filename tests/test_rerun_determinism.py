"""Every verb that writes tables, figures or HTML pages, run twice on the same tiny input into two directories, writes the same bytes.

Two separate processes (different ``PYTHONHASHSEED``, so set and dict-of-hash orders differ; NumPy's and
Python's global generators are seeded from the OS in each; memory addresses differ, which moves
matplotlib's constrained layout in the last bit) each run the whole chain of verbs through the
``plmscope`` entry point: prepare -> attention -> enrichment -> paper -> compare, and contacts,
robustness, probe and epistasis, then figures, contact-maps, view, seqview and summary. SVGs are
compared too. Tiny random models (local directories) keep it to seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from plmscope.data.table import read_proteins, write_proteins
from plmscope.models.scoring import save_tiny_masked_lm
from plmscope.models.tiny import save_tiny_model

REPO = Path(__file__).resolve().parents[1]

# Runs in a fresh interpreter: argv = inputs directory, output directory (made the working directory, so
# every path written into the outputs is the same relative path in both runs).
DRIVER = r"""
import json, os, sys
from importlib.metadata import entry_points
from pathlib import Path

main = entry_points(group="console_scripts")["plmscope"].load()
inputs, paper = Path(sys.argv[1]).resolve(), Path(sys.argv[3]).resolve()
os.chdir(sys.argv[2])
model = str(inputs / "bert")
small = ["--device", "cpu", "--max-residues", "120"]
spec = json.dumps({
    "protein": {"id": "toy", "sequence": "MKTAYIAKQRQISF"}, "model": str(inputs / "mlm"), "score": "pll_unmasked",
    "q": 20, "site_sets": [[2, 5]], "qsft": {"b": 1, "C": 1, "delays": "identity", "seed": 3, "n_validation": 20},
    "test": {"uniform": 30, "hamming": [1, 2], "per_distance": 10, "n_boot": 20, "seed": 7},
    "exact_max_points": 400, "interactions": {"max_order": 2, "top_k": 10}, "scoring": {"device": "cpu"},
})
verbs = [
    ["prepare", "--format", "table", str(inputs / "three.parquet"), "--sample", "2", "--seed", "123",
     "-o", "proteins.parquet"],
    ["attention", "--proteins", "proteins.parquet", "--model", model, "-o", "attention", *small],
    ["enrichment", "--attention", "attention", "--proteins", "proteins.parquet", "-o", "enrichment",
     "--min-count", "1"],
    ["paper", "--enrichment", "enrichment", "-o", "paper", "--label", "tiny", "--dataset", "two"],
    ["compare", "--enrichment", "enrichment", "--paper-analyses", "paper", "-o", "comparison/comparison.csv",
     "--paper-heads", str(paper / "vig2021_top_heads.csv"), "--paper-blosum", str(paper / "vig2021_blosum.csv")],
    ["contacts", "--proteins", "proteins.parquet", "--model", model, "-o", "contacts", "--train-proteins", "1",
     "--n-maps", "1", *small],
    ["robustness", "--proteins", "proteins.parquet", "--model", model, "-o", "robustness", "--n-boot", "20",
     "--min-count", "1", *small],
    ["probe", "--proteins", "proteins.parquet", "--model", model, "-o", "probing", "--valid-fraction", "0.5",
     "--threads", "1", *small],
    ["epistasis", "--spec", spec, "-o", "epistasis", "--cache-dir", "epistasis_cache", "--no-progress"],
    ["figures", "--enrichment", "enrichment", "-o", "figures"],
    ["contact-maps", "--proteins", "proteins.parquet", "--model", model, "--regression", "contacts",
     "-o", "contact_maps", "--no-progress", "--max-residues", "120"],
    ["view", "--proteins", "proteins.parquet", "--attention", "attention", "-o", "view", "--top-heads", "enrichment"],
    ["seqview", "--proteins", "proteins.parquet", "--attention", "attention", "-o", "seqview"],
    ["summary", "--enrichment", "enrichment", "--contacts", "contacts", "--epistasis", "epistasis",
     "-o", "summary"],
    ["plan", "--proteins", "proteins.parquet", "-o", "plan.json", "--markdown", "plan.md", "--dataset", "two"],
]
for argv in verbs:
    if main(argv) != 0:
        sys.exit(f"plmscope {argv[0]} failed")
"""

OUTPUTS = {
    "prepare": ["proteins.parquet"],
    "attention": ["attention"],
    "enrichment": ["enrichment"],
    "paper": ["paper"],
    "compare": ["comparison"],
    "contacts": ["contacts"],
    "robustness": ["robustness"],
    "probe": ["probing"],
    "epistasis": ["epistasis", "epistasis_cache"],
    "figures": ["figures"],
    "contact-maps": ["contact_maps"],
    "view": ["view"],
    "seqview": ["seqview"],
    "summary": ["summary"],
    "plan": ["plan.json", "plan.md"],
}
"""Verb -> what it writes, relative to the run directory."""

NOT_COMPARED = {".lock"}
"""``.lock`` files are empty flock targets."""


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[Path, Path]:
    """Run every verb twice, in two processes, into two directories; return the two run directories."""
    root = tmp_path_factory.mktemp("rerun")
    inputs = root / "inputs"
    inputs.mkdir()
    proteins = read_proteins(REPO / "resources/demo/proteins.parquet")
    write_proteins(sorted(proteins, key=lambda r: len(r.sequence))[:3], inputs / "three.parquet")
    save_tiny_model("bert", inputs / "bert", layers=2, heads=2, max_positions=128)
    save_tiny_masked_lm("bert", inputs / "mlm", seed=1)
    runs = []
    for name, hash_seed in (("a", "1"), ("b", "2")):
        out = root / name
        out.mkdir()
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "OMP_NUM_THREADS": "1"}
        result = subprocess.run(
            [sys.executable, "-c", DRIVER, str(inputs), str(out), str(REPO / "resources/paper")],
            check=False, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout[-5000:]
        runs.append(out)
    return runs[0], runs[1]


def files(run: Path, outputs: list[str]) -> list[str]:
    """Paths (relative to ``run``) of every file the outputs hold."""
    found = []
    for output in outputs:
        path = run / output
        paths = [path] if path.is_file() else sorted(path.rglob("*"))
        found += [str(p.relative_to(run)) for p in paths if p.is_file()]
    return sorted(found)


def comparable(path: Path) -> bytes | dict:
    """The file's bytes; for JSON, the parsed object without run times (keys naming seconds)."""
    if path.suffix != ".json":
        return path.read_bytes()

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if "seconds" not in k}
        return [strip(v) for v in value] if isinstance(value, list) else value

    return strip(json.loads(path.read_text()))


@pytest.mark.slow
@pytest.mark.parametrize("verb", list(OUTPUTS))
def test_rerun_writes_identical_files(two_runs, verb):
    a, b = two_runs
    names = files(a, OUTPUTS[verb])
    assert files(b, OUTPUTS[verb]) == names
    assert any(name.endswith((".parquet", ".csv", ".html", ".png", ".md")) for name in names), f"{verb} wrote nothing"
    compared = [name for name in names if Path(name).suffix not in NOT_COMPARED]
    different = [name for name in compared if comparable(a / name) != comparable(b / name)]
    assert different == [], f"plmscope {verb}: a rerun on the same input wrote different {different}"


@pytest.mark.slow
def test_reruns_compare_figures_too(two_runs):
    """The comparison above covers figures: the chain writes SVG and PNG files and they are compared."""
    a, _ = two_runs
    names = [name for outputs in OUTPUTS.values() for name in files(a, outputs)]
    assert any(name.endswith(".svg") for name in names) and any(name.endswith(".png") for name in names)
