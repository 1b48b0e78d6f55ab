"""Whole-process cost of the user-facing attention stage: ``plmscope attention`` + ``plmscope enrichment``
against a bare eager forward that returns attentions over the same proteins, each as a fresh process.

Pairs are run interleaved (bare, plmscope, bare, plmscope, ...) so that load swings hit both alike;
the medians and their ratio are printed with one markdown row. Target: ratio <= 1.10.

    .venv/bin/python benchmarks/attention_process.py [--proteins table.parquet] [--repeats 3]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

BARE = r'''
import sys, torch, pyarrow.parquet as pq
from transformers import BertModel, BertTokenizer
from plmscope.models.resolve import antiberty_paths
weights, vocab = antiberty_paths()
tok = BertTokenizer.from_pretrained(str(vocab))
model = BertModel.from_pretrained(str(weights), attn_implementation="eager").eval()
t = pq.read_table(sys.argv[1], columns=["sequence"]).column("sequence").to_pylist()
seqs = sorted((" ".join(s[:510]) for s in t), key=len)
batches, cur = [], []
for s in seqs:  # the same padded-token budget as --max-tokens auto on CPU
    if cur and (len(cur) + 1) * (len(s.split()) + 2) > 4096:
        batches.append(cur); cur = []
    cur.append(s)
batches.append(cur)
with torch.inference_mode():
    for b in batches:
        enc = tok(b, return_tensors="pt", padding=True)
        out = model(**enc, output_attentions=True)
        assert len(out.attentions) == 8
        del out, enc  # free this batch's attentions before the next forward, as plmscope does
'''


def _time(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    return time.perf_counter() - started


def _cpu() -> float:
    """User + system CPU seconds of the finished child processes so far (less swayed by load than wall time)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proteins", type=Path, default=REPO / "resources/demo/proteins.parquet")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    args.proteins = args.proteins.resolve()  # the children run in the repository
    py = sys.executable
    bare, full, bare_cpu, full_cpu = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeats):
            cpu = _cpu()
            bare.append(_time([py, "-c", BARE, str(args.proteins)]))
            bare_cpu.append(_cpu() - cpu)
            att, enr = Path(tmp) / f"att{k}", Path(tmp) / f"enr{k}"
            cpu, started = _cpu(), time.perf_counter()
            subprocess.run([py, "-m", "plmscope.cli", "attention", "--proteins", str(args.proteins), "--model",
                            "antiberty", "-o", str(att), "--device", "cpu"], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)  # fmt: skip
            subprocess.run([py, "-m", "plmscope.cli", "enrichment", "--attention", str(att), "--proteins",
                            str(args.proteins), "-o", str(enr), "--min-count", "1"], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)  # fmt: skip
            full.append(time.perf_counter() - started)
            full_cpu.append(_cpu() - cpu)
            print(f"pair {k + 1}: bare {bare[-1]:.2f} s (cpu {bare_cpu[-1]:.2f} s), attention + enrichment "
                  f"{full[-1]:.2f} s (cpu {full_cpu[-1]:.2f} s) ({full[-1] / bare[-1]:.2f}x wall, "
                  f"{full_cpu[-1] / bare_cpu[-1]:.2f}x cpu)", file=sys.stderr)  # fmt: skip
    b, f = statistics.median(bare), statistics.median(full)
    ratios = [y / x for x, y in zip(bare, full)]
    cpu_ratios = [y / x for x, y in zip(bare_cpu, full_cpu)]
    print("| proteins | repeats | bare eager forward s (median) | attention + enrichment s (median) | ratio of medians "
          "| median pair ratio | pair ratios | CPU s bare / full (median) | median CPU pair ratio | target |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    verdict = "ok (<= 1.10)" if statistics.median(ratios) <= 1.10 else "over 1.10"
    print(f"| {args.proteins.name} | {args.repeats} | {b:.2f} | {f:.2f} | {f / b:.2f} | {statistics.median(ratios):.2f} | "
          f"{', '.join(f'{r:.2f}' for r in ratios)} | {statistics.median(bare_cpu):.2f} / {statistics.median(full_cpu):.2f} "
          f"| {statistics.median(cpu_ratios):.2f} | {verdict} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
