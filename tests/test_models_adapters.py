"""Adapters of every family on tiny random checkpoints: shapes, residue alignment, padding, errors."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModel, AutoTokenizer, BertModel

from plmscope.errors import PlmscopeError
from plmscope.models.bert import BertAdapter
from plmscope.models.esm import EsmAdapter
from plmscope.models.registry import load_adapter
from plmscope.models.tiny import save_tiny_model

FAMILIES = ["bert", "esm", "albert", "xlnet"]
SEQS = ["MKTAYIAKQRQISFVKSHFSRQ", "EVQLVESGGG", "ACDEFGHIKLMNPQRSTVWY"]
LEADING = {"bert": 1, "esm": 1, "albert": 1, "xlnet": 0}  # special tokens before residue 0


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return {fam: save_tiny_model(fam, root / fam, layers=2, heads=2, hidden=16, seed=3) for fam in FAMILIES}


@pytest.fixture(scope="module")
def adapters(tiny_dirs):
    return {fam: load_adapter(d, max_residues=40, device="cpu") for fam, d in tiny_dirs.items()}


@pytest.mark.parametrize("family", FAMILIES)
def test_family_and_shapes(adapters, family):
    adapter = adapters[family]
    assert adapter.family == family
    assert (adapter.num_layers, adapter.num_heads) == (2, 2)
    batch = adapter.encode(SEQS)
    with torch.inference_mode():
        layers = adapter.attentions(batch)
    assert len(layers) == 2
    lr = max(map(len, SEQS))
    for layer in layers:
        assert layer.shape == (3, 2, lr, lr)
    assert batch.lengths.tolist() == [len(s) for s in SEQS]


@pytest.mark.parametrize("family", FAMILIES)
def test_residue_attention_matches_raw_model_sliced_by_hand(tiny_dirs, adapters, family):
    """Each protein's residue block equals the raw HF attention with the specials cut off by hand."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_dirs[family])
    model = AutoModel.from_pretrained(tiny_dirs[family], attn_implementation="eager").eval()
    adapter = adapters[family]
    with torch.inference_mode():
        ours = adapter.attentions(adapter.encode(SEQS))
        for b, seq in enumerate(SEQS):
            text = seq if family == "esm" else " ".join(seq)
            enc = tokenizer(text, return_tensors="pt")
            assert enc["input_ids"].shape[1] == len(seq) + 2
            raw = model(**enc, output_attentions=True).attentions
            assert len(raw) == 2
            s, n = LEADING[family], len(seq)
            for layer, layer_raw in zip(ours, raw):
                expected = layer_raw[0, :, s : s + n, s : s + n]
                torch.testing.assert_close(layer[b, :, :n, :n], expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("family", FAMILIES)
def test_raw_rows_sum_to_one_over_the_token_block(adapters, family):
    adapter = adapters[family]
    batch = adapter.encode(SEQS)
    with torch.inference_mode():
        raw = adapter.forward(batch)
    real = batch.attention_mask.bool()
    for layer in raw:
        sums = layer.sum(dim=-1)  # (B, H, T)
        for b in range(batch.size):
            torch.testing.assert_close(sums[b][:, real[b]], torch.ones_like(sums[b][:, real[b]]), atol=1e-5, rtol=0)
            # no attention mass on padding keys
            assert float(layer[b][:, real[b]][:, :, ~real[b]].abs().sum()) < 1e-6


@pytest.mark.parametrize("family", FAMILIES)
def test_padding_does_not_change_a_proteins_attention(adapters, family):
    adapter = adapters[family]
    with torch.inference_mode():
        batched = adapter.attentions(adapter.encode(SEQS))
        for b, seq in enumerate(SEQS):
            single = adapter.attentions(adapter.encode([seq]))
            n = len(seq)
            for layer_b, layer_s in zip(batched, single):
                torch.testing.assert_close(layer_b[b, :, :n, :n], layer_s[0], atol=1e-5, rtol=1e-4)
                assert float(layer_b[b, :, n:, :].abs().sum()) == 0.0
                assert float(layer_b[b, :, :, n:].abs().sum()) == 0.0


@pytest.mark.parametrize("family", FAMILIES)
def test_residue_token_mismatch_raises(adapters, family):
    with pytest.raises(PlmscopeError, match=r"protein 'p2' has 5 residues but was tokenised into 4 residue tokens"):
        adapters[family].encode(["MKT", "MK TA"], ids=["p1", "p2"])


def test_planted_shift_in_text_raises(tiny_dirs):
    class DropsFirstResidue(EsmAdapter):
        def text(self, sequence):
            return sequence[1:]

    good = load_adapter(tiny_dirs["esm"], max_residues=40, device="cpu")
    planted = DropsFirstResidue(
        name="planted", model=good.model, tokenizer=good.tokenizer, max_residues=40,
        device=torch.device("cpu"), dtype=torch.float32,
    )
    with pytest.raises(PlmscopeError, match="one-to-one"):
        planted.encode(["MKTAY"])


def test_planted_reordering_with_the_right_count_raises(adapters):
    class Reversed(BertAdapter):
        def text(self, sequence):
            return " ".join(reversed(sequence))

    bert = adapters["bert"]
    planted = Reversed(
        name="reversed", model=bert.model, tokenizer=bert.tokenizer, max_residues=40,
        device=torch.device("cpu"), dtype=torch.float32,
    )
    planted.encode(["MAM"])  # a palindrome is still in step
    with pytest.raises(PlmscopeError, match=r"residue 'M' at position 1 was encoded as token 'T'; .*out of step"):
        planted.encode(["MKT"])


def test_special_tokens_not_where_the_family_expects_raise(adapters):
    class WrongLayout(EsmAdapter):
        def special_layout(self):
            return [self.tokenizer.eos_token_id], [self.tokenizer.cls_token_id]

    esm = adapters["esm"]
    planted = WrongLayout(
        name="swapped", model=esm.model, tokenizer=esm.tokenizer, max_residues=40,
        device=torch.device("cpu"), dtype=torch.float32,
    )
    with pytest.raises(PlmscopeError, match="layout expects '<eos>' before the residues"):
        planted.encode(["MKT"])


@pytest.mark.parametrize("family", FAMILIES)
def test_unknown_letter_is_an_error_with_its_position(adapters, family):
    with pytest.raises(PlmscopeError, match=r"protein 'q' has residue 'J' at position 3"):
        adapters[family].encode(["MKJT"], ids=["q"])


@pytest.mark.parametrize("family", ["bert", "albert", "xlnet"])
def test_prottrans_families_map_rare_codes_to_x(adapters, family):
    adapter = adapters[family]
    batch = adapter.encode(["MUZBOXK"])
    x_id = adapter.encode(["X"]).input_ids[0, batch.residue_index[0, 0]]
    tokens = batch.input_ids[0, batch.residue_index[0]]
    assert tokens[1:6].tolist() == [int(x_id)] * 5
    assert batch.n_nonstandard.tolist() == [5]
    assert batch.n_unknown.tolist() == [0]


def test_esm_keeps_its_alphabet_for_rare_codes(adapters):
    adapter = adapters["esm"]
    batch = adapter.encode(["MUZBOXK"])
    tokens = adapter.tokenizer.convert_ids_to_tokens(batch.input_ids[0, batch.residue_index[0]].tolist())
    assert tokens == list("MUZBOXK")
    assert batch.n_nonstandard.tolist() == [5]
    assert batch.n_unknown.tolist() == [0]


def test_over_long_sequence_is_refused_by_encode(adapters):
    with pytest.raises(PlmscopeError, match="41 residues, over the limit of 40"):
        adapters["bert"].encode(["A" * 41], ids=["long"])


def test_sdpa_model_without_attention_weights_is_a_clear_error(tiny_dirs, adapters):
    sdpa = BertModel.from_pretrained(tiny_dirs["bert"], attn_implementation="sdpa").eval()
    adapter = BertAdapter(
        name="sdpa-bert", model=sdpa, tokenizer=adapters["bert"].tokenizer, max_residues=40,
        device=torch.device("cpu"), dtype=torch.float32,
    )
    with torch.inference_mode(), pytest.raises(PlmscopeError, match="returned no attention weights"):
        adapter.attentions(adapter.encode(["MKT"]))
