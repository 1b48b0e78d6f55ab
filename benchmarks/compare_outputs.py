"""Compare the Parquet outputs of two results trees: same files, same rows, numbers equal to a tolerance.

Used to check that a refactoring leaves behaviour unchanged: run a small config before and after,
then ``python benchmarks/compare_outputs.py BEFORE/results AFTER/results``. Attention datasets are
compared as sets of rows (sorted by their key columns, since batch order may differ); every other
table row by row after sorting by all non-float columns. Exit code 0 when everything matches.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

IGNORED = ("meta.json",)  # timings and paths differ between runs


def _read(path: Path) -> pd.DataFrame:
    if path.is_dir():  # a partitioned dataset directory
        return pd.concat([pd.read_parquet(p) for p in sorted(path.glob("*.parquet"))], ignore_index=True)
    return pd.read_parquet(path)


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    def sortable(v) -> bool:
        return isinstance(v, (str, int, np.integer, bool, np.bool_)) or v is None

    keys = [c for c in frame.columns if not pd.api.types.is_float_dtype(frame[c]) and frame[c].map(sortable).all()]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True) if keys else frame


def compare_tables(a: pd.DataFrame, b: pd.DataFrame, *, atol: float) -> str | None:
    """None when equal (floats within ``atol``), else the first difference in words."""
    if list(a.columns) != list(b.columns):
        return f"columns differ: {list(a.columns)} vs {list(b.columns)}"
    if len(a) != len(b):
        return f"{len(a)} vs {len(b)} rows"
    a, b = _canonical(a), _canonical(b)
    for column in a.columns:
        x, y = a[column], b[column]
        if pd.api.types.is_float_dtype(x) and pd.api.types.is_float_dtype(y):
            diff = np.abs(x.to_numpy(np.float64) - y.to_numpy(np.float64))
            both_nan = np.isnan(x.to_numpy(np.float64)) & np.isnan(y.to_numpy(np.float64))
            worst = np.nanmax(np.where(both_nan, 0.0, diff)) if len(diff) else 0.0
            if not worst <= atol:
                return f"column {column}: max |difference| {worst:.3g} > {atol}"
        elif not x.astype(str).equals(y.astype(str)):
            return f"column {column}: values differ"
    return None


def compare_trees(before: Path, after: Path, *, atol: float = 1e-6) -> list[str]:
    """Problems found (empty when the trees' Parquet outputs agree)."""
    files_a = {p.relative_to(before) for p in before.rglob("*.parquet")}
    files_b = {p.relative_to(after) for p in after.rglob("*.parquet")}
    problems = [f"only in {before}: {p}" for p in sorted(files_a - files_b)]
    problems += [f"only in {after}: {p}" for p in sorted(files_b - files_a)]
    datasets = sorted({p.parent for p in files_a & files_b if p.parent.name == "attention"})
    for rel in datasets:  # attention parts: part boundaries may move with the batch size; compare the union
        problem = compare_tables(_read(before / rel), _read(after / rel), atol=atol)
        if problem:
            problems.append(f"{rel}: {problem}")
    for rel in sorted(files_a & files_b):
        if rel.parent in datasets:
            continue
        problem = compare_tables(_read(before / rel), _read(after / rel), atol=atol)
        if problem:
            problems.append(f"{rel}: {problem}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--atol", type=float, default=1e-6, help="tolerance of float columns (weights, statistics)")
    args = parser.parse_args(argv)
    problems = compare_trees(args.before, args.after, atol=args.atol)
    n = len(list(args.before.rglob("*.parquet")))
    for problem in problems:
        print(problem)
    verdict = f"identical within {args.atol}" if not problems else f"{len(problems)} differences"
    print(f"{n} Parquet files compared: {verdict}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
