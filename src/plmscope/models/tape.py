"""TAPE BERT (``bert-base``, Rao et al. 2019): checkpoint conversion to transformers and its attention adapter."""

from __future__ import annotations

import json
import logging
import math
import os
import re
from pathlib import Path
from typing import ClassVar, Literal, Mapping

import torch
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

from plmscope.data.download import DEFAULT_CACHE_DIR
from plmscope.errors import PlmscopeError, located
from plmscope.io import atomic_path
from plmscope.models.base import AttentionAdapter
from plmscope.models.resolve import TAPE_NAMES, short_error  # noqa: F401 (TAPE_NAMES re-exported)

log = logging.getLogger(__name__)

IUPAC_VOCAB: tuple[str, ...] = (
    "<pad>", "<mask>", "<cls>", "<sep>", "<unk>",
    "A", "B", "C", "D", "E", "F", "G", "H", "I", "K", "L", "M", "N",
    "O", "P", "Q", "R", "S", "T", "U", "V", "W", "X", "Y", "Z",
)
"""TAPE's ``iupac`` vocabulary (``tape/tokenizers.py`` ``IUPAC_VOCAB``): token id = index."""

TAPE_BERT_SUBDIR = "models/tape_bert-base"
"""Where the manifest entries ``tape_bert_base_config``/``tape_bert_base_weights`` land, relative to the cache."""

TAPE_CONFIG_NAME = "config.json"
TAPE_WEIGHTS_NAME = "pytorch_model.bin"
CONVERTED_WEIGHTS_NAME = "model.safetensors"

TAPE_VOCAB_KEY = "tape_vocab"
"""Key written into a converted ``config.json`` (value ``"iupac"``): this BERT uses TAPE's token ids."""

TAPE_DEFAULTS: dict[str, object] = {
    "vocab_size": 30,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 8096,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-12,
}
"""``ProteinBertConfig`` defaults, used (as TAPE does) for keys a TAPE config.json leaves out."""

_ACTIVATIONS = {"gelu": "gelu", "relu": "relu", "swish": "swish"}
"""TAPE ``hidden_act`` -> transformers activation (TAPE's gelu is the exact erf form, as transformers')."""

_TAPE_PREFIX = "bert."
_POOLER = "pooler."

Kind = Literal["raw", "converted"]


class TapeBertAdapter(AttentionAdapter):
    """TAPE layout ``<cls> r1 ... rL <sep>``; residues written without separators, TAPE's ``iupac`` ids.

    TAPE's vocabulary has ``X B Z U O``, so non-standard residues keep their own tokens (never
    rewritten); any other letter is an error (TAPE's own tokenizer raises on it too).
    """

    family: ClassVar[str] = "bert"
    model_class: ClassVar[type] = BertModel
    tokenizer_class: ClassVar[type] = PreTrainedTokenizerFast
    model_kwargs: ClassVar[dict] = {"add_pooling_layer": False}

    def text(self, sequence: str) -> str:
        """The residue string itself (the tokenizer splits it into single letters, as TAPE's)."""
        return sequence

    def special_layout(self) -> tuple[list[int], list[int]]:
        """``<cls>`` before, ``<sep>`` after."""
        return [self.tokenizer.cls_token_id], [self.tokenizer.sep_token_id]


def tape_tokenizer() -> PreTrainedTokenizerFast:
    """A fast tokenizer giving exactly TAPE's ``iupac`` ids: one token per character, ``<cls> ... <sep>``.

    Characters outside the vocabulary become ``<unk>`` (TAPE's tokenizer raises instead; the
    adapter turns them into an error).
    """
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors

    ids = {token: i for i, token in enumerate(IUPAC_VOCAB)}
    core = Tokenizer(models.WordLevel(vocab=ids, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    core.post_processor = processors.TemplateProcessing(
        single="<cls> $A <sep>",
        pair="<cls> $A <sep> $B:1 <sep>:1",
        special_tokens=[("<cls>", ids["<cls>"]), ("<sep>", ids["<sep>"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        unk_token="<unk>",
        pad_token="<pad>",
        cls_token="<cls>",
        sep_token="<sep>",
        mask_token="<mask>",
        padding_side="right",
    )


def tape_checkpoint_kind(path: str | os.PathLike) -> Kind | None:
    """``"raw"`` for a TAPE download, ``"converted"`` for :func:`convert_tape_checkpoint` output, else None.

    A raw TAPE directory has ``config.json`` without ``model_type`` (TAPE's configs carry none)
    beside ``pytorch_model.bin``; a converted one has ``model_type`` ``bert`` and
    ``tape_vocab: iupac``. Unreadable configs give None (the caller reports them).
    """
    path = Path(path)
    try:
        data = json.loads((path / TAPE_CONFIG_NAME).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    if data.get("model_type") == "bert" and data.get(TAPE_VOCAB_KEY) == "iupac":
        return "converted"
    if "model_type" not in data and (path / TAPE_WEIGHTS_NAME).is_file():
        return "raw"
    return None


def default_tape_dir() -> Path:
    """The TAPE ``bert-base`` download directory under the default cache (``plmscope download``)."""
    return DEFAULT_CACHE_DIR / TAPE_BERT_SUBDIR


def bert_config_from_tape(raw: Mapping, *, where: str | os.PathLike) -> BertConfig:
    """Translate a TAPE ``ProteinBertConfig`` (config.json contents) into a :class:`BertConfig`.

    Args:
        raw: the parsed TAPE config; absent keys take :data:`TAPE_DEFAULTS` as in TAPE.
        where: the file, for error messages.

    Returns:
        A BERT config with eager attention, ``pad_token_id`` 0 and ``tape_vocab = "iupac"``.

    Raises:
        PlmscopeError: not a TAPE BERT config (has ``model_type``, other vocabulary, pruned
            heads), or a size is not a positive integer.
    """
    if not isinstance(raw, Mapping):
        raise located(where, "expected a JSON object (TAPE ProteinBertConfig)")
    if "model_type" in raw:
        raise located(
            where, f"has model_type {raw['model_type']!r}: already a transformers config, not a TAPE one"
        )
    cfg = {**TAPE_DEFAULTS, **{k: raw[k] for k in TAPE_DEFAULTS if k in raw}}
    for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                "max_position_embeddings", "type_vocab_size"):
        value = cfg[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise located(where, f"{key} must be a positive integer, got {value!r}")
    if cfg["vocab_size"] != len(IUPAC_VOCAB):
        raise located(
            where,
            f"vocab_size {cfg['vocab_size']} is not TAPE's iupac vocabulary ({len(IUPAC_VOCAB)} tokens); "
            "only iupac-vocabulary TAPE BERT checkpoints are supported",
        )
    if cfg["hidden_size"] % cfg["num_attention_heads"]:
        raise located(
            where,
            f"hidden_size {cfg['hidden_size']} is not a multiple of num_attention_heads {cfg['num_attention_heads']}",
        )
    if cfg["hidden_act"] not in _ACTIVATIONS:
        raise located(where, f"hidden_act {cfg['hidden_act']!r} is not one of {', '.join(_ACTIVATIONS)}")
    eps = cfg["layer_norm_eps"]
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps) or eps <= 0:
        raise located(where, f"layer_norm_eps must be a positive number, got {eps!r}")
    if raw.get("pruned_heads"):
        raise located(where, "has pruned_heads; checkpoints with pruned attention heads are not supported")
    config = BertConfig(
        vocab_size=cfg["vocab_size"],
        hidden_size=cfg["hidden_size"],
        num_hidden_layers=cfg["num_hidden_layers"],
        num_attention_heads=cfg["num_attention_heads"],
        intermediate_size=cfg["intermediate_size"],
        hidden_act=_ACTIVATIONS[cfg["hidden_act"]],
        hidden_dropout_prob=float(cfg["hidden_dropout_prob"]),
        attention_probs_dropout_prob=float(cfg["attention_probs_dropout_prob"]),
        max_position_embeddings=cfg["max_position_embeddings"],
        type_vocab_size=cfg["type_vocab_size"],
        initializer_range=float(cfg["initializer_range"]),
        layer_norm_eps=float(eps),
        pad_token_id=IUPAC_VOCAB.index("<pad>"),
        position_embedding_type="absolute",
        architectures=["BertModel"],
        attn_implementation="eager",
    )
    setattr(config, TAPE_VOCAB_KEY, "iupac")
    return config


def bert_weights_from_tape(
    state: Mapping[str, torch.Tensor], config: BertConfig, *, where: str | os.PathLike
) -> dict[str, torch.Tensor]:
    """Map a TAPE state dict onto :class:`transformers.BertModel` parameter names, checked.

    TAPE saves ``ProteinBert*`` models whose encoder sits under ``bert.`` (the MLM or task head
    beside it), or a bare ``ProteinBertModel`` without prefix. Its module names match
    BertModel's; legacy LayerNorm names ``gamma``/``beta`` become ``weight``/``bias`` as TAPE's
    own loader does. Head weights (outside ``bert.``) are dropped; the pooler is kept when present.

    Args:
        state: the TAPE state dict.
        config: the converted config (:func:`bert_config_from_tape`), which fixes every shape.
        where: the weights file, for error messages.

    Returns:
        BertModel weights (pooler optional), each used exactly once.

    Raises:
        PlmscopeError: one line naming the first TAPE key that is missing, unexpected, of the
            wrong shape or not a floating tensor.
    """
    if not isinstance(state, Mapping) or not state:
        raise located(where, "expected a non-empty state dict (parameter name -> tensor)")
    prefixed = any(str(k).startswith(_TAPE_PREFIX) for k in state)
    weights: dict[str, torch.Tensor] = {}
    origin: dict[str, str] = {}
    heads: list[str] = []
    for key, value in state.items():
        key = str(key)
        if prefixed and not key.startswith(_TAPE_PREFIX):
            heads.append(key)
            continue
        name = key[len(_TAPE_PREFIX):] if prefixed else key
        name = re.sub(r"\.gamma$", ".weight", re.sub(r"\.beta$", ".bias", name))
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            raise located(where, f"{key!r} is not a floating-point tensor")
        if name in weights:
            raise located(where, f"{key!r} and {origin[name]!r} both map to BertModel weight {name!r}")
        weights[name] = value
        origin[name] = key
    _check_weights(weights, config, where=where, origin=origin)
    if heads:
        log.info("%s: %d task-head weights not converted (e.g. %r)", where, len(heads), heads[0])
    return weights


def _expected_shapes(config: BertConfig) -> dict[str, tuple[int, ...]]:
    """BertModel (with pooler) parameter name -> shape for ``config``, built without allocating."""
    with torch.device("meta"):
        reference = BertModel(config, add_pooling_layer=True)
    return {name: tuple(t.shape) for name, t in reference.state_dict().items()}


def _check_weights(
    weights: Mapping[str, torch.Tensor],
    config: BertConfig,
    *,
    where: str | os.PathLike,
    origin: Mapping[str, str] | None = None,
) -> None:
    """Raise unless ``weights`` are exactly BertModel's (pooler optional) with the config's shapes."""
    origin = origin or {}
    expected = _expected_shapes(config)
    unexpected = [k for k in weights if k not in expected]
    if unexpected:
        raise located(
            where,
            f"{len(unexpected)} weight(s) do not belong to a BERT encoder with {config.num_hidden_layers} layers "
            f"(e.g. {origin.get(unexpected[0], unexpected[0])!r})",
        )
    missing = [k for k in expected if k not in weights and not k.startswith(_POOLER)]
    if missing:
        raise located(
            where,
            f"lacks {len(missing)} encoder weight(s) (e.g. {missing[0]!r}); it would run with random weights",
        )
    for name, tensor in weights.items():
        if tuple(tensor.shape) != expected[name]:
            raise located(
                where,
                f"{origin.get(name, name)!r} has shape {tuple(tensor.shape)} but the config implies {expected[name]}",
            )
    pooler = [k for k in expected if k.startswith(_POOLER)]
    if any(k in weights for k in pooler) and not all(k in weights for k in pooler):
        raise located(where, "has only part of the pooler weights")


def read_tape_checkpoint(src_dir: str | os.PathLike) -> tuple[BertConfig, dict[str, torch.Tensor]]:
    """Read a TAPE BERT directory (``config.json`` + ``pytorch_model.bin``) as BertModel config and weights.

    The weights file is read with ``torch.load(weights_only=True)`` (tensors only, no code).

    Raises:
        PlmscopeError: a file is missing or unreadable, or the checkpoint does not match the
            config (see :func:`bert_weights_from_tape`).
    """
    src = Path(src_dir)
    if not src.is_dir():
        raise located(src, "TAPE model directory not found")
    config_path, weights_path = src / TAPE_CONFIG_NAME, src / TAPE_WEIGHTS_NAME
    try:
        raw = json.loads(config_path.read_text())
    except FileNotFoundError:
        raise located(config_path, "TAPE config not found") from None
    except (OSError, ValueError) as exc:
        raise located(config_path, f"cannot read the TAPE config ({short_error(exc, limit=200)})") from None
    config = bert_config_from_tape(raw, where=config_path)
    if not weights_path.is_file():
        raise located(weights_path, "TAPE weights not found")
    try:
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch.load raises pickle, zip, runtime and OS errors
        raise located(weights_path, f"cannot read the TAPE weights ({short_error(exc, limit=200)})") from None
    return config, bert_weights_from_tape(state, config, where=weights_path)


def convert_tape_checkpoint(src_dir: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """Convert a TAPE BERT checkpoint into a transformers model directory, atomically.

    ``out_dir`` receives ``config.json`` (BertConfig plus ``tape_vocab: iupac``),
    ``model.safetensors`` (encoder, embeddings and pooler; task heads dropped) and a fast
    tokenizer (``tokenizer.json``) whose ids are TAPE's ``iupac`` ids. It loads with
    ``transformers.BertModel.from_pretrained`` and with
    :func:`plmscope.models.registry.load_adapter`.

    Args:
        src_dir: TAPE directory with ``config.json`` and ``pytorch_model.bin`` (as downloaded
            by the manifest entries ``tape_bert_base_config`` and ``tape_bert_base_weights``).
        out_dir: directory to create (an existing one is replaced only on success).

    Returns:
        ``out_dir`` as a Path.

    Raises:
        PlmscopeError: the source is missing, unreadable or not a TAPE BERT checkpoint, or
            ``out_dir`` is the source directory (or holds it); nothing is written then.
    """
    from safetensors.torch import save_file

    src, out = Path(src_dir), Path(out_dir)
    if src.exists() and out.exists():
        if src.resolve() == out.resolve() or out.resolve() in src.resolve().parents:
            raise located(out, f"output directory would replace the TAPE source {src}; choose another")
    config, weights = read_tape_checkpoint(src)
    with atomic_path(out, directory=True) as tmp:
        config.save_pretrained(str(tmp))
        tensors = {name: t.detach().contiguous() for name, t in weights.items()}
        save_file(tensors, str(tmp / CONVERTED_WEIGHTS_NAME), metadata={"format": "pt"})
        tape_tokenizer().save_pretrained(str(tmp))
    log.info("converted TAPE checkpoint %s into %s (%d weights)", src, out, len(weights))
    return out


def run_convert_tape(src_dir: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """CLI entry point of ``plmscope convert-tape``: convert, then check the result loads.

    Returns:
        ``out_dir`` as a Path.

    Raises:
        PlmscopeError: as :func:`convert_tape_checkpoint`, or the written directory does not load.
    """
    out = convert_tape_checkpoint(src_dir, out_dir)
    adapter = load_tape_adapter(str(out), out, max_residues=1, device=torch.device("cpu"), dtype=torch.float32)
    log.info("converted model loads: %r", adapter)
    return out


def _read_converted(path: Path) -> tuple[BertConfig, dict[str, torch.Tensor], PreTrainedTokenizerFast]:
    """Config, weights and tokenizer of a converted directory, each checked."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    config_path, weights_path = path / TAPE_CONFIG_NAME, path / CONVERTED_WEIGHTS_NAME
    try:
        config = BertConfig.from_pretrained(str(path), attn_implementation="eager", local_files_only=True)
    except (OSError, ValueError, TypeError) as exc:
        raise located(config_path, f"cannot read the converted config ({short_error(exc, limit=200)})") from None
    if not weights_path.is_file():
        raise located(weights_path, "converted TAPE weights not found")
    try:
        weights = load_file(str(weights_path))
    except (OSError, SafetensorError) as exc:
        raise located(weights_path, f"cannot read the converted weights ({short_error(exc, limit=200)})") from None
    _check_weights(weights, config, where=weights_path)
    try:
        tokenizer = PreTrainedTokenizerFast.from_pretrained(str(path), local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - tokenizer loading raises many types
        raise located(path, f"cannot load the tokenizer ({short_error(exc, limit=200)})") from None
    _check_tokenizer(tokenizer, where=path)
    return config, weights, tokenizer


def _check_tokenizer(tokenizer, *, where: str | os.PathLike) -> None:
    """Raise unless ``tokenizer`` gives TAPE's iupac ids, one per letter, between ``<cls>`` and ``<sep>``."""
    expected = {token: i for i, token in enumerate(IUPAC_VOCAB)}
    if dict(tokenizer.get_vocab()) != expected:
        raise located(where, "tokenizer vocabulary is not TAPE's iupac vocabulary (ids would differ from TAPE)")
    letters = "".join(IUPAC_VOCAB[5:])
    got = tokenizer(letters, add_special_tokens=True)["input_ids"]
    want = [expected["<cls>"], *(expected[c] for c in letters), expected["<sep>"]]
    if list(got) != want:
        raise located(where, "tokenizer does not encode residues one letter per token between <cls> and <sep>")


def load_tape_adapter(
    name: str,
    path: str | os.PathLike,
    *,
    max_residues: int,
    device: torch.device,
    dtype: torch.dtype,
) -> TapeBertAdapter:
    """Load a raw TAPE directory (converted in memory) or a converted one as a :class:`TapeBertAdapter`.

    Args:
        name: the name the user gave (recorded in outputs and error messages).
        path: the TAPE or converted directory.
        max_residues: longest sequence to accept.
        device: resolved torch device.
        dtype: resolved torch dtype.

    Raises:
        PlmscopeError: the directory is neither kind, or its files fail the checks.
    """
    path = Path(path)
    kind = tape_checkpoint_kind(path)
    if kind is None:
        raise PlmscopeError(
            f"model {name!r}: {path} holds neither a TAPE BERT checkpoint ({TAPE_CONFIG_NAME} + "
            f"{TAPE_WEIGHTS_NAME}) nor a converted one"
        )
    if kind == "raw":
        config, weights = read_tape_checkpoint(path)
        tokenizer = tape_tokenizer()
    else:
        config, weights, tokenizer = _read_converted(path)
    model = BertModel(config, add_pooling_layer=False)
    model.load_state_dict({k: v for k, v in weights.items() if not k.startswith(_POOLER)}, strict=True)
    if model.config._attn_implementation != "eager":
        raise PlmscopeError(f"model {name!r} did not load with eager attention; attention weights would be empty")
    model.to(device=device, dtype=dtype)
    return TapeBertAdapter(
        name=name, model=model, tokenizer=tokenizer, max_residues=max_residues, device=device, dtype=dtype
    )


def load_tape_by_name(name: str, *, max_residues: int, device: torch.device, dtype: torch.dtype) -> TapeBertAdapter:
    """Load ``tape_bert`` from :func:`default_tape_dir`, or explain how to download it.

    Raises:
        PlmscopeError: the download directory is missing or incomplete.
    """
    path = default_tape_dir()
    if tape_checkpoint_kind(path) is None:
        raise PlmscopeError(
            f"model {name!r}: TAPE bert-base not found at {path} (needs {TAPE_CONFIG_NAME} and {TAPE_WEIGHTS_NAME}); "
            "run 'plmscope download --name tape_bert_base_config' and 'plmscope download --name "
            "tape_bert_base_weights', or pass the TAPE (or converted) directory"
        )
    return load_tape_adapter(name, path, max_residues=max_residues, device=device, dtype=dtype)
