"""XLNet-family adapter (``Rostlab/prot_xlnet``): residues first, ``<sep> <cls>`` at the end."""

from __future__ import annotations

from typing import ClassVar

from transformers import XLNetModel, XLNetTokenizer

from plmscope.models.bert import BertAdapter


class XLNetAdapter(BertAdapter):
    """XLNet layout ``r1 ... rL <sep> <cls>``, space-separated residues, ``B Z U O -> X``.

    The XLNet tokenizer pads on the left; residue positions are found per sequence, so either
    padding side works. XLNet uses relative positions: no length limit from the config.
    """

    family: ClassVar[str] = "xlnet"
    model_class: ClassVar[type] = XLNetModel
    tokenizer_class: ClassVar[type] = XLNetTokenizer
    tokenizer_kwargs: ClassVar[dict] = {"do_lower_case": False}
    model_kwargs: ClassVar[dict] = {}
    ignore_missing: ClassVar[tuple[str, ...]] = ("mask_emb",)
    forward_kwargs: ClassVar[dict] = {"use_mems": False}

    def special_layout(self) -> tuple[list[int], list[int]]:
        """Nothing before, ``<sep> <cls>`` after."""
        return [], [self.tokenizer.sep_token_id, self.tokenizer.cls_token_id]

    def model_max_residues(self) -> int | None:
        """Unbounded: XLNet uses relative positional encodings."""
        return None
