"""The attention-adapter interface: encode protein sequences, return per-layer residue attention."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Sequence

import numpy as np
import torch

from plmscope.errors import PlmscopeError

STANDARD_AMINO_ACIDS = frozenset("ACDEFGHIKLMNPQRSTVWY")
"""The 20 canonical one-letter amino-acid codes."""

NONSTANDARD_CODES = frozenset("XBZUO")
"""Non-standard one-letter codes that may legitimately appear in a protein table."""

RARE_CODES = frozenset("BZUO")
"""Ambiguous or rare codes that ProtTrans models were trained to see as ``X``."""


@dataclass
class EncodedBatch:
    """A tokenised batch with the map from residues to token positions.

    Attributes:
        input_ids: ``(B, T)`` int64 token ids (padded).
        attention_mask: ``(B, T)`` int64, 1 for real tokens (specials included), 0 for padding.
        lengths: ``(B,)`` int64 number of residues in each sequence.
        residue_index: ``(B, Lr)`` int64 token position of residue ``k`` of sequence ``b``
            (``Lr = lengths.max()``); positions past a sequence's end repeat its first residue.
        residue_mask: ``(B, Lr)`` bool, True where ``k < lengths[b]``.
        n_nonstandard: ``(B,)`` residues per sequence outside the 20 canonical amino acids.
        n_unknown: ``(B,)`` residues per sequence encoded as the tokenizer's unknown token.
        ids: protein identifiers, used in error messages.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    lengths: torch.Tensor
    residue_index: torch.Tensor
    residue_mask: torch.Tensor
    n_nonstandard: np.ndarray
    n_unknown: np.ndarray
    ids: list[str]

    @property
    def size(self) -> int:
        """Number of sequences ``B``."""
        return int(self.input_ids.shape[0])

    @property
    def num_tokens(self) -> int:
        """Padded token count ``B * T`` (what the batching budget bounds)."""
        return int(self.input_ids.numel())

    @property
    def uniform_start(self) -> int | None:
        """Token position of residue 0 when it is the same for every sequence, else None."""
        starts = self.residue_index[:, 0]
        first = int(starts[0])
        return first if bool((starts == first).all()) else None


class AttentionAdapter(ABC):
    """One pretrained protein language model behind a residue-level attention interface.

    Subclasses describe one model family: how a sequence is written as tokenizer text and where
    the special tokens sit. Everything else (alignment checks, non-standard residues, stripping
    special tokens) is shared.

    Attributes:
        name: model name or path as given by the user.
        model: the transformers model (eval mode, eager attention).
        tokenizer: its tokenizer.
        family: model family (``"bert"``, ``"esm"``, ``"albert"``, ``"xlnet"``).
        num_layers: number of transformer layers.
        num_heads: attention heads per layer.
        max_residues: longest sequence (in residues) this adapter accepts.
        device: torch device the model runs on.
        dtype: torch dtype of the model weights.
        n_special: special tokens added to every sequence.
    """

    family: ClassVar[str]
    model_class: ClassVar[type]
    """transformers model class loaded by the registry (``from_pretrained``)."""
    tokenizer_class: ClassVar[type]
    """transformers tokenizer class loaded by the registry."""
    tokenizer_kwargs: ClassVar[dict] = {}
    model_kwargs: ClassVar[dict] = {}
    ignore_missing: ClassVar[tuple[str, ...]] = ("pooler.",)
    """Parameter-name prefixes a checkpoint may lack without the model being unusable."""
    forward_kwargs: ClassVar[dict] = {}
    """Extra keyword arguments for the model call."""

    def __init__(
        self,
        *,
        name: str,
        model: torch.nn.Module,
        tokenizer,
        max_residues: int,
        device: torch.device,
        dtype: torch.dtype,
    ):
        self.name = name
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.device = torch.device(device)
        self.dtype = dtype
        self.num_layers = int(model.config.num_hidden_layers)
        self.num_heads = int(model.config.num_attention_heads)
        self._leading, self._trailing = self.special_layout()
        self.n_special = len(self._leading) + len(self._trailing)
        limit = self.model_max_residues()
        if max_residues < 1:
            raise PlmscopeError(f"model {name!r}: max_residues must be at least 1, got {max_residues}")
        if limit is not None and max_residues > limit:
            raise PlmscopeError(
                f"model {name!r}: max_residues {max_residues} exceeds the model's limit of {limit} residues"
            )
        self.max_residues = int(max_residues)
        self._unk_id = tokenizer.unk_token_id
        in_vocab = {c for c in NONSTANDARD_CODES if self._is_single_token(c)}
        self._translation = str.maketrans(self.substitutions(frozenset(in_vocab)))
        self._allowed_unknown = frozenset(
            c for c in NONSTANDARD_CODES if c.translate(self._translation) not in in_vocab
        )
        # expected token id of every standard and non-standard letter (-1: not checked)
        self._letter_ids = torch.full((256,), -1, dtype=torch.long)
        for letter in STANDARD_AMINO_ACIDS | NONSTANDARD_CODES:
            token = self.tokenizer(self.text(letter.translate(self._translation)), add_special_tokens=False)
            if len(token["input_ids"]) == 1:
                self._letter_ids[ord(letter)] = token["input_ids"][0]

    # ---- family hooks -------------------------------------------------------------------
    @abstractmethod
    def text(self, sequence: str) -> str:
        """Write a residue string as the text this family's tokenizer expects."""

    @abstractmethod
    def special_layout(self) -> tuple[list[int], list[int]]:
        """Token ids the tokenizer puts before and after the residues of every sequence."""

    def substitutions(self, in_vocab: frozenset[str]) -> dict[str, str]:
        """Letters to rewrite before tokenising; ``in_vocab`` = non-standard codes with a token."""
        return {}

    def model_max_residues(self) -> int | None:
        """Longest sequence the model's absolute position embeddings allow (None when unbounded)."""
        cfg = self.model.config
        if getattr(cfg, "position_embedding_type", "absolute") != "absolute":
            return None
        positions = getattr(cfg, "max_position_embeddings", None)
        return None if positions is None else int(positions) - self.n_special

    # ---- shared machinery ----------------------------------------------------------------
    def _is_single_token(self, letter: str) -> bool:
        ids = self.tokenizer(self.text(letter), add_special_tokens=False)["input_ids"]
        return len(ids) == 1 and ids[0] != self.tokenizer.unk_token_id

    def encode(self, sequences: Sequence[str], *, ids: Sequence[str] | None = None) -> EncodedBatch:
        """Tokenise residue strings and map every residue to exactly one token.

        Args:
            sequences: one-letter amino-acid strings (upper case).
            ids: protein identifiers for error messages (default ``#0, #1, ...``).

        Returns:
            An :class:`EncodedBatch` on the CPU.

        Raises:
            PlmscopeError: a sequence is empty or longer than ``max_residues``, the tokenizer did not
                produce exactly one token per residue, special tokens are not where this family
                puts them, or a residue other than a known non-standard code became the unknown token.
        """
        sequences = list(sequences)
        ids = [f"#{k}" for k in range(len(sequences))] if ids is None else [str(i) for i in ids]
        if not sequences:
            raise PlmscopeError(f"model {self.name!r}: cannot encode an empty batch")
        if len(ids) != len(sequences):
            raise PlmscopeError(f"model {self.name!r}: {len(ids)} ids given for {len(sequences)} sequences")
        for pid, seq in zip(ids, sequences):
            if not seq:
                raise PlmscopeError(f"model {self.name!r}: protein {pid!r} has an empty sequence")
            if len(seq) > self.max_residues:
                raise PlmscopeError(
                    f"model {self.name!r}: protein {pid!r} has {len(seq)} residues, "
                    f"over the limit of {self.max_residues}"
                )
        texts = [self.text(seq.translate(self._translation)) for seq in sequences]
        enc = self.tokenizer(
            texts,
            padding=True,
            add_special_tokens=True,
            return_attention_mask=True,
            return_token_type_ids=False,
            return_tensors="pt",
        )
        input_ids = enc["input_ids"].long()
        attention_mask = enc["attention_mask"].long()
        lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
        n_tokens = attention_mask.sum(dim=1)
        bad = torch.nonzero(n_tokens != lengths + self.n_special).flatten()
        if len(bad):
            b = int(bad[0])
            got = int(n_tokens[b]) - self.n_special
            raise PlmscopeError(
                f"model {self.name!r}: protein {ids[b]!r} has {int(lengths[b])} residues but was tokenised into "
                f"{got} residue tokens; residues must map one-to-one to tokens"
            )
        first_real = attention_mask.argmax(dim=1)
        start = first_real + len(self._leading)
        self._check_specials(input_ids, first_real, lengths, ids)
        lr = int(lengths.max())
        offsets = torch.arange(lr)
        residue_mask = offsets[None, :] < lengths[:, None]
        residue_index = torch.where(residue_mask, start[:, None] + offsets[None, :], start[:, None])
        residue_tokens = input_ids.gather(1, residue_index)
        if self._unk_id is None:
            unknown = torch.zeros_like(residue_mask)
        else:
            unknown = (residue_tokens == self._unk_id) & residue_mask
        for b in torch.nonzero(unknown.any(dim=1)).flatten().tolist():
            seq = sequences[b]
            for k in torch.nonzero(unknown[b]).flatten().tolist():
                if seq[k] not in self._allowed_unknown:
                    raise PlmscopeError(
                        f"model {self.name!r}: protein {ids[b]!r} has residue {seq[k]!r} at position {k + 1} "
                        f"that is not in the model's vocabulary"
                    )
        self._check_residue_tokens(sequences, residue_tokens, residue_mask, ids)
        n_nonstandard = np.array(
            [len(s) - sum(s.count(a) for a in STANDARD_AMINO_ACIDS) for s in sequences], dtype=np.int64
        )
        return EncodedBatch(
            input_ids=input_ids,
            attention_mask=attention_mask,
            lengths=lengths,
            residue_index=residue_index,
            residue_mask=residue_mask,
            n_nonstandard=n_nonstandard,
            n_unknown=unknown.sum(dim=1).numpy().astype(np.int64),
            ids=ids,
        )

    def _check_residue_tokens(self, sequences, residue_tokens, residue_mask, ids) -> None:
        """Raise unless every residue's token is the one its letter encodes to on its own."""
        codes = torch.zeros(residue_tokens.shape, dtype=torch.long)
        for b, seq in enumerate(sequences):
            raw = seq.encode("latin-1", errors="replace")
            codes[b, : len(raw)] = torch.frombuffer(bytearray(raw), dtype=torch.uint8).long()
        expected = self._letter_ids[codes]
        wrong = residue_mask & (expected >= 0) & (residue_tokens != expected)
        if bool(wrong.any()):
            b, k = (int(v) for v in torch.nonzero(wrong)[0])
            found = self.tokenizer.convert_ids_to_tokens(int(residue_tokens[b, k]))
            raise PlmscopeError(
                f"model {self.name!r}: protein {ids[b]!r} residue {sequences[b][k]!r} at position {k + 1} was "
                f"encoded as token {found!r}; residues and tokens are out of step"
            )

    def _check_specials(self, input_ids: torch.Tensor, first_real: torch.Tensor, lengths, ids) -> None:
        """Raise unless the leading/trailing special tokens are where this family puts them."""
        rows = torch.arange(input_ids.shape[0])
        for k, tok in enumerate(self._leading):
            got = input_ids[rows, first_real + k]
            self._raise_if_not(got, tok, ids, "before")
        after = first_real + len(self._leading) + lengths
        for k, tok in enumerate(self._trailing):
            got = input_ids[rows, after + k]
            self._raise_if_not(got, tok, ids, "after")

    def _raise_if_not(self, got: torch.Tensor, token_id: int, ids, where: str) -> None:
        bad = torch.nonzero(got != token_id).flatten()
        if len(bad):
            b = int(bad[0])
            want = self.tokenizer.convert_ids_to_tokens(int(token_id))
            found = self.tokenizer.convert_ids_to_tokens(int(got[b]))
            raise PlmscopeError(
                f"model {self.name!r}: protein {ids[b]!r} has token {found!r} where the {self.family} layout "
                f"expects {want!r} {where} the residues"
            )

    def _call_model(self, batch: EncodedBatch, **outputs: bool):
        """Run the model on a batch on its device, asking for the given outputs (attentions, hidden states)."""
        return self.model(
            input_ids=batch.input_ids.to(self.device),
            attention_mask=batch.attention_mask.to(self.device),
            return_dict=True,
            **outputs,
            **self.forward_kwargs,
        )

    def forward(self, batch: EncodedBatch) -> tuple[torch.Tensor, ...]:
        """Run the model and return its raw attention, one ``(B, H, T, T)`` tensor per layer.

        Raises:
            PlmscopeError: the model returned no attention weights (not loaded with eager attention).
        """
        out = self._call_model(batch, output_attentions=True)
        attentions = out.attentions
        if not attentions or attentions[0] is None:
            raise PlmscopeError(
                f"model {self.name!r} returned no attention weights; load it with attn_implementation='eager'"
            )
        if len(attentions) != self.num_layers:
            raise PlmscopeError(
                f"model {self.name!r} returned attention for {len(attentions)} layers, expected {self.num_layers}"
            )
        return tuple(attentions)

    def strip(self, raw: Sequence[torch.Tensor], batch: EncodedBatch) -> tuple[torch.Tensor, ...]:
        """Keep residue-residue attention only.

        When every sequence starts at the same token position (right padding) the result is a
        view into ``raw``, and the entries past each sequence's length are zeroed in place, in
        ``raw`` too: pass tensors you own (as :meth:`forward` returns them).

        Args:
            raw: per-layer ``(B, H, T, T)`` attention over all tokens.
            batch: the batch that produced ``raw``.

        Returns:
            Per-layer ``(B, H, Lr, Lr)`` attention over residues, zero beyond each sequence's length.
        """
        lengths = batch.lengths.tolist()
        lr = max(lengths)
        start = batch.uniform_start
        if start is None:
            index = batch.residue_index.to(raw[0].device)
        out = []
        for layer in raw:
            if start is not None:
                a = layer[:, :, start : start + lr, start : start + lr]
            else:
                b, h, t, _ = layer.shape
                a = layer.gather(2, index[:, None, :, None].expand(b, h, lr, t))
                a = a.gather(3, index[:, None, None, :].expand(b, h, lr, lr))
            _zero_margins(a, lengths)
            out.append(a)
        return tuple(out)

    def attentions(self, batch: EncodedBatch) -> tuple[torch.Tensor, ...]:
        """Residue-level attention, one ``(B, H, Lr, Lr)`` tensor per layer (see :meth:`strip`)."""
        return self.strip(self.forward(batch), batch)

    def hidden_states(self, batch: EncodedBatch) -> tuple[torch.Tensor, ...]:
        """Residue embeddings of every layer, residue-aligned like :meth:`attentions`.

        Returns:
            ``num_layers + 1`` tensors of shape ``(B, Lr, D)``: the embedding output first, then
            the output of each transformer layer; special tokens are dropped and rows past each
            sequence's length are zero.

        Raises:
            PlmscopeError: the model returned a different number of hidden states.
        """
        out = self._call_model(batch, output_hidden_states=True)
        states = out.hidden_states
        if not states or len(states) != self.num_layers + 1:
            raise PlmscopeError(
                f"model {self.name!r} returned {len(states or ())} hidden states, expected {self.num_layers + 1}"
            )
        index = batch.residue_index.to(states[0].device)
        keep = batch.residue_mask.to(states[0].device)[:, :, None]
        result = []
        for h in states:
            gathered = h.gather(1, index[:, :, None].expand(-1, -1, h.shape[-1]))
            result.append(torch.where(keep, gathered, torch.zeros((), dtype=gathered.dtype, device=gathered.device)))
        return tuple(result)

    def describe(self) -> dict:
        """Model facts recorded with every output: name, family, layers, heads, max_residues."""
        return {
            "model": self.name,
            "family": self.family,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "max_residues": self.max_residues,
        }

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, layers={self.num_layers}, heads={self.num_heads}, "
            f"max_residues={self.max_residues}, device={str(self.device)!r})"
        )


def _zero_margins(a: torch.Tensor, lengths: list[int]) -> None:
    """Zero ``a[b, :, i, j]`` where ``i`` or ``j >= lengths[b]``, in place; ``a`` is ``(B, H, Lr, Lr)``.

    Only the padded margins are written. On the CPU this goes through a NumPy view: many small
    torch ops each open an OpenMP parallel region, which is slow when cores are oversubscribed.
    """
    lr = a.shape[-1]
    ragged = [(b, n) for b, n in enumerate(lengths) if n < lr]
    if not ragged:
        return
    x = a.numpy() if a.device.type == "cpu" and a.dtype != torch.bfloat16 else a
    for b, n in ragged:
        x[b, :, n:, :] = 0
        x[b, :, :n, n:] = 0
