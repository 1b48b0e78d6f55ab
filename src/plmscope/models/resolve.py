"""Where a model name's weights and tokenizer come from: the one resolver behind every loader.

``resolve_model`` answers, without loading any weights, what both loaders need (source,
tokenizer source, local-only flag, TAPE or transformers): ``models.registry.load_adapter``
(attention) and ``models.scoring.load_masked_lm`` (variant scores) share it, so a name resolves
the same way for attention and for scoring.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal

from plmscope.errors import PlmscopeError

HUB_PROBE_TIMEOUT = 3.0
"""Seconds to wait for the Hugging Face hub before declaring it unreachable."""

TAPE_NAMES: tuple[str, ...] = ("tape_bert",)
"""Names of TAPE checkpoints read from the download cache (:mod:`plmscope.models.tape`)."""

Kind = Literal["transformers", "tape_dir", "tape_name"]


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model loads from.

    Attributes:
        name: the name as given (messages, ``describe()``).
        kind: ``"transformers"`` (a checkpoint directory or hub name), ``"tape_dir"`` (a TAPE
            checkpoint or its conversion) or ``"tape_name"`` (TAPE from the download cache).
        source: directory or hub name of the weights.
        tokenizer_source: directory of the tokenizer when it is not ``source`` (AntiBERTy).
        local_only: read files only from disk or the local Hugging Face cache.
        hub_fallback: a hub name found in the local cache: if that copy is incomplete, the hub may
            be tried (never when offline).
    """

    name: str
    kind: Kind
    source: str
    tokenizer_source: str | None = None
    local_only: bool = True
    hub_fallback: bool = False

    def online(self) -> "ResolvedModel":
        """The same model read from the hub (after an incomplete local cache)."""
        return ResolvedModel(self.name, self.kind, self.source, self.tokenizer_source, local_only=False)


TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "spiece.model", "vocab.json", "sentencepiece.bpe.model")
"""Files of which a local model directory needs one to tokenise (without one, transformers builds a
tokenizer with an empty vocabulary and every residue fails as 'not in the vocabulary')."""


def resolve_model(name_or_path: str | os.PathLike) -> ResolvedModel:
    """Resolve a model name: a local directory, ``antiberty``, ``tape_bert``, or a hub name (cache first).

    A local directory wins over a hub name with the same spelling.

    Raises:
        PlmscopeError: a directory that is not a checkpoint, an invalid hub name, or a hub name that
            is neither cached nor reachable (offline, or the hub does not answer).
    """
    name = str(name_or_path)
    if not name.strip():
        raise PlmscopeError("model name is empty")
    path = Path(name).expanduser()
    if path.exists():
        from plmscope.models.tape import tape_checkpoint_kind

        if not path.is_dir():
            raise PlmscopeError(f"model {name!r}: a file, not a model directory (config.json, weights, tokenizer)")
        if tape_checkpoint_kind(path) is not None:
            return ResolvedModel(name, "tape_dir", str(path))
        if not (path / "config.json").is_file():
            raise PlmscopeError(f"model {name!r}: directory has no config.json (not a transformers checkpoint)")
        if not any((path / f).is_file() for f in TOKENIZER_FILES):
            raise PlmscopeError(f"model {name!r}: directory has no tokenizer (none of {', '.join(TOKENIZER_FILES)})")
        return ResolvedModel(name, "transformers", str(path))
    if name.lower() in TAPE_NAMES:
        return ResolvedModel(name, "tape_name", name)
    if name.lower() == "antiberty":
        weights, vocab_dir = antiberty_paths()
        return ResolvedModel(name, "transformers", str(weights), tokenizer_source=str(vocab_dir))
    if in_cache(name):
        return ResolvedModel(name, "transformers", name, hub_fallback=not offline())
    if "/" not in name and close_model_names(name):
        # not a path, not a hub id (owner/name), not cached: most likely a misspelled known name
        raise PlmscopeError(f"unknown model {name!r}{model_hint(name)}")
    if offline():
        raise PlmscopeError(
            f"model {name!r} could not be loaded: not in the local Hugging Face cache and HF_HUB_OFFLINE is set"
            f"{model_hint(name)}"
        )
    reason = hub_unreachable()
    if reason is not None:
        raise PlmscopeError(
            f"model {name!r} could not be loaded: not in the local Hugging Face cache and the hub cannot be "
            f"reached ({reason}){model_hint(name)}"
        )
    return ResolvedModel(name, "transformers", name, local_only=False)


def close_model_names(name: str, *, n: int = 3) -> list[str]:
    """Up to ``n`` known model names (``plmscope models``) closest to ``name``, best first (case-insensitive).

    A name also matches by its part after the owner (``esm2_t6_8M`` finds ``facebook/esm2_t6_8M_UR50D``).
    """
    import difflib

    from plmscope.models.known import KNOWN_MODELS

    keys: dict[str, str] = {}
    for known in KNOWN_MODELS:
        keys.setdefault(known.lower(), known)
        keys.setdefault(known.rpartition("/")[2].lower(), known)
    query = name.lower()
    hits = difflib.get_close_matches(query, list(keys), n=2 * n, cutoff=0.6)
    hits += difflib.get_close_matches(query.rpartition("/")[2], list(keys), n=2 * n, cutoff=0.6)
    hits += [k for k in keys if len(query) >= 4 and query in k]
    return list(dict.fromkeys(keys[h] for h in hits))[:n]


def model_hint(name: str) -> str:
    """``"; did you mean ...?"`` naming the closest known models ("" when none is close)."""
    close = close_model_names(name)
    if close:
        return f"; did you mean {' or '.join(repr(c) for c in close)}? (`plmscope models` lists the known names)"
    return ""


def antiberty_paths() -> tuple[Path, Path]:
    """(weights directory, tokenizer directory) of AntiBERTy inside the installed ``antiberty`` package."""
    import importlib.util

    spec = importlib.util.find_spec("antiberty")  # locate the package without importing it (its model code costs seconds)
    if spec is None or not spec.submodule_search_locations:
        raise PlmscopeError("model 'antiberty' needs the antiberty package: pip install 'plmscope[demo]'")
    root = Path(next(iter(spec.submodule_search_locations))).resolve() / "trained_models"
    weights = root / "AntiBERTy_md_smooth"
    if not (weights / "config.json").is_file() or not (root / "vocab.txt").is_file():
        raise PlmscopeError(f"model 'antiberty': weights or vocab.txt missing under {root}")
    return weights, root


def model_files(model: str) -> dict[str, list[int]] | None:
    """Name -> (size, mtime_ns) of a local model directory's files (None for hub names), to notice new weights."""
    path = Path(model).expanduser()
    if not path.is_dir() and model.lower() == "antiberty":
        path = antiberty_paths()[0]
    if not path.is_dir():
        return None
    return {f.name: [f.stat().st_size, f.stat().st_mtime_ns] for f in sorted(path.iterdir()) if f.is_file()}


def model_type(name: str, source: str, *, local_only: bool, families) -> str:
    """The checkpoint's ``model_type``; raises unless it is one of ``families``."""
    from transformers import PretrainedConfig

    with quiet_transformers():
        config, _ = PretrainedConfig.get_config_dict(source, local_files_only=local_only)
    family = config.get("model_type")
    if family not in families:
        raise PlmscopeError(
            f"model {name!r} has model_type {family!r}; supported families: {', '.join(sorted(families))}"
        )
    return family


def offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` is set."""
    flags = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return any(f.strip().upper() in {"1", "ON", "YES", "TRUE"} for f in flags)


def hub_unreachable() -> str | None:
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


def in_cache(repo_id: str) -> bool:
    """True when the hub model's ``config.json`` is in the local Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError

    try:
        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except HFValidationError:
        raise PlmscopeError(
            f"model {repo_id!r} is neither a local directory nor a valid Hugging Face hub name"
        ) from None


UNSAFE_PICKLE = (
    "refused: its weights file is a pickle holding more than tensors, which could run code when loaded "
    "(plmscope reads only tensors: safetensors, or torch.load with weights_only)"
)
"""What :func:`short_error` says for a weights pickle that ``torch.load(weights_only=True)`` refused.

torch's own message advises re-running with ``weights_only=False``, i.e. running the file's code:
never passed on to the user."""


def short_error(exc: BaseException, *, limit: int = 240) -> str:
    """One line of an exception's message, cut to ``limit`` characters (for one-line errors).

    A weights pickle refused by the weights-only unpickler gives :data:`UNSAFE_PICKLE` instead.
    """
    if isinstance(exc, pickle.UnpicklingError) or "Weights only load failed" in str(exc):
        return UNSAFE_PICKLE
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
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
