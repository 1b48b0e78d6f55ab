"""Attention extraction: thresholding per batch and the Parquet attention dataset."""

from __future__ import annotations

import importlib

from plmscope.attention.dataset import (
    ATTENTION_SCHEMA,
    AttentionWriter,
    read_analysed,
    read_attention,
    read_counts,
    read_meta,
)

_LAZY = {"threshold_batch": "plmscope.attention.threshold"}  # imports torch

__all__ = [
    "ATTENTION_SCHEMA", "AttentionWriter", "read_analysed", "read_attention", "read_counts", "read_meta", *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
