"""load_adapter: name resolution, offline failures as one-line errors, option validation, KNOWN_MODELS."""

from __future__ import annotations

import json
import re

import pytest
import torch

from plmscope.errors import PlmscopeError
from plmscope.models import registry, resolve
from plmscope.models.known import FAMILY_NAMES
from plmscope.models.registry import FAMILIES, KNOWN_MODELS, load_adapter, resolve_dtype
from plmscope.models.tiny import save_tiny_model


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    return save_tiny_model("bert", tmp_path_factory.mktemp("reg") / "bert", max_positions=34)


def test_offline_hub_name_is_a_one_line_error_naming_the_model(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PlmscopeError) as err:
        load_adapter("plmscope-test/does-not-exist", device="cpu")
    message = str(err.value)
    assert "\n" not in message
    assert "'plmscope-test/does-not-exist'" in message
    assert "not in the local Hugging Face cache" in message


def test_unreachable_hub_is_a_one_line_error(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(resolve, "hub_unreachable", lambda: "https://huggingface.co: planted failure")
    with pytest.raises(PlmscopeError, match=r"'plmscope-test/does-not-exist' could not be loaded: .*cannot be "
                                            r"reached \(https://huggingface.co: planted failure\)$"):
        load_adapter("plmscope-test/does-not-exist", device="cpu")


def test_invalid_hub_name_is_an_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PlmscopeError, match="neither a local directory nor a valid Hugging Face hub name"):
        load_adapter("not a//valid name", device="cpu")


def test_local_directory_resolves_by_model_type(tiny_bert):
    adapter = load_adapter(tiny_bert, max_residues=32, device="cpu", dtype="auto")
    assert adapter.family == "bert"
    assert adapter.dtype == torch.float32
    assert adapter.model.config._attn_implementation == "eager"


def test_unknown_model_type_is_a_clear_error(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    (tmp_path / "vocab.json").write_text("{}")
    with pytest.raises(PlmscopeError, match="model_type 'gpt2'; supported families: albert, bert, esm, xlnet"):
        load_adapter(tmp_path, device="cpu")


def test_directory_without_config_is_an_error(tmp_path):
    with pytest.raises(PlmscopeError, match="no config.json"):
        load_adapter(tmp_path, device="cpu")


def test_max_residues_beyond_position_embeddings_is_an_error(tiny_bert):
    with pytest.raises(PlmscopeError, match="max_residues 33 exceeds the model's limit of 32 residues"):
        load_adapter(tiny_bert, max_residues=33, device="cpu")
    with pytest.raises(PlmscopeError, match="at least 1"):
        load_adapter(tiny_bert, max_residues=0, device="cpu")


def test_checkpoint_missing_encoder_weights_is_an_error(tmp_path):
    d = save_tiny_model("bert", tmp_path / "m", layers=2)
    config = json.loads((d / "config.json").read_text())
    config["num_hidden_layers"] = 3  # layer 2 has no weights in the checkpoint
    (d / "config.json").write_text(json.dumps(config))
    with pytest.raises(PlmscopeError, match=r"checkpoint lacks \d+ weights of the bert encoder .*random weights"):
        load_adapter(d, max_residues=30, device="cpu")


def test_device_and_dtype_validation():
    with pytest.raises(PlmscopeError, match="not a torch device"):
        registry.resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(PlmscopeError, match="CUDA is not available"):
            registry.resolve_device("cuda")
        assert registry.resolve_device("auto").type == "cpu"
    assert resolve_dtype("auto", torch.device("cuda")) == torch.float16
    assert resolve_dtype("auto", torch.device("cpu")) == torch.float32
    assert resolve_dtype("bfloat16", torch.device("cpu")) == torch.bfloat16
    with pytest.raises(PlmscopeError, match="dtype 'half'"):
        resolve_dtype("half", torch.device("cpu"))


def test_known_models_are_consistent():
    assert tuple(sorted(FAMILIES)) == FAMILY_NAMES
    assert set(m.family for m in KNOWN_MODELS.values()) <= set(FAMILIES)
    esm = {name: m for name, m in KNOWN_MODELS.items() if "esm2" in name}
    assert len(esm) == 6
    for name, model in esm.items():
        layers = int(re.search(r"_t(\d+)_", name).group(1))  # ESM-2 names carry their depth
        assert model.num_layers == layers
        assert model.num_heads == (40 if layers >= 36 else 20)
    assert KNOWN_MODELS["Rostlab/prot_albert"].num_heads == 64


def test_local_directory_without_tokenizer_or_a_file_is_a_clear_error(tiny_bert, tmp_path):
    """Without a tokenizer file transformers builds an empty vocabulary and blamed the first residue instead."""
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(tiny_bert, bare)
    for f in bare.glob("tokenizer*"):
        f.unlink()
    with pytest.raises(PlmscopeError, match=r"^model '.*bare': directory has no tokenizer \(none of tokenizer\.json"):
        load_adapter(bare, max_residues=20, device="cpu")
    afile = tmp_path / "weights.bin"
    afile.write_bytes(b"x")
    with pytest.raises(PlmscopeError, match=r"a file, not a model directory"):
        load_adapter(afile, max_residues=20, device="cpu")
    with pytest.raises(PlmscopeError, match=r"^model name is empty$"):
        load_adapter("", max_residues=20, device="cpu")
