"""Overhead of the attention pipeline over the bare forward pass (same batches, same process).

Times, on identical length-sorted batches of AntiBERTy (or ``--model``):

  (a) forward: the model call with ``output_attentions=True`` only (inputs pre-encoded);
  (b) full path: encode + forward + strip special tokens + threshold + write Parquet
      + enrichment (feature arrays, per-batch counting, backgrounds, CIs, z-tests; skipped for
      random proteins, which have no structure).

Each is repeated ``--repeats`` times, interleaved; the medians and their ratio are printed with a
per-stage breakdown and one markdown table row. Target: ratio <= 1.10. On a shared machine the
wall-clock forward time can swing by tens of percent between repeats; the "stage ratio" (full-path
stage clocks summed over the forward clock of the same runs) is the steadier figure.

Proteins: ``--proteins`` if given, else ``resources/demo/proteins.parquet`` when it exists, else
random sequences drawn from UniProt amino-acid frequencies.

    .venv/bin/python benchmarks/attention_overhead.py [--proteins table.parquet] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from plmscope.analysis.enrichment import EnrichmentCounter, summarise
from plmscope.analysis.features import backgrounds, feature_arrays
from plmscope.attention.dataset import AttentionWriter
from plmscope.attention.threshold import threshold_batch
from plmscope.data.table import read_proteins
from plmscope.models.inference import AttentionBatch, iter_attention
from plmscope.models.registry import load_adapter

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "resources" / "demo" / "proteins.parquet"

# UniProtKB/Swiss-Prot amino-acid composition (%), used only for the random fallback proteins.
AA_FREQ = {
    "A": 8.25, "R": 5.53, "N": 4.06, "D": 5.45, "C": 1.37, "Q": 3.93, "E": 6.75, "G": 7.07, "H": 2.27,
    "I": 5.96, "L": 9.66, "K": 5.84, "M": 2.42, "F": 3.86, "P": 4.70, "S": 6.56, "T": 5.34, "W": 1.08,
    "Y": 2.92, "V": 6.87,
}


class EnrichmentStep:
    """The enrichment computation of the real pipeline, fed batch by batch inside the timed path.

    Builds the feature arrays of the analysed proteins, counts every batch of thresholded rows
    for all 26 features (contacts, sites, PTMs, secondary structure, amino acids) and, at the
    end, computes backgrounds, Wilson CIs and z-tests exactly as ``plmscope enrichment`` does.
    """

    def __init__(self, records, analysed: dict[str, int], *, num_layers: int, num_heads: int):
        self.arrays = feature_arrays(records, analysed)
        self.counter = EnrichmentCounter(self.arrays, num_layers=num_layers, num_heads=num_heads)

    def add(self, rows: pa.RecordBatch) -> None:
        self.counter.add(rows)

    def finish(self):
        return summarise(self.counter.counts(), backgrounds(self.arrays))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proteins", type=Path, help="protein table (default: the demo table)")
    parser.add_argument("--model", default="antiberty", help="model name or directory (default antiberty)")
    parser.add_argument("--n-random", type=int, default=16, help="random proteins when no table exists")
    parser.add_argument("--max-proteins", type=int, default=None, help="use only the first N proteins")
    parser.add_argument("--max-residues", type=int, default=510)
    parser.add_argument("--max-tokens", type=int, default=4096)
    parser.add_argument("--theta", type=float, default=0.3)
    parser.add_argument("--repeats", type=int, default=5)
    return parser.parse_args(argv)


def load_proteins(args: argparse.Namespace) -> tuple[list[tuple[str, str]], str, list | None]:
    """(id, sequence) pairs, a description of their source, and the records (None for random ones)."""
    records = None
    if args.proteins is not None or DEMO.exists():
        records = read_proteins(args.proteins if args.proteins is not None else DEMO)
        proteins = [(r.id, r.sequence) for r in records]
        source = str(args.proteins) if args.proteins is not None else "demo"
    else:
        rng = np.random.default_rng(0)
        letters = np.array(list(AA_FREQ))
        p = np.array(list(AA_FREQ.values()))
        p = p / p.sum()
        lengths = rng.integers(60, 320, size=args.n_random)
        proteins = [(f"rand{k}", "".join(rng.choice(letters, size=int(n), p=p))) for k, n in enumerate(lengths)]
        source = f"{args.n_random} random"
    if args.max_proteins:
        proteins = proteins[: args.max_proteins]
    return proteins, source, records


def time_forward(adapter, encoded) -> float:
    """(a) the bare model call with output_attentions, on pre-encoded batches."""
    start = time.perf_counter()
    with torch.inference_mode():
        for batch in encoded:
            adapter.model(
                input_ids=batch.input_ids.to(adapter.device),
                attention_mask=batch.attention_mask.to(adapter.device),
                output_attentions=True,
            )
    return time.perf_counter() - start


def time_full(
    adapter, stream, theta: float, meta: dict, stages: dict[str, list[float]], records
) -> tuple[float, int]:
    """(b) encode + forward + strip + threshold + enrichment + write, as the pipeline does it."""
    per_stage = dict.fromkeys(("encode", "forward", "strip", "threshold", "enrich", "write"), 0.0)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        enrich = None
        if records is not None:
            analysed = {pid: min(len(seq), adapter.max_residues) for pid, seq in zip(stream.ids, stream.sequences)}
            enrich = EnrichmentStep(records, analysed, num_layers=adapter.num_layers, num_heads=adapter.num_heads)
        per_stage["enrich"] += time.perf_counter() - start
        with AttentionWriter(Path(tmp) / "out", meta=meta) as writer:
            for index in stream.batches:
                t0 = time.perf_counter()
                ids = [stream.ids[k] for k in index]
                encoded = adapter.encode([stream.sequences[k] for k in index], ids=ids)
                t1 = time.perf_counter()
                with torch.inference_mode():
                    raw = adapter.forward(encoded)
                    t2 = time.perf_counter()
                    layers = adapter.strip(raw, encoded)
                    del raw
                t3 = time.perf_counter()
                batch = AttentionBatch(
                    ids=ids, lengths=encoded.lengths.numpy(), layers=layers, n_original=stream.n_original[index],
                    n_nonstandard=encoded.n_nonstandard, n_unknown=encoded.n_unknown,
                )
                rows, counts = threshold_batch(layers, batch.lengths, ids, theta=theta)
                t4 = time.perf_counter()
                if enrich is not None:
                    enrich.add(rows)
                t5 = time.perf_counter()
                writer.write(rows, counts)
                writer.add_proteins(ids, batch.lengths, batch.n_original)
                t6 = time.perf_counter()
                for name, dt in zip(per_stage, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5)):
                    per_stage[name] += dt
            t_close = time.perf_counter()
        per_stage["write"] += time.perf_counter() - t_close
        if enrich is not None:
            t_summary = time.perf_counter()
            enrich.finish()
            per_stage["enrich"] += time.perf_counter() - t_summary
        elapsed = time.perf_counter() - start
        n_rows = writer.n_rows
    for name, dt in per_stage.items():
        stages.setdefault(name, []).append(dt)
    return elapsed, n_rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    proteins, source, records = load_proteins(args)
    adapter = load_adapter(args.model, max_residues=args.max_residues, device="auto", dtype="auto")
    stream = iter_attention(adapter, proteins, max_tokens=args.max_tokens, progress=False)
    encoded = [adapter.encode([stream.sequences[k] for k in b]) for b in stream.batches]
    meta = adapter.describe() | {"theta": args.theta, "long_sequences": "truncate"}
    n_res = sum(len(s) for s in stream.sequences)
    print(
        f"model {adapter.name} ({adapter.num_layers}x{adapter.num_heads}) on {adapter.device}, "
        f"{len(stream.ids)} proteins ({source}), {n_res} residues, {len(stream.batches)} batches, "
        f"torch threads {torch.get_num_threads()}",
        file=sys.stderr,
    )
    time_forward(adapter, encoded[:1])  # warm-up
    forward, full, stages, n_rows = [], [], {}, 0
    for r in range(args.repeats):
        forward.append(time_forward(adapter, encoded))
        elapsed, n_rows = time_full(adapter, stream, args.theta, meta, stages, records)
        full.append(elapsed)
        print(f"repeat {r + 1}: forward {forward[-1]:.3f} s, full {full[-1]:.3f} s", file=sys.stderr)
    f_med, p_med = statistics.median(forward), statistics.median(full)
    ratio = p_med / f_med
    med = {k: statistics.median(v) for k, v in stages.items()}
    # the same ratio from the stage clocks inside the full path (robust to load changes between runs)
    stage_ratio = sum(med.values()) / med["forward"]
    breakdown = ", ".join(f"{k} {v:.3f}" for k, v in med.items())
    print(f"full-path stages (median s): {breakdown}", file=sys.stderr)
    columns = ["model", "device", "proteins", "residues", "batches", "rows", "forward s", "full s", "ratio",
               "stage ratio", "target"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    verdict = "ok" if max(ratio, stage_ratio) <= 1.10 else ("ok (stages)" if stage_ratio <= 1.10 else "MISSED")
    print(
        f"| {adapter.name} | {adapter.device} | {len(stream.ids)} | {n_res} | {len(stream.batches)} | {n_rows} | "
        f"{f_med:.3f} | {p_med:.3f} | {ratio:.3f} | {stage_ratio:.3f} | {verdict} (<= 1.10) |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
