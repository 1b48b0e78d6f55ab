"""BERT-family adapters: AntiBERTy, ProtBert, ProtBert-BFD and any BertModel directory."""

from __future__ import annotations

from typing import ClassVar

from transformers import BertModel, BertTokenizer

from plmscope.models.base import RARE_CODES, AttentionAdapter


class BertAdapter(AttentionAdapter):
    """BERT layout ``[CLS] r1 ... rL [SEP]``, one space-separated token per residue.

    Non-standard residues: when the vocabulary has ``X`` (ProtTrans models), ``B Z U O`` are
    rewritten to ``X`` as in ProtTrans pre-training; without ``X`` (AntiBERTy) the codes
    ``X B Z U O`` become ``[UNK]`` and are counted, every other unknown letter is an error.
    """

    family: ClassVar[str] = "bert"
    model_class: ClassVar[type] = BertModel
    tokenizer_class: ClassVar[type] = BertTokenizer
    tokenizer_kwargs: ClassVar[dict] = {"do_lower_case": False}
    model_kwargs: ClassVar[dict] = {"add_pooling_layer": False}

    def text(self, sequence: str) -> str:
        """Residues separated by single spaces (``"M K T"``)."""
        return " ".join(sequence)

    def special_layout(self) -> tuple[list[int], list[int]]:
        """``[CLS]`` before, ``[SEP]`` after."""
        return [self.tokenizer.cls_token_id], [self.tokenizer.sep_token_id]

    def substitutions(self, in_vocab: frozenset[str]) -> dict[str, str]:
        """``B Z U O -> X`` when the vocabulary has ``X`` (ProtTrans convention), else nothing."""
        return {c: "X" for c in RARE_CODES} if "X" in in_vocab else {}
