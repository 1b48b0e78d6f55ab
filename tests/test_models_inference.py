"""Batched inference: token budget, length order, long-sequence policies, counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from plmscope.errors import PlmscopeError
from plmscope.models.inference import iter_attention, plan_batches
from plmscope.models.registry import load_adapter
from plmscope.models.tiny import save_tiny_model


@pytest.fixture(scope="module")
def adapter(tmp_path_factory):
    d = save_tiny_model("bert", tmp_path_factory.mktemp("inf") / "bert", max_positions=64)
    return load_adapter(d, max_residues=20, device="cpu")


def test_plan_batches_respects_budget_and_sorts_by_length():
    rng = np.random.default_rng(7)
    lengths = rng.integers(1, 120, size=200).tolist()
    batches = plan_batches(lengths, max_tokens=500, n_special=2)
    flat = [k for b in batches for k in b]
    assert sorted(flat) == list(range(200))
    assert [lengths[k] for k in flat] == sorted(lengths, reverse=True)
    for b in batches:
        assert len(b) * (max(lengths[k] for k in b) + 2) <= 500
    # greedy: adding the next protein would have broken the budget
    for b, nxt in zip(batches, batches[1:]):
        assert (len(b) + 1) * (lengths[b[0]] + 2) > 500


def test_protein_over_budget_gets_its_own_batch():
    assert plan_batches([10, 300, 10, 10], max_tokens=100, n_special=2) == [[1], [0, 2, 3]]
    assert plan_batches([5, 5, 5], max_tokens=14, n_special=2) == [[0, 1], [2]]
    assert plan_batches([], max_tokens=10, n_special=2) == []
    with pytest.raises(PlmscopeError, match="max_tokens"):
        plan_batches([3], max_tokens=0, n_special=2)


def test_stream_covers_every_protein_under_the_budget(adapter):
    rng = np.random.default_rng(1)
    aa = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
    proteins = [(f"p{k}", "".join(rng.choice(aa, size=int(n)))) for k, n in enumerate(rng.integers(3, 20, size=11))]
    stream = iter_attention(adapter, proteins, max_tokens=60, progress=False)
    seen = {}
    for batch in stream:
        assert batch.layers[0].shape[0] * (batch.lengths.max() + adapter.n_special) <= 60
        assert list(batch.lengths) == sorted(batch.lengths, reverse=True)
        for b, pid in enumerate(batch.ids):
            seen[pid] = int(batch.lengths[b])
    assert seen == {pid: len(seq) for pid, seq in proteins}
    assert stream.stats.n_batches == len(stream) > 1


def test_truncate_keeps_the_first_max_residues(adapter):
    long_seq = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ"  # 33 > 20
    stream = iter_attention(adapter, [("long", long_seq), ("short", "MKT")], max_tokens=1000, progress=False)
    assert stream.stats.truncated == ["long"] and stream.stats.n_skipped == 0
    (batch,) = list(stream)
    assert batch.ids == ["long", "short"]
    assert batch.lengths.tolist() == [20, 3]
    assert batch.n_original.tolist() == [33, 3]
    assert batch.truncated.tolist() == [True, False]
    with torch.inference_mode():
        expected = adapter.attentions(adapter.encode([long_seq[:20]]))
    torch.testing.assert_close(batch.layers[1][0], expected[1][0], atol=1e-5, rtol=1e-4)


def test_skip_leaves_long_proteins_out(adapter):
    stream = iter_attention(
        adapter, [("a", "A" * 25), ("b", "MKT"), ("c", "C" * 21)], max_tokens=1000, long_sequences="skip",
        progress=False,
    )
    assert stream.stats.skipped == ["a", "c"] and stream.stats.n_analysed == 1
    assert [pid for batch in stream for pid in batch.ids] == ["b"]


def test_error_names_the_protein_its_length_and_the_limit(adapter):
    with pytest.raises(PlmscopeError) as err:
        iter_attention(adapter, [("ok", "MKT"), ("huge", "A" * 25)], max_tokens=1000, long_sequences="error")
    assert "protein 'huge' has 25 residues, over the limit of 20" in str(err.value)
    assert "\n" not in str(err.value)


def test_options_and_duplicates_are_checked(adapter):
    with pytest.raises(PlmscopeError, match="long_sequences"):
        iter_attention(adapter, [("a", "MKT")], max_tokens=100, long_sequences="cut")
    with pytest.raises(PlmscopeError, match="duplicate protein id 'a'"):
        iter_attention(adapter, [("a", "MKT"), ("a", "MK")], max_tokens=100)


def test_nonstandard_counts_accumulate(adapter):
    stream = iter_attention(adapter, [("a", "MKUX"), ("b", "ZZA")], max_tokens=8, progress=False)
    batches = list(stream)
    assert len(batches) == 2
    assert stream.stats.n_nonstandard == 4 and stream.stats.n_unknown == 0


def test_window_policy_cuts_long_proteins_into_owned_windows(adapter):
    from plmscope.attention.windows import owned_sum_bounds, window_starts

    long_seq = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ"  # 33 residues, max_residues 20, stride 10
    stream = iter_attention(adapter, [("long", long_seq), ("short", "MKT")], max_tokens=44, long_sequences="window",
                            window_stride=10, progress=False)  # fmt: skip
    starts = window_starts(33, width=20, stride=10)
    assert starts.tolist() == [0, 10, 13]
    assert stream.stats.windowed == ["long"] and stream.stats.n_windows == 3 and not stream.stats.truncated
    assert stream.ids == ["long", "long", "long", "short"]
    assert stream.sequences[:3] == [long_seq[s : s + 20] for s in starts]
    np.testing.assert_array_equal(stream.pair_sums[:3], owned_sum_bounds(starts, width=20))
    batches = list(stream)
    assert len(batches) == 2  # two windows fill 44 tokens, then the last window with the short protein
    assert batches[0].finished == []  # the long protein finishes with its last window
    long_done, short_done = batches[1].finished
    assert (long_done.id, long_done.n_residues, long_done.n_original, long_done.n_windows) == ("long", 33, 33, 3)
    assert not long_done.truncated and (short_done.id, short_done.n_windows) == ("short", 1)
    assert batches[0].offsets.tolist() == [0, 10] and batches[1].offsets.tolist() == [13, 0]
    assert not batches[1].truncated.any()
    with pytest.raises(PlmscopeError, match="window_stride must be an integer from 1 to max_residues"):
        iter_attention(adapter, [("a", "MKT")], max_tokens=100, long_sequences="window", window_stride=21)


def test_iter_batches_from_a_start_runs_the_rest_of_the_plan(adapter):
    rng = np.random.default_rng(5)
    aa = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
    proteins = [(f"p{k}", "".join(rng.choice(aa, size=int(n)))) for k, n in enumerate(rng.integers(3, 20, size=9))]
    stream = iter_attention(adapter, proteins, max_tokens=50, progress=False)
    full = list(stream)
    tail = list(stream.iter_batches(2))
    assert [b.index for b in tail] == list(range(2, len(full)))
    assert [b.ids for b in tail] == [b.ids for b in full[2:]]
    for a, b in zip(tail, full[2:]):
        torch.testing.assert_close(a.layers[0], b.layers[0])
    assert stream.finished_before(2) == [p.id for b in full[:2] for p in b.finished]
    assert list(stream.iter_batches(len(full))) == []
    with pytest.raises(PlmscopeError, match="outside the plan"):
        next(stream.iter_batches(len(full) + 1))


def test_window_policy_names_a_bad_letter_by_its_position_in_the_protein(adapter):
    seq = "A" * 27 + "J" + "A" * 5  # position 28 lies in the second window (local position 18)
    with pytest.raises(PlmscopeError, match="protein 'w' has residue 'J' at position 28 that is not in the model"):
        iter_attention(adapter, [("w", seq)], max_tokens=100, long_sequences="window")
