"""Benchmark: peak memory and time of one q-SFT fit at the paper configuration.

The `epistasis_paper` setup of `config.yaml` (Tsui & Aghazadeh 2024): n = 10 sites, q = 20,
b = 4, C = 2, random delays with R = 2 offsets, noise_threshold auto with 2000 validation
queries (7.04 M subsampling queries). The model is replaced by a planted sparse function (orders
1-3), so the figures are q-SFT's own memory (landscape cache + bins + peeling), not a model's.

Run it under ``/usr/bin/time -v`` for the process peak RSS; the script also prints
``ru_maxrss`` and, with ``--tracemalloc``, the peak of traced Python/numpy allocations.

Usage:
    /usr/bin/time -v python benchmarks/qsft_memory.py              # peak RSS
    python benchmarks/qsft_memory.py --tracemalloc                 # peak of traced allocations
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import numpy as np

from plmscope.fourier import Landscape, metrics, planted_sparse_function
from plmscope.fourier.qsft import QSFT


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--q", type=int, default=20)
    parser.add_argument("--b", type=int, default=4)
    parser.add_argument("--C", type=int, default=2)
    parser.add_argument("--R", type=int, default=2)
    parser.add_argument("--sparsity", type=int, default=200)
    parser.add_argument("--noise-sd", type=float, default=0.0)
    parser.add_argument("--n-validation", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tracemalloc", action="store_true", help="also report the traced allocation peak")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    f = planted_sparse_function(args.n, args.q, args.sparsity, seed=args.seed, noise_sd=args.noise_sd)
    land = Landscape(f, args.n, args.q)
    est = QSFT(b=args.b, C=args.C, delays="random", R=args.R, noise_threshold="auto",
               n_validation=args.n_validation, max_iter=30, seed=args.seed)
    if args.tracemalloc:
        tracemalloc.start()
    start = time.perf_counter()
    coeffs = est.fit(land)
    seconds = time.perf_counter() - start
    traced = tracemalloc.get_traced_memory()[1] if args.tracemalloc else None
    if args.tracemalloc:
        tracemalloc.stop()
    X = np.random.default_rng(123).integers(0, args.q, size=(10_000, args.n))
    p, r = metrics.support_precision_recall(coeffs, f.coefficients)
    r2 = metrics.r2(f.true(X), coeffs.predict(X))
    print(f"n={args.n} q={args.q} b={args.b} C={args.C} R={args.R} S={args.sparsity} noise_sd={args.noise_sd}")
    print(f"queries {coeffs.queries:,}  coefficients {len(coeffs.values)}  support P/R {p:.3f}/{r:.3f}  "
          f"held-out R^2 {r2:.6f}")
    print(f"thresholds tried: {len(est.thresholds_tried)}  fit {seconds:.1f} s")
    print(f"ru_maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    if traced is not None:
        print(f"tracemalloc peak {traced / 2**20:.0f} MB")


if __name__ == "__main__":
    main()
