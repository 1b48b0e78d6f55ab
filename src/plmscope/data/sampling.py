"""Protein subsets drawn exactly as the authors' code drew them (provis) or with numpy (plmscope)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

from plmscope.errors import PlmscopeError

T = TypeVar("T")

PROVIS_SAMPLE_SIZE = 5000
"""Sequences analysed per dataset by provis (``--num-sequences 5000``)."""

PROVIS_SEED = 123
"""provis's ``--seed`` default, passed to ``torch.manual_seed`` before the draw."""


def provis_sample_indices(
    n: int,
    k: int = PROVIS_SAMPLE_SIZE,
    seed: int = PROVIS_SEED,
    *,
    after_seed: Callable[[], object] | None = None,
) -> list[int]:
    """The indices provis analyses: ``torch.manual_seed(seed); torch.randperm(n)[:k].tolist()``.

    provis (``compute_edge_features.py --shuffle``) seeds torch's global generator and keeps the
    first ``k`` entries of a random permutation of the dataset, in that (random) order. The draw
    is reproduced with a private :class:`torch.Generator` seeded the same way, which yields the
    same permutation as the global generator after ``torch.manual_seed`` but leaves the caller's
    global torch RNG untouched.

    Args:
        n: number of records in the split (dataset order, e.g. the LMDB order).
        k: sample size; ``k >= n`` keeps a permutation of all ``n``.
        seed: torch seed.
        after_seed: called between seeding and the draw, with the global generator seeded (the
            global RNG state is restored afterwards). provis builds its model
            (``ProteinBertModel.from_pretrained``) between ``torch.manual_seed`` and
            ``torch.randperm``; module construction draws random initial weights from the global
            CPU generator, so the sample provis analysed is the one drawn after that
            construction. Pass a callable that builds the same architecture the same way (TAPE's
            module order) to reproduce it; without it the draw is the bare
            ``torch.manual_seed(seed); torch.randperm(n)[:k]``.

    Returns:
        ``min(k, n)`` distinct indices into the split, in provis's order (not sorted).
    """
    import torch

    if int(n) < 0 or int(k) < 1:
        raise PlmscopeError(f"provis sample: need n >= 0 and k >= 1, got n={n}, k={k}")
    if after_seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            after_seed()
            return torch.randperm(int(n))[: int(k)].tolist()
    generator = torch.Generator()
    generator.manual_seed(int(seed))
    return torch.randperm(int(n), generator=generator)[: int(k)].tolist()


def provis_sample(records: Sequence[T], k: int = PROVIS_SAMPLE_SIZE, seed: int = PROVIS_SEED) -> list[T]:
    """The records provis analyses, in its order (see :func:`provis_sample_indices`)."""
    return [records[i] for i in provis_sample_indices(len(records), k, seed)]


def plmscope_sample_indices(n: int, k: int, seed: int) -> np.ndarray:
    """plmscope's seeded subset: ``k`` of ``n`` without replacement (numpy), sorted (input order kept)."""
    if k >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))
