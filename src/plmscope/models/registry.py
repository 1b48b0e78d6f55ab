"""Turn a model name or directory into an :class:`AttentionAdapter` (the only place weights are loaded)."""

from __future__ import annotations

import importlib
import logging
import os
from typing import Iterator, Mapping

import torch

from plmscope.errors import PlmscopeError
from plmscope.models.base import AttentionAdapter
from plmscope.models.known import KNOWN_MODELS, DType, Family, KnownModel  # noqa: F401 (re-exported)
from plmscope.models.resolve import (  # noqa: F401 (antiberty_paths re-exported)
    ResolvedModel,
    antiberty_paths,
    model_hint,
    model_type,
    quiet_transformers,
    resolve_model,
    short_error,
)
from plmscope.options import MAX_RESIDUES

log = logging.getLogger(__name__)

Device = str  # "auto", "cpu", "cuda", "cuda:1", ...


class _Families(Mapping[str, type[AttentionAdapter]]):
    """Config ``model_type`` -> adapter class, each family's module imported on first lookup.

    Importing a transformers model family (its modeling and tokenizer modules) costs up to seconds;
    a run needs one family, so only that one is imported.
    """

    def __init__(self, classes: dict[str, str]):
        self._classes = classes  # family -> "module:Class"

    def __getitem__(self, family: str) -> type[AttentionAdapter]:
        module, _, name = self._classes[family].partition(":")
        return getattr(importlib.import_module(module), name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._classes)

    def __len__(self) -> int:
        return len(self._classes)


FAMILIES: Mapping[str, type[AttentionAdapter]] = _Families({
    "bert": "plmscope.models.bert:BertAdapter",
    "esm": "plmscope.models.esm:EsmAdapter",
    "albert": "plmscope.models.albert:AlbertAdapter",
    "xlnet": "plmscope.models.xlnet:XLNetAdapter",
})  # fmt: skip
"""Config ``model_type`` -> adapter class (imported lazily, one family per lookup)."""

def resolve_device(device: Device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else must be a usable torch device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise PlmscopeError(f"device {device!r} is not a torch device (use 'auto', 'cpu' or 'cuda')") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise PlmscopeError(f"device {device!r} requested but CUDA is not available on this machine")
    return dev


def resolve_dtype(dtype: DType, device: torch.device) -> torch.dtype:
    """``"auto"`` -> float16 on CUDA, float32 elsewhere."""
    if dtype == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    table = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    if dtype not in table:
        raise PlmscopeError(f"dtype {dtype!r} is not one of auto, {', '.join(table)}")
    return table[dtype]


def _build(
    name: str,
    source: str,
    *,
    tokenizer_source: str | None,
    local_only: bool,
    max_residues: int,
    device: torch.device,
    dtype: torch.dtype,
) -> AttentionAdapter:
    cls = FAMILIES[model_type(name, source, local_only=local_only, families=FAMILIES)]
    with quiet_transformers():
        tokenizer = cls.tokenizer_class.from_pretrained(
            tokenizer_source or source, local_files_only=local_only, **cls.tokenizer_kwargs
        )
        model, info = cls.model_class.from_pretrained(
            source,
            attn_implementation="eager",
            dtype=dtype,
            output_loading_info=True,
            local_files_only=local_only,
            **cls.model_kwargs,
        )
    missing = sorted(k for k in info.get("missing_keys", ()) if not k.startswith(cls.ignore_missing))
    if missing:
        raise PlmscopeError(
            f"model {name!r}: checkpoint lacks {len(missing)} weights of the {cls.family} encoder "
            f"(e.g. {missing[0]!r}); it would run with random weights"
        )
    unexpected = info.get("unexpected_keys", ())
    if unexpected:
        log.debug("model %r: %d checkpoint weights not used for attention (task heads)", name, len(unexpected))
    if model.config._attn_implementation != "eager":
        raise PlmscopeError(f"model {name!r} did not load with eager attention; attention weights would be empty")
    model.to(device)
    return cls(name=name, model=model, tokenizer=tokenizer, max_residues=max_residues, device=device, dtype=dtype)


def load_adapter(
    name_or_path: str | os.PathLike,
    *,
    max_residues: int = MAX_RESIDUES,
    device: Device = "auto",
    dtype: DType = "auto",
) -> AttentionAdapter:
    """Load a protein language model for residue-level attention.

    Args:
        name_or_path: ``"antiberty"`` (built in, offline), a local directory holding a
            transformers checkpoint (``config.json`` + weights + tokenizer files), or a Hugging Face
            hub name such as ``"Rostlab/prot_bert"`` or ``"facebook/esm2_t6_8M_UR50D"``. A local
            directory wins over a hub name with the same spelling. Hub models are read from the
            local cache when present and downloaded otherwise. ``"tape_bert"`` is TAPE's
            ``bert-base`` from the download cache (``plmscope download``); a directory holding a
            TAPE checkpoint or its conversion (:mod:`plmscope.models.tape`) also loads.
        max_residues: longest sequence to accept; must fit the model's position embeddings.
        device: ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
        dtype: ``"auto"`` (float16 on CUDA, float32 on CPU), ``"float32"``, ``"float16"``, ``"bfloat16"``.

    Returns:
        The adapter for the model's family (:data:`FAMILIES`), model in eval mode on ``device``.

    Raises:
        PlmscopeError: the model cannot be found or downloaded, its family is unsupported, its
            checkpoint lacks encoder weights, or ``max_residues``/``device``/``dtype`` are invalid.
    """
    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev)
    common = dict(max_residues=max_residues, device=dev, dtype=dt)
    resolved = resolve_model(name_or_path)
    if resolved.kind != "transformers":  # TAPE download or its conversion (models/tape.py)
        from plmscope.models.tape import load_tape_adapter, load_tape_by_name

        if resolved.kind == "tape_name":
            return load_tape_by_name(resolved.name, **common)
        return load_tape_adapter(resolved.name, resolved.source, **common)
    try:
        return _load_or_explain(resolved, **common)
    except PlmscopeError:
        if not resolved.hub_fallback:
            raise
        log.info("model %r: local cache incomplete, trying the hub", resolved.name)
    return _load_or_explain(resolved.online(), **common)


def _load_or_explain(resolved: ResolvedModel, **kwargs) -> AttentionAdapter:
    name = resolved.name
    try:
        return _build(name, resolved.source, tokenizer_source=resolved.tokenizer_source,
                      local_only=resolved.local_only, **kwargs)  # fmt: skip
    except PlmscopeError:
        raise
    except Exception as exc:  # noqa: BLE001 - transformers/tokenizers raise many types, some bare Exception
        raise PlmscopeError(f"model {name!r} could not be loaded: {short_error(exc)}{model_hint(name)}") from exc
