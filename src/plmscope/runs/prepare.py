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
    semantics: opt.Semantics = opt.SEMANTICS,
) -> int:
    """Parse ``inputs`` into the protein table ``output`` (:func:`plmscope.data.prepare.prepare`).

    ``semantics`` decides how ``sample`` is drawn: ``provis`` = ``torch.randperm`` order kept
    (the authors' sample), ``plmscope`` = numpy draw, input order.

    Returns:
        The number of protein chains written.

    Raises:
        PlmscopeError: an unknown format, an unreadable input, or a bad ``sample``.
    """
    from plmscope.data.prepare import prepare

    opt.check_choice("format", fmt, opt.INPUT_FORMATS)
    return prepare([Path(p) for p in inputs], fmt=fmt, output=Path(output), dssp=dssp, sample=sample, seed=seed,
                   semantics=semantics)
