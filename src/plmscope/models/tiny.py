"""Tiny randomly initialised checkpoints of each model family, for tests and dry runs of the pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch

from plmscope.errors import PlmscopeError

PROTEIN_LETTERS = "LAGVESIKRDTPNQFYMHCWXUBZO"
"""Residue tokens of the tiny vocabularies: 20 amino acids, then X U B Z O (ProtTrans order)."""

ESM_VOCAB: tuple[str, ...] = (
    "<cls>", "<pad>", "<eos>", "<unk>",
    "L", "A", "G", "V", "S", "E", "R", "T", "I", "D", "P", "K", "Q", "N", "F", "Y", "M", "H", "W", "C",
    "X", "B", "U", "Z", "O", ".", "-", "<null_1>", "<mask>",
)
"""The ESM-2 alphabet (``vocab.txt`` of facebook/esm2_*): token id = index, as the real checkpoints number them."""


def save_tiny_model(
    family: Literal["bert", "esm", "albert", "xlnet"],
    out_dir: str | Path,
    *,
    layers: int = 2,
    heads: int = 2,
    hidden: int = 16,
    max_positions: int = 64,
    seed: int = 0,
    init_scale: float = 0.5,
) -> Path:
    """Write a random model and a protein tokenizer of ``family`` to ``out_dir``.

    The directory loads with :func:`plmscope.models.registry.load_adapter` like a real checkpoint.

    Args:
        family: ``"bert"`` (ProtBert vocabulary), ``"esm"`` (ESM-2 alphabet), ``"albert"`` or
            ``"xlnet"`` (SentencePiece-style ``"▁A"`` pieces).
        out_dir: directory to create.
        layers: transformer layers.
        heads: attention heads per layer.
        hidden: hidden size (divisible by ``heads``).
        max_positions: position embeddings (BERT, ALBERT, ESM).
        seed: torch seed for the random weights.
        init_scale: standard deviation of the random weights; the default makes attention peaked
            (a few weights above 0.3) rather than uniform.

    Returns:
        ``out_dir`` as a Path.
    """
    from transformers import (
        AlbertConfig,
        AlbertModel,
        AlbertTokenizer,
        BertConfig,
        BertModel,
        BertTokenizer,
        EsmConfig,
        EsmModel,
        EsmTokenizer,
        XLNetConfig,
        XLNetModel,
        XLNetTokenizer,
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    inner = 2 * hidden
    if family == "bert":
        vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *PROTEIN_LETTERS]
        (out / "vocab.txt").write_text("\n".join(vocab) + "\n")
        tokenizer = BertTokenizer.from_pretrained(str(out), do_lower_case=False)
        (out / "vocab.txt").unlink()
        config = BertConfig(
            vocab_size=len(vocab), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
            intermediate_size=inner, max_position_embeddings=max_positions, pad_token_id=0,
            initializer_range=init_scale,
        )
        model = BertModel(config)
    elif family == "esm":
        vocab = list(ESM_VOCAB)
        (out / "vocab.txt").write_text("\n".join(vocab) + "\n")
        tokenizer = EsmTokenizer(vocab_file=str(out / "vocab.txt"))
        config = EsmConfig(
            vocab_size=len(vocab), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
            intermediate_size=inner, max_position_embeddings=max_positions, pad_token_id=1,
            mask_token_id=len(vocab) - 1, position_embedding_type="rotary", token_dropout=True,
            initializer_range=init_scale,
        )
        model = EsmModel(config)
    elif family == "albert":
        pieces = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
        vocab = [(p, 0.0) for p in pieces] + [("▁" + c, -1.0) for c in PROTEIN_LETTERS]
        tokenizer = AlbertTokenizer(vocab=vocab, do_lower_case=False)
        config = AlbertConfig(
            vocab_size=len(vocab), embedding_size=hidden, hidden_size=hidden, num_hidden_layers=layers,
            num_attention_heads=heads, intermediate_size=inner, max_position_embeddings=max_positions,
            pad_token_id=0, initializer_range=init_scale,
        )
        model = AlbertModel(config)
    elif family == "xlnet":
        pieces = ["<unk>", "<s>", "</s>", "<cls>", "<sep>", "<pad>", "<mask>", "<eod>", "<eop>"]
        vocab = [(p, 0.0) for p in pieces] + [("▁" + c, -1.0) for c in PROTEIN_LETTERS]
        tokenizer = XLNetTokenizer(vocab=vocab, do_lower_case=False)
        config = XLNetConfig(
            vocab_size=len(vocab), d_model=hidden, n_layer=layers, n_head=heads, d_inner=inner,
            pad_token_id=5, bos_token_id=1, eos_token_id=2, initializer_range=init_scale,
        )
        model = XLNetModel(config)
    else:
        raise PlmscopeError(f"unknown model family {family!r}; choose bert, esm, albert or xlnet")
    tokenizer.save_pretrained(str(out))
    model.save_pretrained(str(out))
    return out
