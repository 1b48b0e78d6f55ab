"""The real AntiBERTy checkpoint (ships with the antiberty package): loads offline, 8 x 8, clean tokens."""

from __future__ import annotations

import pytest
import torch

from plmscope.errors import PlmscopeError
from plmscope.models.registry import KNOWN_MODELS, load_adapter

pytest.importorskip("antiberty", reason="the antiberty package (plmscope[demo]) is not installed")

HEAVY = "EVQLVESGGGLVQPGGSLRLSCAASGFTFSSYAMSWVRQAPGKGLEWVS"


@pytest.fixture(scope="module")
def antiberty():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        return load_adapter("antiberty", device="cpu")


def test_loads_offline_with_the_known_shape(antiberty):
    assert antiberty.family == "bert"
    assert (antiberty.num_layers, antiberty.num_heads) == (8, 8)
    known = KNOWN_MODELS["antiberty"]
    assert (known.family, known.num_layers, known.num_heads) == ("bert", 8, 8)
    assert antiberty.max_residues == 510
    assert antiberty.model.config._attn_implementation == "eager"


def test_standard_sequence_has_no_unknown_tokens(antiberty):
    batch = antiberty.encode([HEAVY])
    tokens = antiberty.tokenizer.convert_ids_to_tokens(batch.input_ids[0].tolist())
    assert tokens == ["[CLS]", *HEAVY, "[SEP]"]
    assert batch.n_unknown.tolist() == [0]
    assert batch.n_nonstandard.tolist() == [0]


def test_nonstandard_codes_become_unk_and_are_counted(antiberty):
    batch = antiberty.encode(["EVQXLBZUOV"])
    tokens = antiberty.tokenizer.convert_ids_to_tokens(batch.input_ids[0].tolist())
    assert tokens[4] == "[UNK]" and tokens[1:4] == ["E", "V", "Q"]
    assert batch.n_unknown.tolist() == [5]
    assert batch.n_nonstandard.tolist() == [5]
    with pytest.raises(PlmscopeError, match="residue 'J' at position 2"):
        antiberty.encode(["EJ"])


def test_attention_rows_are_distributions(antiberty):
    batch = antiberty.encode([HEAVY[:20], HEAVY[:12]])
    with torch.inference_mode():
        raw = antiberty.forward(batch)
        layers = antiberty.strip(raw, batch)
    assert len(layers) == 8 and layers[0].shape == (2, 8, 20, 20)
    for layer in raw:
        sums = layer[0].sum(dim=-1)
        torch.testing.assert_close(sums, torch.ones_like(sums), atol=1e-4, rtol=0)
    # residue block of the unpadded protein is a slice of the token block
    torch.testing.assert_close(layers[3][0], raw[3][0, :, 1:21, 1:21])
