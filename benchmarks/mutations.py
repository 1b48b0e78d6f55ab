"""Mutation check (not CI): do the tests notice one-line changes to the critical definitions?

Each mutation below edits one definition (every occurrence of an exact substring in the listed
files; a mutation whose substring is missing is reported as "stale", so the list has to follow the
code). It is applied to a temporary copy of the repository (the tracked and untracked-unignored
files, `git ls-files -co --exclude-standard`), never to the working tree, and the targeted tests are
run there with `pytest -x -q` and PYTHONPATH pointing at the copy's `src/`. A mutation is
"killed" when those tests fail, "survived" when they pass.

Usage:
    python benchmarks/mutations.py                 # every mutation
    python benchmarks/mutations.py --only qsft     # names containing "qsft"

Edit MUTATIONS to re-point a mutation after files move (e.g. workflow/rules renamed, defaults
moved into src/plmscope/options.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# name -> (edits [(file, exact old substring, replacement)], test files that should kill it)
MUTATIONS: dict[str, tuple[list[tuple[str, str, str]], list[str]]] = {
    "theta: >= -> >": (
        [("src/plmscope/attention/threshold.py", "idx = torch.nonzero(a >= theta)", "idx = torch.nonzero(a > theta)")],
        ["tests/test_attention_threshold.py"],
    ),
    "theta: >= -> > (CPU path)": (
        [("src/plmscope/attention/threshold.py", "np.flatnonzero(x >= np.asarray(theta", "np.flatnonzero(x > np.asarray(theta")],
        ["tests/test_attention_threshold.py"],
    ),
    "contact cutoff 8 -> 9 (config.yaml)": (
        [("config.yaml", "contact_cutoff: 8.0", "contact_cutoff: 9.0")],
        ["tests/test_defaults_pinned.py"],
    ),
    "contact cutoff 8 -> 9 (options: the one default of CLI and library)": (
        [("src/plmscope/options.py", "CONTACT_CUTOFF = 8.0", "CONTACT_CUTOFF = 9.0")],
        ["tests/test_defaults_pinned.py", "tests/test_options.py", "tests/test_data_contacts.py"],
    ),
    "contact distance < -> <=": (
        [("src/plmscope/data/contacts.py", "(dist2 < cutoff * cutoff)", "(dist2 <= cutoff * cutoff)")],
        ["tests/test_data_contacts.py"],
    ),
    "contact min separation 6 -> 5 (config.yaml)": (
        [("config.yaml", "contact_min_separation: 6", "contact_min_separation: 5")],
        ["tests/test_defaults_pinned.py"],
    ),
    "contact min separation 6 -> 5 (library default)": (
        [("src/plmscope/data/contacts.py", "min_separation: int = 6,", "min_separation: int = 5,")],
        ["tests/test_defaults_pinned.py", "tests/test_data_contacts.py"],
    ),
    "contact separation >= -> >": (
        [("src/plmscope/data/contacts.py", "(np.abs(i - j) >= min_separation)", "(np.abs(i - j) > min_separation)")],
        ["tests/test_data_contacts.py"],
    ),
    "Bonferroni CI: m -> 1": (
        [("src/plmscope/analysis/stats.py", "alpha / max(int(n_tests), 1), method)", "alpha, method)")],
        ["tests/test_stats_defaults.py", "tests/test_analysis_stats.py", "tests/test_analysis_enrichment.py"],
    ),
    "Bonferroni p-values: none": (
        [("src/plmscope/analysis/stats.py", "out[ok] = np.minimum(p_values[ok] * int(ok.sum()), 1.0)",
          "out[ok] = p_values[ok]")],
        ["tests/test_stats_defaults.py", "tests/test_analysis_stats.py", "tests/test_analysis_enrichment.py"],
    ),
    "CI method wilson -> normal (stats default)": (
        [("src/plmscope/analysis/stats.py", 'method: CiMethod = "wilson",', 'method: CiMethod = "normal",')],
        ["tests/test_stats_defaults.py", "tests/test_analysis_stats.py", "tests/test_analysis_enrichment.py"],
    ),
    "CI method wilson -> normal (enrichment default)": (
        [("src/plmscope/analysis/enrichment.py", 'ci_method: CiMethod = "wilson",', 'ci_method: CiMethod = "normal",')],
        ["tests/test_stats_defaults.py", "tests/test_analysis_stats.py", "tests/test_analysis_enrichment.py"],
    ),
    "CI alpha 0.05 -> 0.1 (stats default)": (
        [("src/plmscope/analysis/stats.py", "    alpha: float = 0.05,", "    alpha: float = 0.1,")],
        ["tests/test_stats_defaults.py", "tests/test_analysis_stats.py", "tests/test_analysis_enrichment.py"],
    ),
    "PLL unmasked: position off by one": (
        [("src/plmscope/models/scoring.py", "pos = batch.residue_index.to(lp.device)  # (B, Lr)",
          "pos = batch.residue_index.to(lp.device) - 1  # (B, Lr)")],
        ["tests/test_scoring.py"],
    ),
    "PLL masked: mask the neighbour": (
        [("src/plmscope/models/scoring.py", "ids[torch.arange(len(o)), p] = self.mask_id",
          "ids[torch.arange(len(o)), p - 1] = self.mask_id")],
        ["tests/test_scoring.py"],
    ),
    "qsft: singleton residual test removed": (
        [("src/plmscope/fourier/qsft.py", "(resid <= tau + _RTOL * energy)", "(resid == resid)")],
        ["tests/test_fourier_qsft_checks.py", "tests/test_fourier_qsft.py"],
    ),
    "qsft: hash-consistency check removed": (
        [("src/plmscope/fourier/qsft.py", "& (hashed == cand_j)", "& (hashed == hashed)")],
        ["tests/test_fourier_qsft_checks.py", "tests/test_fourier_qsft.py"],
    ),
    "qsft: |F|^2 check removed": (
        [("src/plmscope/fourier/qsft.py", "& (np.abs(F) ** 2 > tau + self.floor)", "& (F == F)")],
        ["tests/test_fourier_qsft_checks.py", "tests/test_fourier_qsft.py"],
    ),
    "qsft: refinement passes off": (
        [("src/plmscope/fourier/qsft.py", "_REFINE = 2", "_REFINE = 0")],
        ["tests/test_fourier_qsft_checks.py", "tests/test_fourier_qsft.py"],
    ),
}


def copy_repo(dest: Path) -> None:
    """Copy the tracked and untracked-unignored files of the repository to ``dest``."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True, capture_output=True
    ).stdout.decode().split("\0")
    for name in filter(None, files):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def apply(root: Path, edits: list[tuple[str, str, str]]) -> str | None:
    """Apply the edits in ``root``; return an error message when a substring is missing."""
    for name, old, new in edits:
        path = root / name
        text = path.read_text() if path.exists() else ""
        if old not in text:
            return f"{name}: {old!r} not found"
        path.write_text(text.replace(old, new))
    return None


def run_mutation(name: str, edits, tests, python: str) -> tuple[str, float, str]:
    with tempfile.TemporaryDirectory(prefix="plmscope-mut-") as tmp:
        root = Path(tmp)
        copy_repo(root)
        error = apply(root, edits)
        if error:
            return "stale", 0.0, error
        env = dict(os.environ, PYTHONPATH=str(root / "src"), PYTHONDONTWRITEBYTECODE="1")
        start = time.perf_counter()
        result = subprocess.run(
            [python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        seconds = time.perf_counter() - start
        tail = [line for line in result.stdout.splitlines() if line.strip()][-1:] or [""]
        status = "killed" if result.returncode == 1 else ("survived" if result.returncode == 0 else "error")
        return status, seconds, tail[0]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run the mutations whose name contains this")
    parser.add_argument("--python", default=sys.executable, help="interpreter with plmscope's dependencies")
    args = parser.parse_args(argv)
    rows = []
    print("| mutation | tests run | result | seconds | last pytest line |")
    print("|---|---|---|---:|---|")
    for name, (edits, tests) in MUTATIONS.items():
        if args.only not in name:
            continue
        status, seconds, tail = run_mutation(name, edits, tests, args.python)
        rows.append(status)
        short = ", ".join(Path(t).name for t in tests)
        print(f"| {name} | {short} | {status} | {seconds:.1f} | {tail.replace('|', '/')} |", flush=True)
    print(f"\n{rows.count('killed')} killed, {rows.count('survived')} survived, "
          f"{rows.count('stale')} stale, {rows.count('error')} error of {len(rows)}")
    return 0 if all(s == "killed" for s in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
