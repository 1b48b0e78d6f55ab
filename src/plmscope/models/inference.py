"""Batched attention inference: length-sorted batches under a padded-token budget."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import Iterator, Literal, Sequence

import numpy as np
import torch
from tqdm import tqdm

from plmscope.errors import PlmscopeError
from plmscope.models.base import AttentionAdapter

log = logging.getLogger(__name__)

LongSequences = Literal["truncate", "skip", "error"]


@dataclass
class AttentionBatch:
    """Residue attention for one batch of proteins.

    Attributes:
        ids: protein ids, length B.
        lengths: ``(B,)`` residues analysed per protein.
        layers: per-layer ``(B, H, Lr, Lr)`` residue attention (zero beyond each length).
        n_original: ``(B,)`` residues in the input sequence (before truncation).
        n_nonstandard: ``(B,)`` analysed residues outside the 20 canonical amino acids.
        n_unknown: ``(B,)`` analysed residues the model saw as its unknown token.
    """

    ids: list[str]
    lengths: np.ndarray
    layers: tuple[torch.Tensor, ...]
    n_original: np.ndarray
    n_nonstandard: np.ndarray
    n_unknown: np.ndarray

    @property
    def truncated(self) -> np.ndarray:
        """``(B,)`` bool, True where the protein was cut to ``max_residues``."""
        return self.lengths < self.n_original


@dataclass
class InferenceStats:
    """What happened to the input proteins (truncation and skipping are known before any batch runs)."""

    n_input: int = 0
    n_analysed: int = 0
    truncated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    n_nonstandard: int = 0
    n_unknown: int = 0
    n_batches: int = 0

    @property
    def n_truncated(self) -> int:
        """Proteins cut to their first ``max_residues`` residues."""
        return len(self.truncated)

    @property
    def n_skipped(self) -> int:
        """Proteins left out because they were longer than ``max_residues``."""
        return len(self.skipped)


def plan_batches(lengths: Sequence[int], *, max_tokens: int, n_special: int) -> list[list[int]]:
    """Group sequences into batches, longest first, under a padded-token budget.

    A batch of B sequences whose longest has Lmax residues costs ``B * (Lmax + n_special)``
    tokens; batches are filled greedily in decreasing length (ties in input order) while that
    stays ``<= max_tokens``. A sequence over the budget on its own gets a batch of its own.

    Args:
        lengths: residues per sequence.
        max_tokens: padded-token budget per batch.
        n_special: special tokens the model adds to every sequence.

    Returns:
        Batches as lists of indices into ``lengths``; within a batch, lengths are non-increasing.
    """
    if max_tokens < 1:
        raise PlmscopeError(f"max_tokens must be a positive number of tokens, got {max_tokens}")
    order = sorted(range(len(lengths)), key=lambda k: (-int(lengths[k]), k))
    batches: list[list[int]] = []
    current: list[int] = []
    for k in order:
        if current and (len(current) + 1) * (int(lengths[current[0]]) + n_special) > max_tokens:
            batches.append(current)
            current = []
        current.append(k)
    if current:
        batches.append(current)
    return batches


class AttentionStream:
    """Iterable of :class:`AttentionBatch` with the truncation/skip counts in :attr:`stats`.

    Built by :func:`iter_attention`; the plan (which proteins go in which batch) is fixed at
    construction, the model runs lazily while iterating.
    """

    def __init__(
        self,
        adapter: AttentionAdapter,
        proteins: Sequence[tuple[str, str]],
        *,
        max_tokens: int,
        long_sequences: LongSequences,
        progress: bool,
    ):
        if long_sequences not in ("truncate", "skip", "error"):
            raise PlmscopeError(f"long_sequences must be truncate, skip or error, got {long_sequences!r}")
        self.adapter = adapter
        self.progress = progress
        limit = adapter.max_residues
        self.stats = InferenceStats(n_input=len(proteins))
        seen: set[str] = set()
        ids, seqs, original = [], [], []
        for pid, seq in proteins:
            pid = str(pid)
            if pid in seen:
                raise PlmscopeError(f"duplicate protein id {pid!r} in the attention input")
            seen.add(pid)
            if len(seq) > limit:
                if long_sequences == "error":
                    raise PlmscopeError(
                        f"protein {pid!r} has {len(seq)} residues, over the limit of {limit} for model "
                        f"{adapter.name!r} (set long_sequences to truncate or skip)"
                    )
                if long_sequences == "skip":
                    self.stats.skipped.append(pid)
                    continue
                self.stats.truncated.append(pid)
            ids.append(pid)
            seqs.append(seq[:limit])
            original.append(len(seq))
        self.ids, self.sequences = ids, seqs
        self.n_original = np.array(original, dtype=np.int64)
        self.stats.n_analysed = len(ids)
        self.batches = plan_batches([len(s) for s in seqs], max_tokens=max_tokens, n_special=adapter.n_special)
        self.stats.n_batches = len(self.batches)

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[AttentionBatch]:
        bar = tqdm(
            total=len(self.ids),
            unit="protein",
            desc=f"attention {self.adapter.name}",
            file=sys.stderr,
            disable=not self.progress,
        )
        with bar:
            for index in self.batches:
                ids = [self.ids[k] for k in index]
                encoded = self.adapter.encode([self.sequences[k] for k in index], ids=ids)
                with torch.inference_mode():
                    layers = self.adapter.attentions(encoded)
                self.stats.n_nonstandard += int(encoded.n_nonstandard.sum())
                self.stats.n_unknown += int(encoded.n_unknown.sum())
                batch = AttentionBatch(
                    ids=ids,
                    lengths=encoded.lengths.numpy().astype(np.int64),
                    layers=layers,
                    n_original=self.n_original[index],
                    n_nonstandard=encoded.n_nonstandard,
                    n_unknown=encoded.n_unknown,
                )
                yield batch
                bar.update(len(index))


def iter_attention(
    adapter: AttentionAdapter,
    proteins: Sequence[tuple[str, str]],
    *,
    max_tokens: int,
    long_sequences: LongSequences = "truncate",
    progress: bool = True,
) -> AttentionStream:
    """Residue attention for many proteins, in length-sorted batches.

    Args:
        adapter: a loaded model (:func:`plmscope.models.registry.load_adapter`).
        proteins: ``(id, sequence)`` pairs; ids must be unique.
        max_tokens: padded-token budget per batch (see :func:`plan_batches`). Attention memory per
            batch is about ``max_tokens * T * heads * layers * 4`` bytes for T tokens per sequence.
        long_sequences: for sequences over ``adapter.max_residues``: ``"truncate"`` to the first
            ``max_residues`` residues (as in Vig et al.), ``"skip"`` them, or ``"error"``.
        progress: show a tqdm progress bar on stderr.

    Returns:
        An iterable of :class:`AttentionBatch`; its ``stats`` hold the truncated and skipped ids
        (known at once) and the non-standard residue counts (growing as batches run).

    Raises:
        PlmscopeError: duplicate ids, a bad option, or (``long_sequences="error"``) a protein over
            the limit, named with its length, before any batch runs.
    """
    return AttentionStream(
        adapter, proteins, max_tokens=max_tokens, long_sequences=long_sequences, progress=progress
    )
