"""Supported pretrained models and their shapes (no heavy imports: usable for docs and config enums)."""

from __future__ import annotations

from dataclasses import dataclass
from plmscope.options import FAMILIES as FAMILY_NAMES
from plmscope.options import DType, Family

__all__ = ["DType", "FAMILY_NAMES", "Family", "KNOWN_MODELS", "KnownModel"]


@dataclass(frozen=True)
class KnownModel:
    """Facts about a supported pretrained model (for docs and config enums)."""

    family: Family
    num_layers: int
    num_heads: int
    description: str


KNOWN_MODELS: dict[str, KnownModel] = {
    "antiberty": KnownModel("bert", 8, 8, "AntiBERTy antibody BERT (ships with the antiberty package; offline)"),
    "tape_bert": KnownModel(
        "bert", 12, 12, "TAPE BERT-base (bert-base), Pfam; TAPE download or its conversion (models/tape.py)"
    ),
    "Rostlab/prot_bert": KnownModel("bert", 30, 16, "ProtBert, UniRef100"),
    "Rostlab/prot_bert_bfd": KnownModel("bert", 30, 16, "ProtBert-BFD"),
    "Rostlab/prot_albert": KnownModel("albert", 12, 64, "ProtAlbert, UniRef100"),
    "Rostlab/prot_xlnet": KnownModel("xlnet", 30, 16, "ProtXLNet, UniRef100"),
    "facebook/esm2_t6_8M_UR50D": KnownModel("esm", 6, 20, "ESM-2 8M"),
    "facebook/esm2_t12_35M_UR50D": KnownModel("esm", 12, 20, "ESM-2 35M"),
    "facebook/esm2_t30_150M_UR50D": KnownModel("esm", 30, 20, "ESM-2 150M"),
    "facebook/esm2_t33_650M_UR50D": KnownModel("esm", 33, 20, "ESM-2 650M"),
    "facebook/esm2_t36_3B_UR50D": KnownModel("esm", 36, 40, "ESM-2 3B"),
    "facebook/esm2_t48_15B_UR50D": KnownModel("esm", 48, 40, "ESM-2 15B"),
}
"""Supported pretrained models: name -> family, layers, heads. Any other BERT/ESM/ALBERT/XLNet
directory or hub name also loads (resolved by its config's ``model_type``)."""
