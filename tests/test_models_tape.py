"""TAPE BERT: conversion of a TAPE-format checkpoint, TAPE's iupac token ids, attention vs. a NumPy TAPE forward."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy.special import erf
from transformers import BertModel, PreTrainedTokenizerFast

from plmscope.data.download import load_manifest
from plmscope.errors import PlmscopeError
from plmscope.models.known import KNOWN_MODELS
from plmscope.models.registry import load_adapter
from plmscope.models.tape import (
    TAPE_BERT_SUBDIR,
    TapeBertAdapter,
    convert_tape_checkpoint,
    run_convert_tape,
    tape_checkpoint_kind,
)

# TAPE's iupac vocabulary as listed in tape/tokenizers.py (IUPAC_VOCAB): id = position.
TAPE_VOCAB = "<pad> <mask> <cls> <sep> <unk> A B C D E F G H I K L M N O P Q R S T U V W X Y Z".split()
TAPE_ID = {token: i for i, token in enumerate(TAPE_VOCAB)}

HIDDEN, LAYERS, HEADS, INNER, POSITIONS, TYPES, EPS = 16, 2, 2, 32, 64, 2, 1e-12
SEQS = ["MKTAYIAKQRQISFVKSHFSRQ", "EVQLVBZUOXG", "ACDEFGHIKLMNPQRSTVWY"]


def tape_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """A random ProteinBertForMaskedLM state dict under TAPE's parameter names (``bert.`` + ``mlm.`` head)."""
    g = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=0.5):
        return torch.randn(*shape, generator=g) * scale

    def norm(prefix):
        return {
            f"{prefix}.LayerNorm.weight": 1 + rand(HIDDEN, scale=0.1),
            f"{prefix}.LayerNorm.bias": rand(HIDDEN, scale=0.1),
        }

    e = "bert.embeddings"
    s = {
        f"{e}.word_embeddings.weight": rand(30, HIDDEN),
        f"{e}.position_embeddings.weight": rand(POSITIONS, HIDDEN),
        f"{e}.token_type_embeddings.weight": rand(TYPES, HIDDEN),
        **norm(e),
    }
    for n in range(LAYERS):
        lay = f"bert.encoder.layer.{n}"
        for part in ("query", "key", "value"):
            s[f"{lay}.attention.self.{part}.weight"] = rand(HIDDEN, HIDDEN)
            s[f"{lay}.attention.self.{part}.bias"] = rand(HIDDEN, scale=0.1)
        s[f"{lay}.attention.output.dense.weight"] = rand(HIDDEN, HIDDEN)
        s[f"{lay}.attention.output.dense.bias"] = rand(HIDDEN, scale=0.1)
        s.update(norm(f"{lay}.attention.output"))
        s[f"{lay}.intermediate.dense.weight"] = rand(INNER, HIDDEN)
        s[f"{lay}.intermediate.dense.bias"] = rand(INNER, scale=0.1)
        s[f"{lay}.output.dense.weight"] = rand(HIDDEN, INNER)
        s[f"{lay}.output.dense.bias"] = rand(HIDDEN, scale=0.1)
        s.update(norm(f"{lay}.output"))
    s["bert.pooler.dense.weight"] = rand(HIDDEN, HIDDEN)
    s["bert.pooler.dense.bias"] = rand(HIDDEN)
    # TAPE's MLMHead: dropped by the conversion
    s["mlm.transform.dense.weight"] = rand(HIDDEN, HIDDEN)
    s["mlm.transform.dense.bias"] = rand(HIDDEN)
    s["mlm.transform.LayerNorm.weight"] = torch.ones(HIDDEN)
    s["mlm.transform.LayerNorm.bias"] = torch.zeros(HIDDEN)
    s["mlm.decoder.weight"] = s[f"{e}.word_embeddings.weight"]
    s["mlm.bias"] = torch.zeros(30)
    return s


def tape_config(**changes) -> dict:
    """A TAPE ProteinBertConfig as TAPE writes it (no model_type; TAPE's extra keys included)."""
    config = {
        "attention_probs_dropout_prob": 0.1, "finetuning_task": None, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "hidden_size": HIDDEN, "initializer_range": 0.02,
        "intermediate_size": INNER, "layer_norm_eps": EPS, "max_position_embeddings": POSITIONS,
        "num_attention_heads": HEADS, "num_hidden_layers": LAYERS, "num_labels": -1,
        "output_attentions": False, "output_hidden_states": False, "torchscript": False,
        "type_vocab_size": TYPES, "vocab_size": 30,
    }
    config.update(changes)
    return config


def write_tape_dir(path, state=None, config=None):
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps(tape_config() if config is None else config))
    torch.save(tape_state_dict() if state is None else state, path / "pytorch_model.bin")
    return path


def numpy_tape_forward(state: dict[str, torch.Tensor], sequence: str):
    """TAPE's ProteinBertModel forward (eval mode, one unpadded sequence), written from TAPE's modules.

    Returns:
        (per-layer attention probabilities ``(heads, T, T)``, final hidden states ``(T, hidden)``)
        with ``T = len(sequence) + 2``.
    """
    w = {k: v.double().numpy() for k, v in state.items()}
    ids = np.array([TAPE_ID["<cls>"], *(TAPE_ID[c] for c in sequence), TAPE_ID["<sep>"]])
    t, d = len(ids), HIDDEN // HEADS

    def layer_norm(x, prefix):  # TAPE's LayerNorm: TF style, eps inside the square root
        u = x.mean(-1, keepdims=True)
        s = ((x - u) ** 2).mean(-1, keepdims=True)
        return w[f"{prefix}.LayerNorm.weight"] * (x - u) / np.sqrt(s + EPS) + w[f"{prefix}.LayerNorm.bias"]

    def linear(x, prefix):
        return x @ w[f"{prefix}.weight"].T + w[f"{prefix}.bias"]

    e = "bert.embeddings"
    x = w[f"{e}.word_embeddings.weight"][ids] + w[f"{e}.position_embeddings.weight"][:t]
    x = layer_norm(x + w[f"{e}.token_type_embeddings.weight"][0], e)
    attentions = []
    for n in range(LAYERS):
        lay = f"bert.encoder.layer.{n}"
        q, k, v = (linear(x, f"{lay}.attention.self.{p}").reshape(t, HEADS, d).transpose(1, 0, 2)
                   for p in ("query", "key", "value"))
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        attentions.append(probs)
        context = (probs @ v).transpose(1, 0, 2).reshape(t, HIDDEN)
        a = layer_norm(linear(context, f"{lay}.attention.output.dense") + x, f"{lay}.attention.output")
        h = linear(a, f"{lay}.intermediate.dense")
        h = h * 0.5 * (1.0 + erf(h / math.sqrt(2.0)))  # TAPE's gelu
        x = layer_norm(linear(h, f"{lay}.output.dense") + a, f"{lay}.output")
    return attentions, x


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("tape")
    raw = write_tape_dir(root / "tape_bert-base")
    converted = convert_tape_checkpoint(raw, root / "converted")
    return {"raw": raw, "converted": converted}


@pytest.mark.parametrize("kind", ["raw", "converted"])
def test_attention_and_hidden_states_equal_numpy_tape_forward(dirs, kind):
    assert tape_checkpoint_kind(dirs[kind]) == kind
    adapter = load_adapter(dirs[kind], max_residues=40, device="cpu", dtype="float32")
    assert isinstance(adapter, TapeBertAdapter)
    assert (adapter.family, adapter.num_layers, adapter.num_heads) == ("bert", LAYERS, HEADS)
    state = tape_state_dict()
    batch = adapter.encode(SEQS)
    with torch.inference_mode():
        raw = adapter.forward(batch)
        hidden = adapter.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).last_hidden_state
        residues = adapter.attentions(batch)
    for b, seq in enumerate(SEQS):
        expected, x = numpy_tape_forward(state, seq)
        t = len(seq) + 2
        for n in range(LAYERS):
            np.testing.assert_allclose(raw[n][b, :, :t, :t].numpy(), expected[n], atol=2e-5, rtol=1e-4)
            np.testing.assert_allclose(
                residues[n][b, :, : len(seq), : len(seq)].numpy(), expected[n][:, 1:-1, 1:-1], atol=2e-5, rtol=1e-4
            )
        np.testing.assert_allclose(hidden[b, :t].numpy(), x, atol=1e-4, rtol=1e-4)
    # the attention is not near-uniform: the comparison above can tell weight mix-ups apart
    assert float(raw[0].max()) > 0.5


def test_token_ids_are_tapes_iupac_ids(dirs):
    adapter = load_adapter(dirs["converted"], max_residues=40, device="cpu", dtype="float32")
    batch = adapter.encode(["MKTAYBZUOX", "AC"])
    # <cls> M K T A Y B Z U O X <sep>, written out from tape/tokenizers.py IUPAC_VOCAB
    assert batch.input_ids[0].tolist() == [2, 16, 14, 23, 5, 28, 6, 29, 24, 18, 27, 3]
    assert batch.input_ids[1].tolist() == [2, 5, 7, 3] + [0] * 8  # <pad> = 0
    assert batch.n_unknown.tolist() == [0, 0]
    assert batch.n_nonstandard.tolist() == [5, 0]
    # the saved tokenizer alone, on TAPE-style text (no spaces), gives the same ids
    tokenizer = PreTrainedTokenizerFast.from_pretrained(dirs["converted"])
    letters = "ABCDEFGHIKLMNOPQRSTUVWXYZ"
    assert tokenizer(letters)["input_ids"] == [TAPE_ID["<cls>"], *(TAPE_ID[c] for c in letters), TAPE_ID["<sep>"]]
    assert tokenizer.convert_ids_to_tokens(list(range(30))) == TAPE_VOCAB


def test_letter_outside_tapes_vocabulary_is_an_error(dirs):
    adapter = load_adapter(dirs["raw"], max_residues=40, device="cpu", dtype="float32")
    with pytest.raises(PlmscopeError, match=r"protein 'p1' has residue 'J' at position 3 .*not in the model's vocab"):
        adapter.encode(["MKJT"], ids=["p1"])


def test_converted_dir_is_a_plain_transformers_bert(dirs):
    model, info = BertModel.from_pretrained(dirs["converted"], output_loading_info=True, attn_implementation="eager")
    assert not info["missing_keys"] and not info["unexpected_keys"]
    state = tape_state_dict()
    torch.testing.assert_close(
        model.encoder.layer[1].attention.self.key.weight, state["bert.encoder.layer.1.attention.self.key.weight"]
    )
    torch.testing.assert_close(model.pooler.dense.bias, state["bert.pooler.dense.bias"])
    config = json.loads((dirs["converted"] / "config.json").read_text())
    assert (config["model_type"], config["tape_vocab"], config["vocab_size"]) == ("bert", "iupac", 30)


def test_legacy_gamma_beta_and_unprefixed_checkpoints_convert_identically(tmp_path, dirs):
    state = tape_state_dict()
    legacy = {k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
              for k, v in state.items()}
    bare = {k[len("bert."):]: v for k, v in state.items() if k.startswith("bert.")}  # a saved ProteinBertModel
    reference = load_adapter(dirs["raw"], max_residues=40, device="cpu", dtype="float32")
    with torch.inference_mode():
        want = reference.attentions(reference.encode(SEQS))
        for name, variant in (("legacy", legacy), ("bare", bare)):
            adapter = load_adapter(write_tape_dir(tmp_path / name, variant), max_residues=40, device="cpu")
            for got, exp in zip(adapter.attentions(adapter.encode(SEQS)), want):
                torch.testing.assert_close(got, exp)


def _conversion_error(tmp_path, state=None, config=None) -> str:
    src = write_tape_dir(tmp_path / "src", state, config)
    with pytest.raises(PlmscopeError) as err:
        convert_tape_checkpoint(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # no temp dir left
    message = str(err.value)
    assert "\n" not in message
    return message


def test_missing_weight_is_a_one_line_error(tmp_path):
    state = tape_state_dict()
    del state["bert.encoder.layer.1.output.LayerNorm.weight"]
    message = _conversion_error(tmp_path, state)
    assert "pytorch_model.bin" in message
    assert "lacks 1 encoder weight(s) (e.g. 'encoder.layer.1.output.LayerNorm.weight')" in message


@pytest.mark.parametrize(
    "extra", ["bert.encoder.layer.2.attention.self.query.weight", "bert.embeddings.extra_embeddings.weight"]
)
def test_unexpected_encoder_weight_is_a_one_line_error(tmp_path, extra):
    state = tape_state_dict()
    state[extra] = torch.zeros(HIDDEN, HIDDEN)
    message = _conversion_error(tmp_path, state)
    assert f"1 weight(s) do not belong to a BERT encoder with 2 layers (e.g. {extra!r})" in message


def test_config_and_weights_disagreeing_is_a_one_line_error(tmp_path):
    message = _conversion_error(tmp_path, config=tape_config(intermediate_size=40))
    key = "bert.encoder.layer.0.intermediate.dense.weight"
    assert f"{key!r} has shape (32, 16) but the config implies (40, 16)" in message


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"vocab_size": 26}, "vocab_size 26 is not TAPE's iupac vocabulary"),
        ({"hidden_act": "tanh"}, "hidden_act 'tanh' is not one of gelu, relu, swish"),
        ({"num_attention_heads": 3}, "hidden_size 16 is not a multiple of num_attention_heads 3"),
        ({"num_hidden_layers": "2"}, "num_hidden_layers must be a positive integer"),
        ({"pruned_heads": {"0": [1]}}, "pruned_heads"),
        ({"model_type": "bert"}, "already a transformers config"),
    ],
)
def test_bad_tape_config_is_a_one_line_error(tmp_path, change, problem):
    message = _conversion_error(tmp_path, config=tape_config(**change))
    assert "config.json" in message and problem in message


def test_non_tensor_value_and_unreadable_weights_are_errors(tmp_path):
    state = tape_state_dict()
    state["bert.embeddings.LayerNorm.bias"] = torch.zeros(HIDDEN, dtype=torch.long)
    assert "'bert.embeddings.LayerNorm.bias' is not a floating-point tensor" in _conversion_error(tmp_path, state)
    src = tmp_path / "garbage"
    src.mkdir()
    (src / "config.json").write_text(json.dumps(tape_config()))
    (src / "pytorch_model.bin").write_bytes(b"not a checkpoint")
    with pytest.raises(PlmscopeError, match=r"pytorch_model.bin: cannot read the TAPE weights"):
        convert_tape_checkpoint(src, tmp_path / "out2")


def test_output_may_not_replace_the_source(dirs):
    with pytest.raises(PlmscopeError, match="would replace the TAPE source"):
        convert_tape_checkpoint(dirs["raw"], dirs["raw"])
    assert (dirs["raw"] / "pytorch_model.bin").is_file()


def test_edited_converted_tokenizer_is_rejected(tmp_path, dirs):
    out = run_convert_tape(dirs["raw"], tmp_path / "conv")
    data = json.loads((out / "tokenizer.json").read_text())
    vocab = data["model"]["vocab"]
    vocab["A"], vocab["C"] = vocab["C"], vocab["A"]
    (out / "tokenizer.json").write_text(json.dumps(data))
    with pytest.raises(PlmscopeError, match="tokenizer vocabulary is not TAPE's iupac vocabulary"):
        load_adapter(out, device="cpu")


def test_name_tape_bert_reads_the_download_cache(tmp_path, monkeypatch, dirs):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PlmscopeError) as err:
        load_adapter("tape_bert", device="cpu")
    assert "\n" not in str(err.value)
    assert f"TAPE bert-base not found at resources/downloads/{TAPE_BERT_SUBDIR}" in str(err.value)
    assert "plmscope download --name tape_bert_base_weights" in str(err.value)
    write_tape_dir(tmp_path / "resources/downloads" / TAPE_BERT_SUBDIR)
    adapter = load_adapter("tape_bert", max_residues=40, device="cpu")
    assert isinstance(adapter, TapeBertAdapter) and adapter.name == "tape_bert"


def test_manifest_downloads_where_tape_bert_looks(repo_dir):
    entries = load_manifest(repo_dir / "resources" / "downloads.yaml")
    assert entries["tape_bert_base_config"].dest == f"{TAPE_BERT_SUBDIR}/config.json"
    assert entries["tape_bert_base_weights"].dest == f"{TAPE_BERT_SUBDIR}/pytorch_model.bin"
    known = KNOWN_MODELS["tape_bert"]
    assert (known.family, known.num_layers, known.num_heads) == ("bert", 12, 12)
