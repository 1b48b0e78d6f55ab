"""Turn a model name or directory into an :class:`AttentionAdapter` (the only place weights are loaded)."""

from __future__ import annotations

import contextlib
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import torch

from plmscope.errors import PlmscopeError
from plmscope.models.albert import AlbertAdapter
from plmscope.models.base import AttentionAdapter
from plmscope.models.bert import BertAdapter
from plmscope.models.esm import EsmAdapter
from plmscope.models.known import KNOWN_MODELS, DType, Family, KnownModel  # noqa: F401 (re-exported)
from plmscope.models.tape import TAPE_NAMES, load_tape_adapter, load_tape_by_name, tape_checkpoint_kind
from plmscope.models.xlnet import XLNetAdapter

log = logging.getLogger(__name__)

Device = str  # "auto", "cpu", "cuda", "cuda:1", ...

FAMILIES: dict[str, type[AttentionAdapter]] = {
    "bert": BertAdapter,
    "esm": EsmAdapter,
    "albert": AlbertAdapter,
    "xlnet": XLNetAdapter,
}
"""Config ``model_type`` -> adapter class."""

HUB_PROBE_TIMEOUT = 3.0
"""Seconds to wait for the Hugging Face hub before declaring it unreachable."""


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


def antiberty_paths() -> tuple[Path, Path]:
    """(weights directory, tokenizer directory) of AntiBERTy inside the installed ``antiberty`` package."""
    try:
        import antiberty
    except ImportError:
        raise PlmscopeError(
            "model 'antiberty' needs the antiberty package: pip install 'plmscope[demo]'"
        ) from None
    root = Path(antiberty.__file__).resolve().parent / "trained_models"
    weights = root / "AntiBERTy_md_smooth"
    if not (weights / "config.json").is_file() or not (root / "vocab.txt").is_file():
        raise PlmscopeError(f"model 'antiberty': weights or vocab.txt missing under {root}")
    return weights, root


def _offline() -> bool:
    flags = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return any(f.strip().upper() in {"1", "ON", "YES", "TRUE"} for f in flags)


def _hub_unreachable() -> str | None:
    """None when the hub answers within :data:`HUB_PROBE_TIMEOUT` s, else the reason (one short phrase)."""
    from huggingface_hub import constants

    try:
        request = urllib.request.Request(constants.ENDPOINT, method="HEAD")
        with urllib.request.urlopen(request, timeout=HUB_PROBE_TIMEOUT):
            return None
    except urllib.error.HTTPError:
        return None  # the server answered
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"{constants.ENDPOINT}: {reason}"


def _in_cache(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError

    try:
        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except HFValidationError:
        raise PlmscopeError(
            f"model {repo_id!r} is neither a local directory nor a valid Hugging Face hub name"
        ) from None


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 240 else text[:237] + "..."


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Keep transformers' load report (harmless UNEXPECTED head weights) and progress bars quiet."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def _model_type(name: str, source: str, *, local_only: bool) -> str:
    from transformers import PretrainedConfig

    with _quiet_transformers():
        config, _ = PretrainedConfig.get_config_dict(source, local_files_only=local_only)
    model_type = config.get("model_type")
    if model_type not in FAMILIES:
        raise PlmscopeError(
            f"model {name!r} has model_type {model_type!r}; supported families: {', '.join(sorted(FAMILIES))}"
        )
    return model_type


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
    cls = FAMILIES[_model_type(name, source, local_only=local_only)]
    with _quiet_transformers():
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
    max_residues: int = 510,
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
    name = str(name_or_path)
    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev)
    common = dict(max_residues=max_residues, device=dev, dtype=dt)
    path = Path(name).expanduser()
    if path.exists():
        if tape_checkpoint_kind(path) is not None:  # TAPE download or its conversion (models/tape.py)
            return load_tape_adapter(name, path, **common)
        if not (path / "config.json").is_file():
            raise PlmscopeError(f"model {name!r}: directory has no config.json (not a transformers checkpoint)")
        return _load_or_explain(name, str(path), tokenizer_source=None, local_only=True, **common)
    if name.lower() in TAPE_NAMES:
        return load_tape_by_name(name, **common)
    if name.lower() == "antiberty":
        weights, vocab_dir = antiberty_paths()
        return _load_or_explain(name, str(weights), tokenizer_source=str(vocab_dir), local_only=True, **common)
    if _in_cache(name):
        try:
            return _load_or_explain(name, name, tokenizer_source=None, local_only=True, **common)
        except PlmscopeError:
            if _offline():
                raise
            log.info("model %r: local cache incomplete, trying the hub", name)
    if _offline():
        raise PlmscopeError(
            f"model {name!r} could not be loaded: not in the local Hugging Face cache and HF_HUB_OFFLINE is set"
        )
    reason = _hub_unreachable()
    if reason is not None:
        raise PlmscopeError(
            f"model {name!r} could not be loaded: not in the local Hugging Face cache and the hub cannot be "
            f"reached ({reason})"
        )
    return _load_or_explain(name, name, tokenizer_source=None, local_only=False, **common)


def _load_or_explain(name: str, source: str, **kwargs) -> AttentionAdapter:
    try:
        return _build(name, source, **kwargs)
    except PlmscopeError:
        raise
    except Exception as exc:  # noqa: BLE001 - transformers/tokenizers raise many types, some bare Exception
        raise PlmscopeError(f"model {name!r} could not be loaded: {_short(exc)}") from exc
