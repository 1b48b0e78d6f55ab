"""ESM-family adapter (``facebook/esm2_*``, ESM-1b): ``<cls> r1 ... rL <eos>``."""

from __future__ import annotations

from typing import ClassVar

from transformers import EsmModel, EsmTokenizer

from plmscope.models.base import AttentionAdapter


class EsmAdapter(AttentionAdapter):
    """ESM layout ``<cls> r1 ... rL <eos>``; residues written without separators.

    ESM's alphabet has tokens for ``X B U Z O``, so non-standard residues are kept as they are
    (counted, never rewritten); any other letter is an error.
    """

    family: ClassVar[str] = "esm"
    model_class: ClassVar[type] = EsmModel
    tokenizer_class: ClassVar[type] = EsmTokenizer
    tokenizer_kwargs: ClassVar[dict] = {}
    model_kwargs: ClassVar[dict] = {"add_pooling_layer": False}
    ignore_missing: ClassVar[tuple[str, ...]] = ("pooler.", "contact_head.")

    def text(self, sequence: str) -> str:
        """The residue string itself (the ESM tokenizer splits it into single letters)."""
        return sequence

    def special_layout(self) -> tuple[list[int], list[int]]:
        """``<cls>`` before, ``<eos>`` after."""
        return [self.tokenizer.cls_token_id], [self.tokenizer.eos_token_id]

    def model_max_residues(self) -> int | None:
        """``max_position_embeddings`` minus the padding offset (2) and ``<cls>``/``<eos>``: 1022 for ESM-2."""
        positions = getattr(self.model.config, "max_position_embeddings", None)
        return None if positions is None else int(positions) - 2 - self.n_special
