"""Whole-process cost of the user-facing attention stage: ``plmscope attention`` + ``plmscope enrichment``
against a bare eager forward that returns attentions over the same proteins, each as a fresh process.

Pairs are run interleaved (bare, plmscope, bare, plmscope, ...) so that load swings hit both alike;
the medians and their ratio are printed with one markdown row. Target: ratio <= 1.10.

    .venv/bin/python benchmarks/attention_process.py [--proteins table.parquet] [--repeats 3]
"""

from __future__ import annotations

import argparse
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
'''


def _time(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proteins", type=Path, default=REPO / "resources/demo/proteins.parquet")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    py = sys.executable
    bare, full = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeats):
            bare.append(_time([py, "-c", BARE, str(args.proteins)]))
            att, enr = Path(tmp) / f"att{k}", Path(tmp) / f"enr{k}"
            started = time.perf_counter()
            subprocess.run([py, "-m", "plmscope.cli", "attention", "--proteins", str(args.proteins), "--model",
                            "antiberty", "-o", str(att), "--device", "cpu"], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)  # fmt: skip
            subprocess.run([py, "-m", "plmscope.cli", "enrichment", "--attention", str(att), "--proteins",
                            str(args.proteins), "-o", str(enr), "--min-count", "1"], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)  # fmt: skip
            full.append(time.perf_counter() - started)
            print(f"pair {k + 1}: bare {bare[-1]:.2f} s, attention + enrichment {full[-1]:.2f} s "
                  f"({full[-1] / bare[-1]:.2f}x)", file=sys.stderr)  # fmt: skip
    b, f = statistics.median(bare), statistics.median(full)
    ratios = [y / x for x, y in zip(bare, full)]
    print("| proteins | repeats | bare eager forward s (median) | attention + enrichment s (median) | ratio of medians "
          "| pair ratios | target |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    verdict = "ok (<= 1.10)" if f / b <= 1.10 else "over 1.10"
    print(f"| {args.proteins.name} | {args.repeats} | {b:.2f} | {f:.2f} | {f / b:.2f} | "
          f"{', '.join(f'{r:.2f}' for r in ratios)} | {verdict} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
