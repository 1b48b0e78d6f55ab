"""Model adapters: the only code that turns a model name into (model, tokenizer)."""

from __future__ import annotations

import importlib

from plmscope.models.known import FAMILY_NAMES, KNOWN_MODELS, KnownModel

_LAZY = {  # loaded on first use: importing transformers takes seconds
    "AttentionAdapter": "plmscope.models.base",
    "EncodedBatch": "plmscope.models.base",
    "load_adapter": "plmscope.models.registry",
    "iter_attention": "plmscope.models.inference",
    "AttentionBatch": "plmscope.models.inference",
}

__all__ = ["FAMILY_NAMES", "KNOWN_MODELS", "KnownModel", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
