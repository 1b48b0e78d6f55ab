"""ALBERT-family adapter (``Rostlab/prot_albert``): the BERT layout on an AlbertModel."""

from __future__ import annotations

from typing import ClassVar

from transformers import AlbertModel, AlbertTokenizer

from plmscope.models.bert import BertAdapter


class AlbertAdapter(BertAdapter):
    """ALBERT layout ``[CLS] r1 ... rL [SEP]``, space-separated residues, ``B Z U O -> X``."""

    family: ClassVar[str] = "albert"
    model_class: ClassVar[type] = AlbertModel
    tokenizer_class: ClassVar[type] = AlbertTokenizer
    tokenizer_kwargs: ClassVar[dict] = {"do_lower_case": False}
    model_kwargs: ClassVar[dict] = {"add_pooling_layer": False}
