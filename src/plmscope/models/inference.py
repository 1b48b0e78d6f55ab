"""Batched attention inference: length-sorted batches (of proteins or windows) under a padded-token budget."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np
import torch

from plmscope.attention.windows import (  # noqa: F401 (LongSequences re-exported)
    LONG_SEQUENCE_POLICIES,
    LongSequences,
    check_stride,
    owned_sum_bounds,
    window_starts,
)
from plmscope.errors import PlmscopeError
from plmscope.models.base import STANDARD_AMINO_ACIDS, AttentionAdapter
from plmscope.progress import Progress

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class AnalysedProtein:
    """One protein whose last segment has been run (what the dataset's ``proteins.parquet`` holds).

    Attributes:
        id: protein id.
        n_residues: residues analysed (the prefix kept, or the whole protein with windows).
        n_original: residues in the input sequence.
        n_nonstandard: analysed residues outside the 20 canonical amino acids.
        n_unknown: analysed residues the model sees as its unknown token.
        n_windows: windows the protein was cut into (1 when it fits the model).
    """

    id: str
    n_residues: int
    n_original: int
    n_nonstandard: int
    n_unknown: int
    n_windows: int = 1

    @property
    def truncated(self) -> bool:
        """True when only the first ``n_residues`` residues were analysed."""
        return self.n_residues < self.n_original


@dataclass
class AttentionBatch:
    """Residue attention for one batch of proteins or protein windows ("items").

    Attributes:
        ids: protein id of each item, length B (the windows of one protein share its id).
        lengths: ``(B,)`` residues per item.
        layers: per-layer ``(B, H, Lr, Lr)`` residue attention (zero beyond each length).
        n_original: ``(B,)`` residues in the item's input sequence (before truncation/windowing).
        n_nonstandard: ``(B,)`` item residues outside the 20 canonical amino acids.
        n_unknown: ``(B,)`` item residues the model saw as its unknown token.
        offsets: ``(B,)`` position of the item's first residue in its protein (0 unless a window).
        pair_sums: ``(B, 2)`` local ``i + j`` bounds of the pairs each item owns
            (:func:`plmscope.attention.windows.owned_sum_bounds`), or None when no item is a window.
        n_windows: ``(B,)`` windows of the item's protein (1 unless windowed).
        index: position of this batch in the stream's plan.
        finished: proteins whose last item is in this batch, in batch order.
    """

    ids: list[str]
    lengths: np.ndarray
    layers: tuple[torch.Tensor, ...]
    n_original: np.ndarray
    n_nonstandard: np.ndarray
    n_unknown: np.ndarray
    offsets: np.ndarray | None = None
    pair_sums: np.ndarray | None = None
    n_windows: np.ndarray | None = None
    index: int = 0
    finished: list[AnalysedProtein] = field(default_factory=list)

    @property
    def truncated(self) -> np.ndarray:
        """``(B,)`` bool, True where the protein was cut to ``max_residues`` (never for windows)."""
        cut = self.lengths < self.n_original
        return cut if self.n_windows is None else cut & (self.n_windows == 1)


@dataclass
class InferenceStats:
    """What happened to the input proteins (truncation, skipping and windowing are known before any batch runs).

    The non-standard residue counts grow as proteins finish.
    """

    n_input: int = 0
    n_analysed: int = 0
    truncated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    windowed: list[str] = field(default_factory=list)
    n_windows: int = 0
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

    @property
    def n_windowed(self) -> int:
        """Proteins longer than ``max_residues`` analysed in overlapping windows."""
        return len(self.windowed)


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
    """Iterable of :class:`AttentionBatch` with the truncation/skip/window counts in :attr:`stats`.

    Built by :func:`iter_attention`; the plan (which proteins or windows go in which batch) is
    fixed at construction, the model runs lazily while iterating. Items are proteins, or the
    windows of proteins longer than ``max_residues`` with ``long_sequences="window"``.

    Attributes:
        ids: protein id of every item (windows of one protein are consecutive).
        sequences: residues of every item.
        n_original: ``(items,)`` residues of each item's input sequence.
        offsets: ``(items,)`` position of each item's first residue in its protein.
        pair_sums: ``(items, 2)`` local ``i + j`` bounds of the pairs each item owns.
        n_windows: ``(items,)`` windows of each item's protein.
        window_stride: residues between window starts (None unless ``long_sequences="window"``).
        batches: the plan, lists of item indices (:func:`plan_batches`).
        stats: :class:`InferenceStats`.
    """

    def __init__(
        self,
        adapter: AttentionAdapter,
        proteins: Sequence[tuple[str, str]],
        *,
        max_tokens: int,
        long_sequences: LongSequences,
        window_stride: int | None,
        progress: bool,
    ):
        if long_sequences not in LONG_SEQUENCE_POLICIES:
            raise PlmscopeError(
                f"long_sequences must be one of {', '.join(LONG_SEQUENCE_POLICIES)}, got {long_sequences!r}"
            )
        self.adapter = adapter
        self.progress = progress
        limit = adapter.max_residues
        self.window_stride = check_stride(window_stride, width=limit) if long_sequences == "window" else None
        self.stats = InferenceStats(n_input=len(proteins))
        seen: set[str] = set()
        ids, seqs, original, offsets, sums, windows, owner = [], [], [], [], [], [], []
        self._proteins: list[tuple[str, int, int, int]] = []  # id, n_residues, n_original, n_windows
        self._whole: dict[int, str] = {}  # windowed protein -> its sequence (counts at the end)
        self._unknown: dict[str, bool] = {}  # letter -> the model reads it as its unknown token
        wide = np.array([-1, 2**31], dtype=np.int64)
        for pid, seq in proteins:
            pid = str(pid)
            if pid in seen:
                raise PlmscopeError(f"duplicate protein id {pid!r} in the attention input")
            seen.add(pid)
            p = len(self._proteins)
            if len(seq) > limit:
                if long_sequences == "error":
                    raise PlmscopeError(
                        f"protein {pid!r} has {len(seq)} residues, over the limit of {limit} for model "
                        f"{adapter.name!r} (set long_sequences to truncate, window or skip)"
                    )
                if long_sequences == "skip":
                    self.stats.skipped.append(pid)
                    continue
                if long_sequences == "window":
                    self._check_letters(pid, seq)
                    starts = window_starts(len(seq), width=limit, stride=self.window_stride)
                    bounds = owned_sum_bounds(starts, width=limit)
                    for s, bound in zip(starts.tolist(), bounds):
                        ids.append(pid)
                        seqs.append(seq[s : s + limit])
                        original.append(len(seq))
                        offsets.append(s)
                        sums.append(bound)
                        windows.append(len(starts))
                        owner.append(p)
                    self.stats.windowed.append(pid)
                    self.stats.n_windows += len(starts)
                    self._whole[p] = seq
                    self._proteins.append((pid, len(seq), len(seq), len(starts)))
                    continue
                self.stats.truncated.append(pid)
            ids.append(pid)
            seqs.append(seq[:limit])
            original.append(len(seq))
            offsets.append(0)
            sums.append(wide)
            windows.append(1)
            owner.append(p)
            self._proteins.append((pid, min(len(seq), limit), len(seq), 1))
        self.ids, self.sequences = ids, seqs
        self.n_original = np.array(original, dtype=np.int64)
        self.offsets = np.array(offsets, dtype=np.int64)
        self.pair_sums = np.array(sums, dtype=np.int64).reshape(-1, 2)
        self.n_windows = np.array(windows, dtype=np.int64)
        self._owner = np.array(owner, dtype=np.int64)
        self._first_item = np.unique(self._owner, return_index=True)[1]  # owners are consecutive
        self.stats.n_analysed = len(self._proteins)
        self.batches = plan_batches([len(s) for s in seqs], max_tokens=max_tokens, n_special=adapter.n_special)
        self.stats.n_batches = len(self.batches)
        # the batch holding each protein's last item; proteins finish there, in batch order
        last = np.zeros(len(self._proteins), dtype=np.int64)
        for b, index in enumerate(self.batches):
            last[self._owner[index]] = b
        self._finishing: list[list[int]] = [[] for _ in self.batches]
        for b, index in enumerate(self.batches):
            for p in dict.fromkeys(self._owner[index].tolist()):
                if last[p] == b:
                    self._finishing[b].append(p)

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[AttentionBatch]:
        return self.iter_batches()

    def finished_before(self, start: int) -> list[str]:
        """Ids of the proteins completed by the batches before plan position ``start``."""
        return [self._proteins[p][0] for b in range(min(start, len(self.batches))) for p in self._finishing[b]]

    def iter_batches(self, start: int = 0) -> Iterator[AttentionBatch]:
        """Run the model on the batches of the plan from position ``start`` on (to resume a run)."""
        if not 0 <= start <= len(self.batches):
            raise PlmscopeError(f"batch {start} is outside the plan of {len(self.batches)} batches")
        done = sum(len(self._finishing[b]) for b in range(start))
        bar = Progress(len(self._proteins), "proteins", initial=done, enabled=self.progress, batches=len(self.batches),
                       batches_done=start)  # fmt: skip
        windowed = bool(self._whole)
        with bar:
            for b in range(start, len(self.batches)):
                index = self.batches[b]
                ids = [self.ids[k] for k in index]
                encoded = self.adapter.encode([self.sequences[k] for k in index], ids=ids)
                with torch.inference_mode():
                    layers = self.adapter.attentions(encoded)
                position = {int(k): n for n, k in enumerate(index)}
                finished = []
                for p in self._finishing[b]:
                    pid, n_res, n_orig, n_win = self._proteins[p]
                    if n_win > 1:
                        n_nonstandard, n_unknown = self._count_nonstandard(self._whole[p])
                    else:
                        item = position[int(self._first_item[p])]
                        n_nonstandard = int(encoded.n_nonstandard[item])
                        n_unknown = int(encoded.n_unknown[item])
                    finished.append(AnalysedProtein(pid, n_res, n_orig, n_nonstandard, n_unknown, n_win))
                    self.stats.n_nonstandard += n_nonstandard
                    self.stats.n_unknown += n_unknown
                batch = AttentionBatch(
                    ids=ids,
                    lengths=encoded.lengths.numpy().astype(np.int64),
                    layers=layers,
                    n_original=self.n_original[index],
                    n_nonstandard=encoded.n_nonstandard,
                    n_unknown=encoded.n_unknown,
                    offsets=self.offsets[index] if windowed else None,
                    pair_sums=self.pair_sums[index] if windowed else None,
                    n_windows=self.n_windows[index],
                    index=b,
                    finished=finished,
                )
                yield batch
                bar.update(len(finished), batches=1)
                del batch, layers, encoded  # before the next batch: never two batches of attention at once

    def _check_letters(self, pid: str, sequence: str) -> None:
        """Fail before any batch runs when a windowed protein holds a letter the model cannot read.

        (Windows are encoded separately, so the position an encoding error would name is relative
        to a window; here it is the position in the protein.)
        """
        for letter in sorted(set(sequence) - STANDARD_AMINO_ACIDS - self._unknown.keys()):
            try:
                self._unknown[letter] = bool(self.adapter.encode([letter]).n_unknown[0])
            except PlmscopeError:
                raise PlmscopeError(
                    f"model {self.adapter.name!r}: protein {pid!r} has residue {letter!r} at position "
                    f"{sequence.index(letter) + 1} that is not in the model's vocabulary"
                ) from None

    def _count_nonstandard(self, sequence: str) -> tuple[int, int]:
        """(non-standard, unknown-token) residues of a whole windowed protein, each counted once."""
        letters = set(sequence) - STANDARD_AMINO_ACIDS
        n_nonstandard = sum(sequence.count(c) for c in letters)
        n_unknown = sum(sequence.count(c) for c in letters if self._unknown[c])
        return n_nonstandard, n_unknown


def iter_attention(
    adapter: AttentionAdapter,
    proteins: Sequence[tuple[str, str]],
    *,
    max_tokens: int,
    long_sequences: LongSequences = "truncate",
    window_stride: int | None = None,
    progress: bool = True,
) -> AttentionStream:
    """Residue attention for many proteins, in length-sorted batches.

    Args:
        adapter: a loaded model (:func:`plmscope.models.registry.load_adapter`).
        proteins: ``(id, sequence)`` pairs; ids must be unique.
        max_tokens: padded-token budget per batch (see :func:`plan_batches`). Attention memory per
            batch is about ``max_tokens * T * heads * layers * 4`` bytes for T tokens per sequence.
        long_sequences: for sequences over ``adapter.max_residues``: ``"truncate"`` to the first
            ``max_residues`` residues (as in Vig et al.), ``"skip"`` them, ``"error"``, or
            ``"window"``: run overlapping windows of ``max_residues`` residues, each as its own
            batch item (see :mod:`plmscope.attention.windows` for the merge rule).
        window_stride: residues between window starts (default ``max_residues // 2``).
        progress: progress lines (:mod:`plmscope.progress`) every few seconds and at the end.

    Returns:
        An :class:`AttentionStream`; its ``stats`` hold the truncated, skipped and windowed ids
        (known at once) and the non-standard residue counts (growing as proteins finish).

    Raises:
        PlmscopeError: duplicate ids, a bad option, or (``long_sequences="error"``) a protein over
            the limit, named with its length, before any batch runs.
    """
    return AttentionStream(
        adapter, proteins, max_tokens=max_tokens, long_sequences=long_sequences, window_stride=window_stride,
        progress=progress,
    )
