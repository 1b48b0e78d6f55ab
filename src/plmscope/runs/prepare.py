"""The ``prepare`` verb: input files (ProteinNet, TAPE LMDB, PDB, FASTA, table) -> one protein table."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from plmscope import options as opt
from plmscope.options import InputFormat

log = logging.getLogger(__name__)


def run_prepare(
    inputs: Sequence[str | Path],
    *,
    fmt: InputFormat,
    output: str | Path,
    dssp: bool = False,
    sample: int | None = None,
    seed: int = opt.PREPARE_SEED,
) -> int:
    """Parse ``inputs`` into the protein table ``output`` (:func:`plmscope.data.prepare.prepare`).

    Returns:
        The number of protein chains written.

    Raises:
        PlmscopeError: an unknown format, an unreadable input, or a bad ``sample``.
    """
    from plmscope.data.prepare import prepare

    opt.check_choice("format", fmt, opt.INPUT_FORMATS)
    return prepare([Path(p) for p in inputs], fmt=fmt, output=Path(output), dssp=dssp, sample=sample, seed=seed)
