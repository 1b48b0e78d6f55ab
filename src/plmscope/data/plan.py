"""What a protein table can support: counts of coordinates and labels, and which analyses run or are skipped."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from plmscope.data.contacts import contact_pairs
from plmscope.data.table import ProteinRecord
from plmscope.options import CONTACT_CUTOFF, CONTACT_MIN_SEPARATION

MIN_SEPARATION = CONTACT_MIN_SEPARATION
"""Smallest sequence separation of a contact pair (as in contact prediction and enrichment)."""

ANALYSES: tuple[str, ...] = ("views", "contacts", "probing", "robustness", "contact_maps", "sequence_views")
"""Analyses a plan decides on, per dataset (attention, enrichment and figures always run)."""


def has_structure(record: ProteinRecord) -> bool:
    """True when the record has CA coordinates on two residues at least ``MIN_SEPARATION`` apart."""
    if record.ca is None or record.valid is None:
        return False
    index = np.flatnonzero(record.valid & np.isfinite(record.ca).all(axis=1))
    return len(index) >= 2 and int(index[-1] - index[0]) >= MIN_SEPARATION


def has_contact(record: ProteinRecord, *, cutoff: float = CONTACT_CUTOFF) -> bool:
    """True when two residues ``|i - j| >= MIN_SEPARATION`` apart have CA atoms closer than ``cutoff`` Å.

    The contact regression learns from such pairs; a table whose proteins hold none cannot train it.
    """
    if not has_structure(record):
        return False
    i, _ = contact_pairs(record.ca, record.valid, cutoff=cutoff, min_separation=MIN_SEPARATION)
    return len(i) > 0


def capabilities(records: Sequence[ProteinRecord], *, contact_cutoff: float = CONTACT_CUTOFF) -> dict[str, Any]:
    """Counts of what a protein table carries.

    Args:
        records: the proteins.
        contact_cutoff: CA-CA distance (Å) of a contact, for ``n_contact_proteins``.

    Returns:
        ``{"n_proteins", "n_coordinates", "n_contact_proteins", "n_ss8", "n_sites", "n_ptms", "min_length",
        "max_length"}``; ``n_contact_proteins`` counts proteins with at least one contact at
        ``|i - j| >= MIN_SEPARATION`` (:func:`has_contact`); lengths are None for an empty table.
    """
    lengths = [len(r.sequence) for r in records]
    return {
        "n_proteins": len(records),
        "n_coordinates": sum(has_structure(r) for r in records),
        "n_contact_proteins": sum(has_contact(r, cutoff=contact_cutoff) for r in records),
        "n_ss8": sum(r.ss8 is not None for r in records),
        "n_sites": sum(bool(r.sites) for r in records),
        "n_ptms": sum(bool(r.ptms) for r in records),
        "min_length": min(lengths) if lengths else None,
        "max_length": max(lengths) if lengths else None,
    }


def plan_analyses(caps: dict[str, Any], *, contacts_train_proteins: int, valid_dataset: bool = False) -> dict[str, str | None]:
    """Decide, from :func:`capabilities`, which analyses a dataset supports.

    Args:
        caps: counts from :func:`capabilities`.
        contacts_train_proteins: proteins the contact regression trains on (one more is needed to test it).
        valid_dataset: probing validates on another dataset (then one labelled protein here suffices).

    Returns:
        ``{analysis: None}`` when it runs, ``{analysis: "reason"}`` when it is skipped, for every
        name of :data:`ANALYSES`. ``contact_maps`` runs on every dataset here: whether a fitted
        regression exists is decided across datasets by the workflow.
    """
    n_coords = caps["n_coordinates"]
    plan: dict[str, str | None] = dict.fromkeys(ANALYSES)
    if caps["n_proteins"] == 0:
        return dict.fromkeys(ANALYSES, "the protein table is empty")
    if n_coords == 0:
        plan["views"] = "no protein has CA coordinates (the 3D view needs a structure)"
    need = contacts_train_proteins + 1
    if n_coords < need:
        plan["contacts"] = (
            f"{_proteins(n_coords)} with CA coordinates; fitting and testing the contact regression needs {need} "
            f"(contacts.train_proteins {contacts_train_proteins} + 1)"
        )
    elif caps["n_contact_proteins"] == 0:
        plan["contacts"] = (
            f"none of the {_proteins(n_coords)} with CA coordinates has a contact at |i - j| >= {MIN_SEPARATION}; "
            f"the contact regression has no positive pair to train on"
        )
    labelled = max(caps["n_ss8"], caps["n_sites"], n_coords)
    need_probe = 1 if valid_dataset else 2
    if labelled < need_probe:
        what = "no protein carries" if labelled == 0 else f"only {_proteins(labelled)} carries"
        plan["probing"] = (
            f"{what} probe labels (secondary structure, binding sites or CA coordinates); "
            f"a training and a validation protein are needed"
        )
    return plan


def skipped(plan: dict[str, str | None]) -> dict[str, str]:
    """The skipped analyses of a plan and why."""
    return {name: reason for name, reason in plan.items() if reason is not None}


def plan_markdown(dataset: str, caps: dict[str, Any], plan: dict[str, str | None]) -> str:
    """A short Markdown page: what the dataset carries, what runs, what is skipped and why."""
    lines = [
        f"# Dataset {dataset}: analysis plan",
        "",
        f"{caps['n_proteins']} protein(s), lengths {caps['min_length']}-{caps['max_length']}; "
        f"with CA coordinates {caps['n_coordinates']} (with a contact at |i - j| >= {MIN_SEPARATION}: "
        f"{caps['n_contact_proteins']}), secondary structure {caps['n_ss8']}, "
        f"binding sites {caps['n_sites']}, PTMs {caps['n_ptms']}.",
        "",
        "| analysis | planned |",
        "|---|---|",
    ]
    for name, reason in plan.items():
        lines.append(f"| {name} | {'runs' if reason is None else 'skipped: ' + reason} |")
    return "\n".join(lines) + "\n"


def _proteins(n: int) -> str:
    return f"{n} protein" if n == 1 else f"{n} proteins"
