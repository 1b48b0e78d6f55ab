"""Benchmark: every Fourier estimator at one equal query budget on planted landscapes over Z_20^10.

Scenarios: a planted sparse Fourier spectrum (orders 1-3) noiseless and at 20, 10 and 0 dB SNR;
the issue-13 landscape shaped like a protein model's (additive effects at every site plus 200
amino-acid-specific pairs, 20 dB; 16,436 nonzero Fourier coefficients); and additive effects plus
a sparse spectrum of orders 2-3 (where low-order regression + q-SFT on the residual is meant to
help). Each estimator runs with its default options at the same budget (q-SFT picks the largest
b that fits). Reported: held-out R^2 on uniform points against the noiseless function with a
bootstrap 95% CI, queries used, coefficients returned, and wall time.

Usage:
    python benchmarks/estimators.py                                   # all scenarios (about 10 min, 2 cores)
    python benchmarks/estimators.py --scenarios additive_pairwise --methods lasso hierarchical
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from plmscope.errors import PlmscopeError
from plmscope.fourier import (
    METHODS,
    FourierCoefficients,
    Landscape,
    metrics,
    planted_sparse_function,
)
from plmscope.fourier.onehot import merge_frequencies
from plmscope.fourier.planted import (
    PlantedFunction,
    additive_pairwise_function,
    noise_sd_for_snr,
    planted_onehot_function,
)
from plmscope.io import atomic_path

N, Q = 10, 20
SCENARIOS = ["sparse_clean", "sparse_20dB", "sparse_10dB", "sparse_0dB", "additive_pairwise", "additive_sparse"]


def landscape(name: str, seed: int) -> tuple[PlantedFunction, str]:
    """The planted function of a scenario and a one-line description."""
    if name.startswith("sparse"):
        snr = None if name == "sparse_clean" else float(name.split("_")[1].removesuffix("dB"))
        clean = planted_sparse_function(N, Q, 200, max_order=3, seed=seed)
        f = planted_sparse_function(N, Q, 200, max_order=3, seed=seed, noise_sd=noise_sd_for_snr(clean.variance, snr))
        return f, f"planted sparse, 200 coefficients of orders 1-3, {'noiseless' if snr is None else f'{snr:g} dB'}"
    if name == "additive_pairwise":
        return additive_pairwise_function(N, Q, n_pairs=200, snr_db=20.0, seed=seed), (
            "additive at every site + 200 amino-acid-specific pairs, 20 dB (16,436 coefficients)"
        )
    if name == "additive_sparse":
        add = planted_onehot_function(N, Q, n_pairs=0, seed=seed).coefficients
        sparse = planted_sparse_function(N, Q, 100, max_order=3, seed=seed + 1).coefficients
        high = sparse.orders >= 2
        freqs, vals = merge_frequencies(
            np.concatenate([add.frequencies, sparse.frequencies[high]]),
            np.concatenate([add.values, sparse.values[high]]),
            Q,
        )
        coeffs = FourierCoefficients(freqs, vals, q=Q, n=N, method="planted")
        variance = metrics.variance(coeffs)
        return PlantedFunction(coeffs, noise_sd=noise_sd_for_snr(variance, 20.0), seed=seed), (
            "additive at every site + sparse spectrum of orders 2-3, 20 dB"
        )
    raise PlmscopeError(f"unknown scenario {name!r}; choose from {SCENARIOS}")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", default=SCENARIOS, choices=SCENARIOS)
    parser.add_argument("--methods", nargs="+", default=["qsft", "lasso", "hierarchical", "proxy", "residual"],
                        choices=sorted(set(METHODS) - {"exact"}))
    parser.add_argument("--budget", type=int, default=19_000)
    parser.add_argument("--test-points", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("estimators_README_rows.md"))
    return parser.parse_args(argv)


HEADER = (
    "| scenario | method | queries | held-out R^2 [95% CI] | coefficients | seconds |\n"
    "|---|---|---:|---|---:|---:|"
)


def main(argv=None) -> int:
    args = parse_args(argv)
    command = "python benchmarks/estimators.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    X_test = np.random.default_rng([args.seed, 99]).integers(0, Q, size=(args.test_points, N))
    lines = [HEADER]
    print(HEADER, flush=True)
    started = time.perf_counter()
    for scenario in args.scenarios:
        f, _ = landscape(scenario, args.seed)
        y_true = f.true(X_test)
        for method in args.methods:
            land = Landscape(f, N, Q)
            start = time.perf_counter()
            try:
                coeffs = METHODS[method](seed=args.seed).fit(land, args.budget)
            except PlmscopeError as err:
                line = f"| {scenario} | {method} | — | not run: {err} | — | — |"
            else:
                seconds = time.perf_counter() - start
                r2, lo, hi = metrics.bootstrap_ci(metrics.r2, y_true, coeffs.predict(X_test), n_boot=200, seed=args.seed)
                line = (
                    f"| {scenario} | {method} | {coeffs.queries:,} | {r2:.4f} [{lo:.4f}, {hi:.4f}] "
                    f"| {len(coeffs):,} | {seconds:.1f} |"
                )
            print(line, flush=True)
            lines.append(line)
    elapsed = time.perf_counter() - started
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    footer = (
        f"\nn = {N}, q = {Q}; budget {args.budget:,} queries for every estimator (default options); R^2 on "
        f"{args.test_points:,} held-out uniform points against the noiseless function, bootstrap 95% CI. "
        "Scenarios: " + "; ".join(f"{s}: {landscape(s, args.seed)[1]}" for s in args.scenarios) + ". "
        f"Total run {elapsed / 60:.1f} min on {os.cpu_count()} CPU cores (shared machine; 1-min load average at the "
        f"end: {load:.1f}).\nCommand: `{command.strip()}`\n"
    )
    print(footer)
    with atomic_path(args.output) as tmp:
        tmp.write_text("\n".join(lines) + "\n" + footer)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
