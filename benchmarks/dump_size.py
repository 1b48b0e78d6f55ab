"""Size of the thresholded attention dataset vs a dense float16 dump of the same attention.

One pass of the model over the proteins (AntiBERTy on the demo set by default): every batch's
residue attention is (a) thresholded and written with :class:`AttentionWriter`, exactly as
``plmscope attention`` does, and (b) written densely as one float16 ``.npy`` file
``(layers, heads, L, L)`` per protein (what dumping attention maps to disk would store), and
also as a zstd-compressed copy of that float16 array for context. Target: the thresholded
dataset at least 300x smaller than the dense float16 dump.

    .venv/bin/python benchmarks/dump_size.py [--proteins table.parquet] [--model antiberty] [--theta 0.3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from plmscope.attention.dataset import AttentionWriter
from plmscope.attention.threshold import threshold_batch
from plmscope.data.table import read_proteins
from plmscope.models.inference import iter_attention
from plmscope.models.registry import load_adapter

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "resources" / "demo" / "proteins.parquet"


def tree_bytes(path: Path) -> int:
    """Total size of the files under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proteins", type=Path, default=DEMO)
    parser.add_argument("--model", default="antiberty")
    parser.add_argument("--theta", type=float, default=0.3)
    parser.add_argument("--max-residues", type=int, default=510)
    parser.add_argument("--max-tokens", type=int, default=4096)
    args = parser.parse_args(argv)

    proteins = [(r.id, r.sequence) for r in read_proteins(args.proteins)]
    adapter = load_adapter(args.model, max_residues=args.max_residues, device="cpu")
    stream = iter_attention(adapter, proteins, max_tokens=args.max_tokens, progress=False)
    meta = adapter.describe() | {"theta": args.theta, "long_sequences": "truncate"}
    compressor = pa.Codec("zstd", compression_level=3)
    dense = dense_zstd = 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "dense").mkdir()
        with AttentionWriter(tmp / "thresholded", meta=meta) as writer:
            for batch in stream:
                rows, counts = threshold_batch(batch.layers, batch.lengths, batch.ids, theta=args.theta)
                writer.write(rows, counts)
                writer.add_proteins(batch.ids, batch.lengths, batch.n_original)
                stacked = torch.stack(batch.layers, dim=1)  # (B, layers, H, Lr, Lr)
                for b, (pid, n) in enumerate(zip(batch.ids, batch.lengths.tolist())):
                    maps = stacked[b, :, :, :n, :n].to(torch.float16).numpy()
                    path = tmp / "dense" / f"{pid}.npy"
                    np.save(path, maps)
                    dense += path.stat().st_size
                    dense_zstd += compressor.compress(np.ascontiguousarray(maps).tobytes()).size
        parts = tree_bytes(tmp / "thresholded" / "attention")
        dataset = tree_bytes(tmp / "thresholded")
        n_rows = writer.n_rows
    residues = sum(len(s) for s in stream.sequences)
    print(f"{len(stream.ids)} proteins, {residues} residues, {n_rows} thresholded rows "
          f"({n_rows / (dense / 2) * 100:.3f}% of all weights)", file=sys.stderr)  # fmt: skip
    columns = ["model", "proteins", "theta", "rows", "dense float16 .npy", "dense float16 zstd",
               "thresholded parts", "whole dataset dir", "ratio (.npy / parts)", "ratio (.npy / dataset)",
               "ratio (zstd / dataset)", "target"]  # fmt: skip
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    verdict = "ok" if dense / dataset >= 300 else "MISSED"
    print(f"| {adapter.name} | {len(stream.ids)} | {args.theta} | {n_rows} | {dense / 1e6:.2f} MB | "
          f"{dense_zstd / 1e6:.2f} MB | {parts / 1e3:.1f} kB | {dataset / 1e3:.1f} kB | {dense / parts:.0f}x | "
          f"{dense / dataset:.0f}x | {dense_zstd / dataset:.0f}x | {verdict} (>= 300x) |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
