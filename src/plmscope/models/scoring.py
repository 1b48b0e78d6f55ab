"""Masked-language-model scores of protein variants: pseudo-log-likelihoods and marginals, mutant minus wild type."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterator, Literal, Sequence

import numpy as np
import torch

from plmscope.errors import PlmscopeError
from plmscope.models.base import AttentionAdapter
from plmscope.options import SCORES, Score  # noqa: F401 (score names, the config schema's enum; re-exported)

log = logging.getLogger(__name__)

AttnImplementation = Literal["eager", "sdpa"]


ADDITIVE_SCORES: frozenset[str] = frozenset({"masked_marginal", "wt_marginal"})
"""Scores that are sums of per-site terms: no Fourier energy above order 1 (negative controls)."""

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
"""Column order of :meth:`MaskedLMScorer.site_log_probs`."""

_UNBOUNDED_RESIDUES = 1022
"""Default ``max_residues`` of models without absolute position embeddings (ESM-2's training length)."""


def _masked_lm_classes() -> dict[str, type]:
    from transformers import AlbertForMaskedLM, BertForMaskedLM, EsmForMaskedLM

    return {"bert": BertForMaskedLM, "esm": EsmForMaskedLM, "albert": AlbertForMaskedLM}


# --------------------------------------------------------------------------------------- loading
def load_masked_lm(
    name_or_path: str | os.PathLike,
    *,
    max_residues: int | None = None,
    device: str = "auto",
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto",
    attn_implementation: AttnImplementation = "eager",
) -> AttentionAdapter:
    """Load a protein masked language model behind its family's adapter (same tokenisation and residue map).

    The adapter's ``model`` is the ``*ForMaskedLM`` model (BERT, ESM or ALBERT family) in eval
    mode, so :meth:`AttentionAdapter.encode` aligns residues exactly as for attention.

    Args:
        name_or_path: ``"antiberty"`` (offline, from the antiberty package), a local checkpoint
            directory, or a Hugging Face hub name (local cache first, then the hub).
        max_residues: longest sequence accepted (None: the model's own limit, or 1022 residues
            for models without absolute position embeddings).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
        dtype: ``"auto"`` (float16 on CUDA, float32 on CPU) or an explicit dtype.
        attn_implementation: ``"eager"`` (as the attention adapters) or ``"sdpa"`` (PyTorch's fused
            attention: the same scores up to float rounding, faster; no attention weights).

    Returns:
        The adapter (:data:`plmscope.models.registry.FAMILIES`) wrapping the masked LM.

    Raises:
        PlmscopeError: the model cannot be found, is not a BERT/ESM/ALBERT masked LM, or its
            checkpoint lacks encoder or masked-LM head weights (scores would be random).
    """
    from plmscope.models.registry import resolve_device, resolve_dtype
    from plmscope.models.resolve import resolve_model, short_error

    name = str(name_or_path)
    if attn_implementation not in ("eager", "sdpa"):
        raise PlmscopeError(
            f"model {name!r}: attn_implementation must be 'eager' or 'sdpa', got {attn_implementation!r}"
        )
    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev)
    resolved = resolve_model(name)
    if resolved.kind != "transformers":
        raise PlmscopeError(f"model {name!r}: TAPE checkpoints have no supported masked-LM head for scoring")
    try:
        return _build_masked_lm(name, resolved.source, tokenizer_source=resolved.tokenizer_source,
                                local_only=resolved.local_only, max_residues=max_residues, device=dev, dtype=dt,
                                attn_implementation=attn_implementation)  # fmt: skip
    except PlmscopeError:
        raise
    except Exception as exc:  # noqa: BLE001 - transformers raises many types
        raise PlmscopeError(f"model {name!r} could not be loaded as a masked LM: {short_error(exc)}") from exc


def _build_masked_lm(
    name, source, *, tokenizer_source, local_only, max_residues, device, dtype, attn_implementation
) -> AttentionAdapter:
    from plmscope.models.registry import FAMILIES
    from plmscope.models.resolve import model_type, quiet_transformers

    family = model_type(name, source, local_only=local_only, families=FAMILIES)
    classes = _masked_lm_classes()
    if family not in classes:
        raise PlmscopeError(
            f"model {name!r} is a {family} model, not a masked language model (use bert, esm or albert)"
        )
    adapter_cls = FAMILIES[family]
    with quiet_transformers():
        tokenizer = adapter_cls.tokenizer_class.from_pretrained(
            tokenizer_source or source, local_files_only=local_only, **adapter_cls.tokenizer_kwargs
        )
        model, info = classes[family].from_pretrained(
            source,
            attn_implementation=attn_implementation,
            dtype=dtype,
            output_loading_info=True,
            local_files_only=local_only,
        )
    missing = sorted(k for k in info.get("missing_keys", ()) if "pooler." not in k and "contact_head." not in k)
    if missing:
        head = [k for k in missing if k.startswith(("cls.", "lm_head.", "predictions."))]
        what = "masked-LM head" if head else f"{family} encoder"
        raise PlmscopeError(
            f"model {name!r}: checkpoint lacks {len(missing)} weights of the {what} (e.g. {missing[0]!r}); "
            "scores would come from random weights"
        )
    if info.get("unexpected_keys"):
        log.debug("model %r: %d checkpoint weights not used by the masked LM", name, len(info["unexpected_keys"]))
    if tokenizer.mask_token_id is None:
        raise PlmscopeError(f"model {name!r}: the tokenizer has no mask token")
    model.to(device)
    adapter = adapter_cls(name=name, model=model, tokenizer=tokenizer, max_residues=max_residues or 1, device=device,
                          dtype=dtype)  # fmt: skip
    if max_residues is None:
        adapter.max_residues = adapter.model_max_residues() or _UNBOUNDED_RESIDUES
    return adapter


def save_tiny_masked_lm(
    family: Literal["bert", "esm", "albert"], out_dir: str | Path, *, seed: int = 0, **options
) -> Path:
    """Write a tiny randomly initialised masked LM (tokenizer from :func:`plmscope.models.tiny.save_tiny_model`).

    Args:
        family: ``"bert"``, ``"esm"`` or ``"albert"``.
        out_dir: directory to create; it loads with :func:`load_masked_lm`.
        seed: torch seed of the random weights.
        **options: size options of :func:`~plmscope.models.tiny.save_tiny_model` (layers, heads, hidden, ...).

    Returns:
        ``out_dir`` as a Path.
    """
    from transformers import AutoConfig

    from plmscope.models.tiny import save_tiny_model

    classes = _masked_lm_classes()
    if family not in classes:
        raise PlmscopeError(f"save_tiny_masked_lm: family must be one of {sorted(classes)}, got {family!r}")
    out = save_tiny_model(family, out_dir, seed=seed, **options)
    config = AutoConfig.from_pretrained(str(out))
    torch.manual_seed(seed)
    classes[family](config).save_pretrained(str(out))
    return out


# --------------------------------------------------------------------------------------- scoring
class MaskedLMScorer:
    """Batched log-probabilities of residues under a masked LM.

    Sequences are sorted by length and packed into batches of at most ``max_tokens`` padded
    tokens (and ``batch_size`` rows); results come back in input order and do not depend on the
    batch they were computed in (padding is masked out of attention). Log-softmax is taken in
    float32 whatever the model dtype.

    Args:
        adapter: from :func:`load_masked_lm` (its ``model`` returns ``logits``).
        max_tokens: most padded tokens per forward pass.
        batch_size: most sequences per forward pass (None: only ``max_tokens`` limits).
        progress: progress lines (:mod:`plmscope.progress`).

    Attributes:
        n_sequences: sequences passed through the model so far (a masked copy counts as one).
        n_batches: forward passes so far.
    """

    def __init__(
        self,
        adapter: AttentionAdapter,
        *,
        max_tokens: int = 8192,
        batch_size: int | None = None,
        progress: bool = False,
    ):
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise PlmscopeError(f"scoring: max_tokens must be a positive integer, got {max_tokens!r}")
        bad_batch = isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
        if batch_size is not None and bad_batch:
            raise PlmscopeError(f"scoring: batch_size must be a positive integer or None, got {batch_size!r}")
        self.adapter = adapter
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.progress = progress
        self.mask_id = adapter.tokenizer.mask_token_id
        if self.mask_id is None:
            raise PlmscopeError(f"model {adapter.name!r}: the tokenizer has no mask token")
        enc = adapter.encode([AMINO_ACIDS])
        self.amino_acid_ids = enc.input_ids[0, enc.residue_index[0]].clone()  # (20,) token of each letter
        self.n_sequences = 0
        self.n_batches = 0

    @property
    def name(self) -> str:
        """Model name."""
        return self.adapter.name

    def _rows_per_batch(self, tokens: int) -> int:
        rows = max(1, self.max_tokens // max(tokens, 1))
        return rows if self.batch_size is None else min(rows, self.batch_size)

    def _groups(self, lengths: Sequence[int]) -> Iterator[np.ndarray]:
        """Indices of sequences per batch: longest first, each batch within the token budget."""
        order = np.argsort(-np.asarray(lengths), kind="stable")
        start = 0
        while start < len(order):
            tokens = int(lengths[order[start]]) + self.adapter.n_special
            stop = start + self._rows_per_batch(tokens)
            yield order[start:stop]
            start = stop

    def _bar(self, total: int, desc: str):
        from plmscope.progress import Progress

        return Progress(total, "sequences", desc, enabled=self.progress)

    @torch.inference_mode()
    def _log_softmax(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """``(B, T, V)`` float32 log-probabilities of every token at every position."""
        device = self.adapter.device
        out = self.adapter.model(
            input_ids=input_ids.to(device), attention_mask=attention_mask.to(device), return_dict=True
        )
        self.n_sequences += int(input_ids.shape[0])
        self.n_batches += 1
        return torch.log_softmax(out.logits.float(), dim=-1)

    @torch.inference_mode()
    def residue_log_probs(self, sequences: Sequence[str]) -> list[np.ndarray]:
        """Unmasked ``log p(x_k | x)`` of every residue: one forward pass per sequence.

        The value of residue k is read at ``[position of residue k, token of residue k]`` of the
        log-softmax output (never at a position chosen by token id).

        Returns:
            One ``(L_b,)`` float64 array per sequence, in input order.
        """
        sequences = list(sequences)
        out: list[np.ndarray | None] = [None] * len(sequences)
        with self._bar(len(sequences), "unmasked PLL") as bar:
            for idx in self._groups([len(s) for s in sequences]):
                batch = self.adapter.encode([sequences[i] for i in idx])
                lp = self._log_softmax(batch.input_ids, batch.attention_mask)  # (B, T, V)
                pos = batch.residue_index.to(lp.device)  # (B, Lr)
                tok = batch.input_ids.to(lp.device).gather(1, pos)  # (B, Lr)
                rows = torch.arange(lp.shape[0], device=lp.device)[:, None]
                vals = lp[rows, pos, tok].double().cpu().numpy()  # (B, Lr): [sequence, position, token]
                for j, i in enumerate(idx):
                    out[i] = vals[j, : int(batch.lengths[j])]
                bar.update(len(idx))
        return out  # type: ignore[return-value]

    def pll_unmasked(self, sequences: Sequence[str]) -> np.ndarray:
        """``sum_k log p(x_k | x)`` from one unmasked pass per sequence; ``(m,)`` float64."""
        return np.array([v.sum() for v in self.residue_log_probs(sequences)], dtype=np.float64)

    @torch.inference_mode()
    def pll_masked(self, sequences: Sequence[str]) -> np.ndarray:
        """True pseudo-log-likelihood ``sum_k log p(x_k | x with k masked)``: L masked passes per sequence.

        The masked copies of several sequences share batches (within the token budget).

        Returns:
            ``(m,)`` float64.
        """
        sequences = list(sequences)
        out = np.zeros(len(sequences), dtype=np.float64)
        with self._bar(len(sequences), "masked PLL") as bar:
            for idx in self._groups([len(s) * len(s) for s in sequences]):  # chunk by total masked tokens
                chunk = [sequences[i] for i in idx]
                batch = self.adapter.encode(chunk)
                owner = torch.cat([torch.full((int(n),), b) for b, n in enumerate(batch.lengths)])
                residue = torch.cat([torch.arange(int(n)) for n in batch.lengths])
                pos = batch.residue_index[owner, residue]  # (J,) token position of each job
                tok = batch.input_ids[owner, pos]
                rows = self._rows_per_batch(batch.input_ids.shape[1])
                sums = torch.zeros(len(chunk), dtype=torch.float64)
                for lo in range(0, owner.shape[0], rows):
                    o, p, t = owner[lo : lo + rows], pos[lo : lo + rows], tok[lo : lo + rows]
                    ids = batch.input_ids[o].clone()
                    ids[torch.arange(len(o)), p] = self.mask_id
                    lp = self._log_softmax(ids, batch.attention_mask[o])
                    vals = lp[torch.arange(len(o), device=lp.device), p.to(lp.device), t.to(lp.device)]
                    sums.index_add_(0, o, vals.double().cpu())
                out[idx] = sums.numpy()
                bar.update(len(idx))
        return out

    @torch.inference_mode()
    def site_log_probs(self, sequence: str, sites: Sequence[int], *, masked: bool) -> np.ndarray:
        """``log p(a | context)`` of the 20 amino acids at each site, from ONE forward pass.

        Args:
            sequence: the context (e.g. the wild type).
            sites: 0-based positions.
            masked: mask every site of ``sites`` at once (else the unmasked sequence is used).

        Returns:
            ``(n, 20)`` float64, columns in :data:`AMINO_ACIDS` order.
        """
        batch = self.adapter.encode([sequence])
        pos = batch.residue_index[0, list(sites)]
        ids = batch.input_ids.clone()
        if masked:
            ids[0, pos] = self.mask_id
        lp = self._log_softmax(ids, batch.attention_mask)[0]  # (T, V)
        return lp[pos.to(lp.device)][:, self.amino_acid_ids.to(lp.device)].double().cpu().numpy()


class VariantScorer:
    """Score of variants of one wild type at fixed sites, reported as mutant minus wild type.

    Scores:
        ``pll_unmasked``: ``sum_k log p(x_k | x)`` from one unmasked pass per variant.
        ``pll_masked``: pseudo-log-likelihood, L masked passes per variant.
        ``masked_marginal``: ``sum_{i mutated} log p(mut_i) - log p(wt_i)`` with ALL the landscape's
            sites masked at once in the wild type (one pass per site set). Additive over sites;
            Meier et al.'s variant masking only the mutated sites would not be.
        ``wt_marginal``: the same sum from one unmasked pass of the wild type.

    The wild type is scored once (lazily, at the first call); a variant equal to the wild type
    scores exactly 0. The marginals only allow variants that differ from the wild type at ``sites``.

    Args:
        scorer: the batched masked-LM scorer.
        wild_type: the wild-type sequence.
        sites: 0-based positions that may be mutated.
        score: one of :data:`SCORES`.
    """

    def __init__(self, scorer: MaskedLMScorer, wild_type: str, sites: Sequence[int], score: Score):
        if score not in SCORES:
            raise PlmscopeError(f"scoring: unknown score {score!r}; choose one of {', '.join(SCORES)}")
        self.scorer, self.wild_type, self.sites, self.score = scorer, wild_type, tuple(int(s) for s in sites), score
        self._reference: float | np.ndarray | None = None

    def _sequence_scores(self, sequences: list[str]) -> np.ndarray:
        if self.score == "pll_unmasked":
            return self.scorer.pll_unmasked(sequences)
        return self.scorer.pll_masked(sequences)

    @property
    def reference(self) -> float | np.ndarray:
        """Wild-type PLL (PLL scores) or the ``(n, 20)`` site log-probability table (marginals)."""
        if self._reference is None:
            if self.score in ADDITIVE_SCORES:
                masked = self.score == "masked_marginal"
                self._reference = self.scorer.site_log_probs(self.wild_type, self.sites, masked=masked)
            else:
                self._reference = float(self._sequence_scores([self.wild_type])[0])
        return self._reference

    def __call__(self, sequences: Sequence[str]) -> np.ndarray:
        """``(m,)`` float64 scores, mutant minus wild type."""
        sequences = list(sequences)
        out = np.zeros(len(sequences), dtype=np.float64)
        todo = [i for i, s in enumerate(sequences) if s != self.wild_type]
        if not todo:
            return out
        if self.score in ADDITIVE_SCORES:
            out[todo] = self._marginal([sequences[i] for i in todo])
        else:
            out[todo] = self._sequence_scores([sequences[i] for i in todo]) - self.reference
        return out

    def _marginal(self, sequences: list[str]) -> np.ndarray:
        length = len(self.wild_type)
        wt = np.frombuffer(self.wild_type.encode("ascii"), dtype=np.uint8)
        rows = np.zeros((len(sequences), length), dtype=np.uint8)
        for j, s in enumerate(sequences):
            if len(s) != length:
                raise PlmscopeError(
                    f"scoring: {self.score} needs variants of the wild-type length {length}, got {len(s)}"
                )
            rows[j] = np.frombuffer(s.encode("ascii"), dtype=np.uint8)
        outside = np.ones(length, dtype=bool)
        outside[list(self.sites)] = False
        changed = np.flatnonzero((rows[:, outside] != wt[outside]).any(axis=1))
        if changed.size:
            raise PlmscopeError(
                f"scoring: {self.score} scores substitutions at the landscape sites only; variant "
                f"#{int(changed[0])} differs from the wild type elsewhere"
            )
        column = np.full(256, -1, dtype=np.int64)
        column[np.frombuffer(AMINO_ACIDS.encode(), dtype=np.uint8)] = np.arange(20)
        cols = column[rows[:, list(self.sites)]]  # (m, n)
        if (cols < 0).any():
            raise PlmscopeError(f"scoring: {self.score} needs standard amino acids at the landscape sites")
        table = self.reference  # (n, 20)
        wt_cols = column[wt[list(self.sites)]]
        n = len(self.sites)
        return (table[np.arange(n), cols] - table[np.arange(n), wt_cols]).sum(axis=1)
