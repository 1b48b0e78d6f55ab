"""Null input: protein sequences with their residues shuffled, structure labels left where they were."""

from __future__ import annotations

import dataclasses
from typing import Iterable

import numpy as np

from plmscope.data.table import ProteinRecord


def shuffle_sequences(records: Iterable[ProteinRecord], *, seed: int) -> list[ProteinRecord]:
    """Permute the residues of every sequence at random; keep every label at its original position.

    This is the positional control of the attention enrichment: a model run on the shuffled
    sequences is compared with the REAL structure of the original protein. Coordinates
    (``ca``, ``valid``), secondary structure (``ss8``), binding sites and PTMs are copied
    unchanged, so position k keeps the label of the original residue k while the model now sees
    a different residue there. If attention on shuffled sequences were as enriched as on real
    ones, the enrichment would come from positions (sequence separation, chain ends, length)
    rather than from what the model read. The enrichment of such a run must therefore use the
    ORIGINAL protein table (same ids, lengths and labels); amino-acid features then name the
    original residue at the attended position, not the one the model saw.

    Each sequence keeps its length and amino-acid composition. One generator seeded with
    ``seed`` draws the permutations in record order, so the same records and seed give the same
    sequences.

    Args:
        records: the proteins (not modified).
        seed: seed of :func:`numpy.random.default_rng`.

    Returns:
        New records with the same ids, labels and lengths; ``source`` notes the shuffle.
    """
    rng = np.random.default_rng(seed)
    out = []
    for r in records:
        letters = np.frombuffer(r.sequence.encode("ascii"), dtype=np.uint8)
        shuffled = letters[rng.permutation(len(letters))].tobytes().decode("ascii")
        out.append(
            dataclasses.replace(
                r,
                sequence=shuffled,
                ca=None if r.ca is None else r.ca.copy(),
                valid=None if r.valid is None else r.valid.copy(),
                sites=None if r.sites is None else list(r.sites),
                ptms=None if r.ptms is None else list(r.ptms),
                source=f"{r.source or r.id} (residues shuffled, seed {seed})",
            )
        )
    return out
