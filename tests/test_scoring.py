"""Masked-LM variant scores: brute-force agreement, [position, token] indexing, batch independence, additivity."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from plmscope.errors import PlmscopeError
from plmscope.fourier import all_points, forward_transform, order
from plmscope.fourier.landscape_spec import build_spec
from plmscope.models.scoring import (
    AMINO_ACIDS,
    MaskedLMScorer,
    VariantScorer,
    load_masked_lm,
    save_tiny_masked_lm,
)
from plmscope.models.tiny import save_tiny_model

WT = "MKTAYIAKQRQISFVKSHFSRQ"
OTHERS = ["MKTAYIAKQRQISFVKSHFSRQGGHHW", "ACDEFGHIKLMNPQRSTVWYACDEFGHIKLMNPQ", "MKT"]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return save_tiny_masked_lm("bert", tmp_path_factory.mktemp("tiny") / "bert_mlm", hidden=32, seed=3)


@pytest.fixture(scope="module")
def adapter(tiny_dir):
    return load_masked_lm(tiny_dir, device="cpu")


def _ids(adapter, seq):
    tok = adapter.tokenizer
    return [tok.cls_token_id, *tok.convert_tokens_to_ids(list(seq)), tok.sep_token_id]


def brute_pll(adapter, seq, *, masked):
    """Per-position loop on one sequence, laid out by hand as [CLS] r1 .. rL [SEP]."""
    ids = _ids(adapter, seq)
    total = 0.0
    with torch.no_grad():
        if not masked:
            lp = torch.log_softmax(adapter.model(input_ids=torch.tensor([ids])).logits[0].double(), -1)
        for k in range(len(seq)):
            if masked:
                hidden = list(ids)
                hidden[k + 1] = adapter.tokenizer.mask_token_id
                lp = torch.log_softmax(adapter.model(input_ids=torch.tensor([hidden])).logits[0].double(), -1)
            total += float(lp[k + 1, ids[k + 1]])
    return total


def test_loads_a_masked_lm_and_refuses_a_checkpoint_without_head(tmp_path, adapter):
    assert type(adapter.model).__name__ == "BertForMaskedLM"
    assert adapter.model.config._attn_implementation == "eager"
    assert adapter.max_residues == 62  # 64 positions minus [CLS] and [SEP]
    bare = save_tiny_model("bert", tmp_path / "bare")  # BertModel: no cls.predictions.* weights
    with pytest.raises(PlmscopeError, match="lacks .* weights of the masked-LM head") as err:
        load_masked_lm(bare, device="cpu")
    assert "\n" not in str(err.value)
    xlnet = save_tiny_model("xlnet", tmp_path / "xlnet")
    with pytest.raises(PlmscopeError, match="not a masked language model"):
        load_masked_lm(xlnet, device="cpu")


@pytest.mark.parametrize("family", ["esm", "albert"])
def test_other_families_load_and_score(tmp_path, family):
    path = save_tiny_masked_lm(family, tmp_path / family)
    scorer = MaskedLMScorer(load_masked_lm(path, device="cpu"))
    values = scorer.pll_unmasked([WT, "MKV"])
    masked = scorer.pll_masked([WT, "MKV"])
    assert np.all(np.isfinite(values)) and np.all(values < 0) and np.all(masked < 0)


def test_unmasked_and_masked_pll_match_brute_force(adapter):
    scorer = MaskedLMScorer(adapter, max_tokens=300)
    seqs = [WT, *OTHERS]
    np.testing.assert_allclose(scorer.pll_unmasked(seqs), [brute_pll(adapter, s, masked=False) for s in seqs],
                               rtol=1e-5, atol=1e-4)  # fmt: skip
    np.testing.assert_allclose(scorer.pll_masked(seqs), [brute_pll(adapter, s, masked=True) for s in seqs],
                               rtol=1e-5, atol=1e-4)  # fmt: skip
    assert not np.allclose(scorer.pll_unmasked(seqs), scorer.pll_masked(seqs))


class PositionalLM(torch.nn.Module):
    """Logits that depend on the position only: row t of a fixed table (any batch, any input)."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.table = table

    def forward(self, input_ids, attention_mask=None, return_dict=True):
        b, t = input_ids.shape
        return SimpleNamespace(logits=self.table[:t].expand(b, t, -1).clone())


def test_log_probs_are_read_at_position_and_token_not_token_and_token(tiny_dir):
    """The original code read logits[token id, token id] (position axis indexed by token id)."""
    positional = load_masked_lm(tiny_dir, device="cpu")
    vocab = positional.model.config.vocab_size
    table = torch.randn(64, vocab, generator=torch.Generator().manual_seed(0)) * 3
    positional.model = PositionalLM(table)
    lp = torch.log_softmax(table.double(), -1)
    seqs = ["MKTAYIAKQR", "WWCHHPLNGA"]  # same length, different tokens: one batch
    right, token_axis_bug, first_sequence_bug = [], [], []
    first = _ids(positional, seqs[0])
    for seq in seqs:
        ids = _ids(positional, seq)
        right.append(sum(float(lp[k + 1, ids[k + 1]]) for k in range(len(seq))))
        token_axis_bug.append(sum(float(lp[ids[k + 1], ids[k + 1]]) for k in range(len(seq))))
        first_sequence_bug.append(sum(float(lp[k + 1, first[k + 1]]) for k in range(len(seq))))
    got = MaskedLMScorer(positional).pll_unmasked(seqs)
    np.testing.assert_allclose(got, right, rtol=1e-6)
    assert np.all(np.abs(got - np.array(token_axis_bug)) > 1.0)
    assert abs(got[1] - first_sequence_bug[1]) > 1.0
    residues = MaskedLMScorer(positional).residue_log_probs(seqs[:1])[0]
    ids = _ids(positional, seqs[0])
    np.testing.assert_allclose(residues, [float(lp[k + 1, ids[k + 1]]) for k in range(10)], rtol=1e-6)


@pytest.mark.parametrize("method", ["pll_unmasked", "pll_masked"])
def test_scores_do_not_depend_on_batch_or_padding(adapter, method):
    short = "MKTAYIAKQR"
    alone = getattr(MaskedLMScorer(adapter), method)([short])[0]
    for max_tokens, batch_size in ((100_000, None), (64, None), (100_000, 2)):
        scorer = MaskedLMScorer(adapter, max_tokens=max_tokens, batch_size=batch_size)
        batch = getattr(scorer, method)([OTHERS[0], short, OTHERS[1], short + "W"])
        np.testing.assert_allclose(batch[1], alone, rtol=1e-5, atol=1e-4)
    many = MaskedLMScorer(adapter, max_tokens=100_000)
    batch = getattr(many, method)([OTHERS[1], short])
    assert many.n_batches == 1 if method == "pll_unmasked" else many.n_batches >= 1
    np.testing.assert_allclose(batch[1], alone, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("family", ["bert", "esm"])
def test_sdpa_attention_gives_the_eager_scores(tmp_path, family):
    path = save_tiny_masked_lm(family, tmp_path / family, hidden=32)
    seqs = [OTHERS[0], "MKTAYIAKQR", OTHERS[1]]  # padded batch
    eager = MaskedLMScorer(load_masked_lm(path, device="cpu"), max_tokens=100_000)
    fused = MaskedLMScorer(load_masked_lm(path, device="cpu", attn_implementation="sdpa"), max_tokens=100_000)
    assert fused.adapter.model.config._attn_implementation == "sdpa"
    np.testing.assert_allclose(fused.pll_unmasked(seqs), eager.pll_unmasked(seqs), rtol=1e-5, atol=1e-4)
    with pytest.raises(PlmscopeError, match="attn_implementation"):
        load_masked_lm(path, device="cpu", attn_implementation="flash")


def test_wild_type_scores_zero_and_is_scored_once(adapter):
    for score in ("pll_unmasked", "pll_masked", "wt_marginal", "masked_marginal"):
        scorer = MaskedLMScorer(adapter)
        variants = VariantScorer(scorer, WT, [1, 4, 8], score)
        y = variants([WT, "MATAYIAKQRQISFVKSHFSRQ", WT])
        assert y[0] == 0.0 and y[2] == 0.0 and y[1] != 0.0
        calls = scorer.n_sequences
        variants(["MATAYIAKQRQISFVKSHFSRQ"])
        if score in ("wt_marginal", "masked_marginal"):
            assert calls == 1 and scorer.n_sequences == 1  # one pass of the wild type, table lookups after
        elif score == "pll_unmasked":
            assert calls == 2 and scorer.n_sequences == 3  # wild type once, then one pass per variant
        else:
            assert scorer.n_sequences - calls == len(WT)  # L masked passes per variant


def test_pll_score_is_mutant_minus_wild_type(adapter):
    scorer = MaskedLMScorer(adapter)
    mutant = "MKTAYIAKQRQISFVKSHFSRA"
    got = VariantScorer(scorer, WT, [21], "pll_unmasked")([mutant])[0]
    expected = brute_pll(adapter, mutant, masked=False) - brute_pll(adapter, WT, masked=False)
    assert got == pytest.approx(expected, abs=1e-4)


def test_masked_marginal_masks_every_landscape_site_at_once(adapter):
    sites = [1, 4, 8]
    ids = _ids(adapter, WT)
    hidden = list(ids)
    for s in sites:
        hidden[s + 1] = adapter.tokenizer.mask_token_id
    with torch.no_grad():
        lp = torch.log_softmax(adapter.model(input_ids=torch.tensor([hidden])).logits[0].double(), -1)
    aa = adapter.tokenizer.convert_tokens_to_ids(list(AMINO_ACIDS))
    table = MaskedLMScorer(adapter).site_log_probs(WT, sites, masked=True)
    np.testing.assert_allclose(table, lp[[s + 1 for s in sites]][:, aa].numpy(), rtol=1e-5, atol=1e-5)
    mutant = "MATAYIAKCRQISFVKSHFSRQ"  # K2A, Q9C
    expected = (lp[2, aa[AMINO_ACIDS.index("A")]] - lp[2, ids[2]]) + (lp[9, aa[AMINO_ACIDS.index("C")]] - lp[9, ids[9]])
    got = VariantScorer(MaskedLMScorer(adapter), WT, sites, "masked_marginal")([mutant])[0]
    assert got == pytest.approx(float(expected), abs=1e-5)
    with pytest.raises(PlmscopeError, match="differs from the wild type elsewhere"):
        VariantScorer(MaskedLMScorer(adapter), WT, sites, "masked_marginal")(["AKTAYIAKQRQISFVKSHFSRQ"])


def _energy_above_order_one(values: np.ndarray, n: int, q: int) -> float:
    F = forward_transform(values.reshape((q,) * n)).ravel()
    k = all_points(n, q)
    power = np.abs(F) ** 2
    return float(power[order(k) >= 2].sum() / power[order(k) >= 1].sum())


@pytest.mark.parametrize("score", ["wt_marginal", "masked_marginal"])
def test_additive_scores_have_no_energy_above_order_one(adapter, score):
    spec = build_spec("p", WT, [2, 5, 9], q=20)
    X = all_points(3, 20)
    y = VariantScorer(MaskedLMScorer(adapter), WT, spec.sites, score)(spec.to_sequences(X))
    assert np.ptp(y) > 0.1
    assert _energy_above_order_one(y, 3, 20) < 1e-20


def test_pll_has_energy_above_order_one(adapter):
    """Positive control for the test above: the unmasked PLL of the same model is not additive."""
    spec = build_spec("p", WT, [2, 5], q=20)
    X = all_points(2, 20)
    y = VariantScorer(MaskedLMScorer(adapter, max_tokens=20_000), WT, spec.sites, "pll_unmasked")(spec.to_sequences(X))
    assert _energy_above_order_one(y, 2, 20) > 1e-3


def test_bad_options_are_refused(adapter):
    with pytest.raises(PlmscopeError, match="max_tokens"):
        MaskedLMScorer(adapter, max_tokens=0)
    with pytest.raises(PlmscopeError, match="batch_size"):
        MaskedLMScorer(adapter, batch_size=0)
    with pytest.raises(PlmscopeError, match="unknown score"):
        VariantScorer(MaskedLMScorer(adapter), WT, [1], "pll")


# ------------------------------------------------------------------------------ real AntiBERTy
HEAVY = "EVQLVESGGGLVQPGGSLRLSCAASGFTFSSYAMSWVRQAPGKGLEWVSAISGSGGSTYYADSVKGRFTISRDNSKNTLYLQMNSLRAEDTAVYYCAK"


@pytest.fixture(scope="module")
def antiberty():
    pytest.importorskip("antiberty", reason="the antiberty package (plmscope[demo]) is not installed")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        return MaskedLMScorer(load_masked_lm("antiberty", device="cpu"), max_tokens=2048)


def test_antiberty_masked_lm_head_is_the_trained_one(antiberty):
    assert type(antiberty.adapter.model).__name__ == "BertForMaskedLM"
    # the conserved cysteine of the VH framework (C22) is predicted with confidence when masked:
    # a randomly initialised head would spread probability over 25 tokens
    table = antiberty.site_log_probs(HEAVY, [21, 95], masked=True)
    assert np.exp(table[0, AMINO_ACIDS.index("C")]) > 0.5
    assert np.exp(table[1, AMINO_ACIDS.index("C")]) > 0.5
    assert np.allclose(np.exp(table).sum(axis=1), 1.0, atol=0.05)  # almost all mass on amino acids


def test_antiberty_variant_scores_are_finite_and_zero_for_the_wild_type(antiberty):
    spec = build_spec("vh", HEAVY, [31, 33, 50], q=20)
    X = np.array([[0, 0, 0], [1, 0, 0], [0, 5, 19], [3, 3, 3]])
    for score in ("pll_unmasked", "wt_marginal"):
        y = VariantScorer(antiberty, HEAVY, spec.sites, score)(spec.to_sequences(X))
        assert np.all(np.isfinite(y)) and y[0] == 0.0
        assert np.all(y[1:] != 0.0)
    # the wild type scored against itself through a separate forward pass: 0 up to rounding
    wt_twice = antiberty.pll_unmasked([HEAVY, HEAVY[:-1] + "A", HEAVY])
    assert wt_twice[0] == pytest.approx(wt_twice[2], abs=1e-4)
