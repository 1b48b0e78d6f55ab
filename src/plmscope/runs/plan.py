"""The ``plan`` verb: what a protein table supports, as JSON (read by the workflow) and a Markdown page."""

from __future__ import annotations

import json
import math
import logging
from pathlib import Path
from typing import Any, Sequence

from plmscope import options as opt
from plmscope.data.plan import ANALYSES, capabilities, plan_analyses, plan_markdown, skipped
from plmscope.data.table import read_proteins
from plmscope.errors import PlmscopeError
from plmscope.io import atomic_path

log = logging.getLogger(__name__)


def run_plan(
    proteins_path: str | Path,
    output: str | Path,
    *,
    dataset: str,
    markdown: str | Path | None = None,
    contacts_train_proteins: int = opt.CONTACT_TRAIN_PROTEINS,
    contact_cutoff: float = opt.CONTACT_CUTOFF,
    valid_dataset: bool = False,
    inactive: Sequence[str] = (),
) -> dict[str, Any]:
    """Count what ``proteins_path`` carries and decide which analyses run on it.

    Args:
        proteins_path: protein table.
        output: JSON written atomically: ``{"dataset", "capabilities", "analyses": {name: {"run", "reason"}}}``.
        dataset: dataset name (for messages and the page title).
        markdown: optional Markdown page of the same plan (for the report).
        contacts_train_proteins: proteins the contact regression trains on.
        contact_cutoff: CA-CA distance (Å) of a contact; a table without any contact at
            ``|i - j| >= 6`` cannot train the contact regression, so contacts are skipped.
        valid_dataset: probing validates on another dataset.
        inactive: analyses switched off in the configuration (listed as such, not as skipped).

    Returns:
        The JSON document.

    Raises:
        PlmscopeError: an unreadable table or an unknown analysis in ``inactive``.
    """
    unknown = [name for name in inactive if name not in ANALYSES]
    if unknown:
        raise PlmscopeError(f"plan inactive: unknown analysis {unknown}; choose from {list(ANALYSES)}")
    if not (math.isfinite(contact_cutoff) and contact_cutoff > 0):
        raise PlmscopeError(f"plan contact_cutoff: must be a positive distance in Å, got {contact_cutoff!r}")
    caps = capabilities(read_proteins(proteins_path), contact_cutoff=contact_cutoff)
    plan = plan_analyses(caps, contacts_train_proteins=contacts_train_proteins, valid_dataset=valid_dataset)
    for name in inactive:
        plan[name] = "switched off in the configuration (activate: false)"
    for name, reason in skipped(plan).items():
        if name not in inactive:
            # INFO: the plan file and the workflow (Snakemake log, once per run) name the skip to the user
            log.info("dataset %s: %s skipped: %s", dataset, name, reason)
    doc = {
        "dataset": dataset,
        "capabilities": caps,
        "analyses": {name: {"run": reason is None, "reason": reason} for name, reason in plan.items()},
    }
    inputs = [proteins_path]
    with atomic_path(output, inputs=inputs) as tmp:
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
    if markdown is not None:
        with atomic_path(markdown, inputs=inputs) as tmp:
            tmp.write_text(plan_markdown(dataset, caps, plan))
    return doc
