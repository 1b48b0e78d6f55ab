"""Speed-up of vectorised thresholding + enrichment counting over a per-pair Python loop, on the same attention.

The model runs once (AntiBERTy on the demo set by default) and the residue attention of every
protein is kept in memory; both paths then start from those same arrays, so the model's time is
excluded from both:

  vectorised: :func:`threshold_batch` per protein + :class:`EnrichmentCounter` on its rows
              (what ``plmscope attention`` + ``plmscope enrichment`` do);
  loop:       for every protein, layer, head, query i and key j, compare the weight with theta
              and, when it passes, update the counts of every feature, one pair at a time (the
              structure of the original per-pair analysis scripts of Vig et al.).

Features: contact (CA-CA < 8 Å, |i - j| >= 6), binding_site, helix and the 20 amino acids.
The two paths' counts are checked to be identical. ``--loop-proteins K`` times the loop on
the first K proteins only and extrapolates by the number of pairs (reported as such).

    .venv/bin/python benchmarks/loop_speedup.py [--repeats 3] [--loop-proteins K]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from plmscope.analysis.enrichment import EnrichmentCounter
from plmscope.analysis.features import AMINO_ACID_FEATURES, SS_GROUPS, feature_arrays
from plmscope.attention.threshold import threshold_batch
from plmscope.data.table import read_proteins
from plmscope.models.inference import iter_attention
from plmscope.models.registry import load_adapter

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "resources" / "demo" / "proteins.parquet"
FEATURES = ("contact", "binding_site", "helix", *AMINO_ACID_FEATURES)


def vectorised(attention, arrays, *, theta: float, num_layers: int, num_heads: int) -> np.ndarray:
    """``(features, layers, heads, 2)`` counts (n_attention, n_feature) via threshold_batch + EnrichmentCounter."""
    counter = EnrichmentCounter(arrays, num_layers=num_layers, num_heads=num_heads, features=FEATURES)
    for pid, layers in attention:
        rows, _ = threshold_batch(layers, [layers[0].shape[-1]], [pid], theta=theta)
        counter.add(rows)
    counts = counter.counts()
    return np.stack([counts.n_attention, counts.n_feature], axis=-1)


def loop(attention, records, *, theta: float, num_layers: int, num_heads: int) -> np.ndarray:
    """The same counts with one Python iteration per (protein, layer, head, i, j)."""
    out = np.zeros((len(FEATURES), num_layers, num_heads, 2), dtype=np.int64)
    aa_index = {f[-1]: 3 + k for k, f in enumerate(AMINO_ACID_FEATURES)}
    helix = SS_GROUPS["helix"]
    for pid, layers in attention:
        rec = records[pid]
        seq, valid, ss8 = rec.sequence, rec.valid, rec.ss8
        ca = None if rec.ca is None else rec.ca.astype(np.float64)
        sites = set(rec.sites) if rec.sites is not None else None
        a = np.stack([layer[0].numpy() for layer in layers])  # (layers, heads, L, L)
        n = a.shape[-1]
        for layer in range(num_layers):
            for head in range(num_heads):
                for i in range(n):
                    for j in range(n):
                        if a[layer, head, i, j] >= theta:
                            if ca is not None and valid[i] and valid[j]:
                                out[0, layer, head, 0] += 1
                                if abs(i - j) >= 6 and ((ca[i] - ca[j]) ** 2).sum() < 64.0:
                                    out[0, layer, head, 1] += 1
                            if sites is not None:
                                out[1, layer, head, 0] += 1
                                if j in sites:
                                    out[1, layer, head, 1] += 1
                            if ss8 is not None:
                                out[2, layer, head, 0] += 1
                                if ss8[j] in helix:
                                    out[2, layer, head, 1] += 1
                            for k in range(3, len(FEATURES)):
                                out[k, layer, head, 0] += 1
                            if seq[j] in aa_index:
                                out[aa_index[seq[j]], layer, head, 1] += 1
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proteins", type=Path, default=DEMO)
    parser.add_argument("--model", default="antiberty")
    parser.add_argument("--theta", type=float, default=0.3)
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the vectorised path (median)")
    parser.add_argument("--loop-proteins", type=int, default=None, help="time the loop on the first K proteins")
    args = parser.parse_args(argv)

    records = {r.id: r for r in read_proteins(args.proteins)}
    adapter = load_adapter(args.model, device="cpu")
    stream = iter_attention(adapter, [(r.id, r.sequence) for r in records.values()], max_tokens=4096,
                            progress=False)  # fmt: skip
    attention = []
    for batch in stream:
        for b, (pid, n) in enumerate(zip(batch.ids, batch.lengths.tolist())):
            attention.append((pid, [layer[b : b + 1, :, :n, :n].clone() for layer in batch.layers]))
    arrays = feature_arrays(list(records.values()), {pid: layers[0].shape[-1] for pid, layers in attention})
    shape = dict(theta=args.theta, num_layers=adapter.num_layers, num_heads=adapter.num_heads)
    pairs = [adapter.num_layers * adapter.num_heads * layers[0].shape[-1] ** 2 for _, layers in attention]

    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        fast = vectorised(attention, arrays, **shape)
        times.append(time.perf_counter() - start)
    t_vec = statistics.median(times)

    subset = attention if args.loop_proteins is None else attention[: args.loop_proteins]
    start = time.perf_counter()
    slow = loop(subset, records, **shape)
    t_loop_measured = time.perf_counter() - start
    n_pairs, n_subset = sum(pairs), sum(pairs[: len(subset)])
    t_loop = t_loop_measured * n_pairs / n_subset
    if len(subset) == len(attention):
        if not np.array_equal(fast, slow):
            print("MISMATCH: the loop and the vectorised counts differ", file=sys.stderr)
            return 1
        check = "identical counts"
    else:
        partial = vectorised(subset, feature_arrays(list(records.values()), {pid: l[0].shape[-1] for pid, l in subset}),
                             **shape)  # fmt: skip
        if not np.array_equal(partial, slow):
            print("MISMATCH on the subset", file=sys.stderr)
            return 1
        check = f"identical counts on the {len(subset)}-protein subset; loop time extrapolated by pairs"
    print(f"{len(attention)} proteins, {n_pairs} (layer, head, i, j) weights, torch threads "
          f"{torch.get_num_threads()}; {check}", file=sys.stderr)  # fmt: skip
    columns = ["model", "proteins", "weights", "features", "loop s", "vectorised s", "speed-up", "loop measured on"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    measured = "all proteins" if len(subset) == len(attention) else f"{len(subset)} proteins, extrapolated"
    print(f"| {adapter.name} | {len(attention)} | {n_pairs} | {len(FEATURES)} | {t_loop:.1f} | {t_vec:.3f} | "
          f"{t_loop / t_vec:.0f}x | {measured} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
