"""Parse input files of one format into the protein table (the ``prepare`` step)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Literal, Sequence, get_args

import numpy as np

from plmscope.data.fasta import read_fasta
from plmscope.data.proteinnet import read_proteinnet
from plmscope.data.structure import read_structure
from plmscope.data.table import ProteinRecord, read_proteins, write_proteins
from plmscope.data.tape_lmdb import read_tape_lmdb
from plmscope.errors import PlmscopeError, located
from plmscope.io import check_output
from plmscope.options import SEMANTICS, SEMANTICS_CHOICES, Semantics, check_choice

InputFormat = Literal["proteinnet", "tape-lmdb", "pdb", "fasta", "table"]
"""Input formats; ``pdb`` covers PDB and mmCIF files (optionally gzipped), ``table`` is an
existing protein table (Parquet), so several tables can be merged into one."""

READERS: dict[str, Callable[[Path], list[ProteinRecord]]] = {
    "proteinnet": read_proteinnet,
    "tape-lmdb": read_tape_lmdb,
    "pdb": read_structure,
    "fasta": read_fasta,
    "table": read_proteins,
}


def read_inputs(inputs: Sequence[Path], *, fmt: InputFormat, dssp: bool = False) -> list[ProteinRecord]:
    """Parse every input of format ``fmt`` into records, in input order.

    Args:
        inputs: files (``.lmdb`` directories for ``tape-lmdb``).
        fmt: the input format.
        dssp: run ``mkdssp`` to fill ``ss8`` (only for ``fmt="pdb"``).

    Raises:
        PlmscopeError: an unknown format, no inputs, a missing input, or any parse error.
    """
    if fmt not in READERS:
        raise PlmscopeError(f"unknown input format {fmt!r} (choose from {', '.join(get_args(InputFormat))})")
    if dssp and fmt != "pdb":
        raise PlmscopeError(f"DSSP secondary structure needs structure files (format 'pdb'), not {fmt!r}")
    inputs = [Path(p) for p in inputs]
    if not inputs:
        raise PlmscopeError("no input files given")
    for path in inputs:
        if not path.exists():
            raise located(path, "input not found")
    records: list[ProteinRecord] = []
    for path in inputs:
        records.extend(read_structure(path, dssp=True) if dssp else READERS[fmt](path))
    return records


def sample_records(
    records: list[ProteinRecord], *, n: int, seed: int, semantics: Semantics = SEMANTICS
) -> list[ProteinRecord]:
    """Draw ``n`` records without replacement with a seeded generator.

    The paper analyses 5,000 sequences drawn from each training split with seed 123; the
    draw depends only on (number of records, n, seed), so it is reproducible.

    ``semantics="plmscope"``: numpy draw, input order kept; ``n`` at or above the number of records
    keeps them all. ``semantics="provis"``: ``torch.manual_seed(seed); torch.randperm(len)[:n]`` in
    that (random) order, as the authors' code analysed them
    (:func:`plmscope.data.sampling.provis_sample_indices`; needs torch).
    """
    if n <= 0:
        raise PlmscopeError(f"sample size must be positive, got {n}")
    if check_choice("semantics", semantics, SEMANTICS_CHOICES) == "provis":
        from plmscope.data.sampling import provis_sample_indices

        return [records[k] for k in provis_sample_indices(len(records), n, seed)]
    if n >= len(records):
        return records
    keep = np.sort(np.random.default_rng(seed).choice(len(records), size=n, replace=False))
    return [records[k] for k in keep]


def prepare(
    inputs: Sequence[Path],
    *,
    fmt: InputFormat,
    output: Path,
    dssp: bool = False,
    sample: int | None = None,
    seed: int = 123,
    semantics: Semantics = SEMANTICS,
) -> int:
    """Parse ``inputs`` and write the protein table to ``output`` atomically.

    Args:
        inputs: files (``.lmdb`` directories for ``tape-lmdb``).
        fmt: the input format.
        output: the Parquet file to write (see :mod:`plmscope.data.table`).
        dssp: run ``mkdssp`` to fill ``ss8`` (only for ``fmt="pdb"``).
        sample: keep a seeded random subset of this many records (None keeps all).
        seed: seed of that subset.
        semantics: how the subset is drawn (:func:`sample_records`).

    Returns:
        The number of rows written.

    Raises:
        PlmscopeError: any input problem (missing file, parse error, duplicate id), or an
            ``output`` that is an input, a directory or not writable (:mod:`plmscope.io`);
            nothing is written to ``output`` then.
    """
    check_output(output, directory=False, inputs=inputs)  # never an input, a directory or the working directory
    records = read_inputs(inputs, fmt=fmt, dssp=dssp)
    if sample is not None:
        records = sample_records(records, n=sample, seed=seed, semantics=semantics)
    return write_proteins(records, output)
