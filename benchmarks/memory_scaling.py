"""Peak memory of ``run_attention`` on N and 10N proteins: it must stay flat (attention is reduced per batch).

Builds two protein tables of real-looking sequences: demo sequences drawn with replacement,
each rotated by a random offset (same lengths and amino-acid composition as real chains, no two
identical). Each size runs ``run_attention`` in a fresh child process that reports its own peak
resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) and its RSS right after the
model is loaded, so the growth caused by the proteins is visible on its own.

    .venv/bin/python benchmarks/memory_scaling.py [--n 16] [--factor 10] [--model antiberty]

Prints one markdown table row per size and the peak ratio (target: about 1.0, i.e. flat).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "resources" / "demo" / "proteins.parquet"


def rss_mb() -> float:
    """Current resident set size of this process in MB (Linux /proc)."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_mb() -> float:
    """Peak resident set size of this process so far, in MB (ru_maxrss is in KB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_table(path: Path, n: int, *, seed: int) -> int:
    """Write ``n`` resampled, rotated demo sequences to ``path``; return the total residues."""
    from plmscope.data.table import ProteinRecord, read_proteins, write_proteins

    demo = [r.sequence for r in read_proteins(DEMO)]
    rng = np.random.default_rng(seed)
    records = []
    for k in range(n):
        seq = demo[int(rng.integers(len(demo)))]
        shift = int(rng.integers(len(seq)))
        records.append(ProteinRecord(id=f"r{k:05d}", sequence=seq[shift:] + seq[:shift]))
    write_proteins(records, path)
    return sum(len(r.sequence) for r in records)


def child(args: argparse.Namespace) -> int:
    """Run one attention extraction and print a JSON line with the memory figures."""
    from plmscope.models import registry
    from plmscope.runs.attention import run_attention

    loaded = {}
    original = registry.load_adapter

    def load_and_measure(*a, **k):
        adapter = original(*a, **k)
        loaded["rss_after_load_mb"] = rss_mb()
        loaded["peak_after_load_mb"] = peak_mb()
        return adapter

    registry.load_adapter = load_and_measure
    start = time.perf_counter()
    summary = run_attention(args.table, args.out, model=args.model, max_tokens=args.max_tokens, theta=args.theta,
                            device="cpu", progress=False)  # fmt: skip
    print(json.dumps(loaded | {
        "peak_mb": peak_mb(), "seconds": time.perf_counter() - start, "n_rows": summary["n_rows"],
        "n_proteins": summary["n_proteins"], "n_batches": summary["n_batches"],
    }))  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16, help="proteins in the small table")
    parser.add_argument("--factor", type=int, default=10, help="the large table has factor * n proteins")
    parser.add_argument("--model", default="antiberty")
    parser.add_argument("--max-tokens", type=int, default=4096)
    parser.add_argument("--theta", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", nargs=2, metavar=("TABLE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.table, args.out = (Path(p) for p in args.child)
        return child(args)

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (args.n, args.n * args.factor):
            table = Path(tmp) / f"proteins_{n}.parquet"
            residues = make_table(table, n, seed=args.seed)
            command = [sys.executable, __file__, "--child", str(table), str(Path(tmp) / f"att_{n}"),
                       "--model", args.model, "--max-tokens", str(args.max_tokens), "--theta", str(args.theta)]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode:
                print(done.stderr, file=sys.stderr)
                return done.returncode
            row = json.loads(done.stdout.strip().splitlines()[-1]) | {"n": n, "residues": residues}
            results.append(row)
            print(f"n={n}: {row}", file=sys.stderr)
    columns = ["model", "proteins", "residues", "batches", "rows", "RSS after load (MB)", "peak RSS (MB)",
               "peak - load (MB)", "seconds"]  # fmt: skip
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for r in results:
        print(f"| {args.model} | {r['n_proteins']} | {r['residues']} | {r['n_batches']} | {r['n_rows']} | "
              f"{r['rss_after_load_mb']:.0f} | {r['peak_mb']:.0f} | {r['peak_mb'] - r['rss_after_load_mb']:.0f} | "
              f"{r['seconds']:.1f} |")  # fmt: skip
    small, large = results
    print(f"\npeak RSS ratio {args.factor}N / N: {large['peak_mb'] / small['peak_mb']:.3f} "
          f"(growth over the model: {large['peak_mb'] - large['rss_after_load_mb']:.0f} MB vs "
          f"{small['peak_mb'] - small['rss_after_load_mb']:.0f} MB)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
