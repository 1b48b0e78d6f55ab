"""threshold_batch on planted attention tensors with known above-theta entries."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from plmscope.attention.threshold import ATTENTION_SCHEMA, threshold_batch
from plmscope.errors import PlmscopeError


def planted():
    """2 layers, 2 proteins (lengths 4 and 3), 3 heads, background 0.1, some planted weights."""
    layers = [torch.full((2, 3, 4, 4), 0.1) for _ in range(2)]
    plants = [
        # (layer, b, head, i, j, weight)
        (0, 0, 0, 0, 3, 0.9),
        (0, 0, 2, 1, 1, 0.3),  # exactly theta: kept
        (0, 1, 1, 2, 0, 0.5),
        (1, 0, 1, 3, 2, 0.31),
        (1, 1, 0, 0, 0, 0.7),
        (1, 1, 2, 1, 2, 0.4),
    ]
    for layer, b, h, i, j, w in plants:
        layers[layer][b, h, i, j] = w
    layers[0][0, 1, 2, 2] = 0.2999  # just below theta
    layers[1][1, 0, 3, 1] = 0.95  # outside protein 1 (length 3): ignored
    layers[0][1, 2, 0, 3] = 0.8  # outside protein 1: ignored
    return layers, plants


def test_rows_are_exactly_the_planted_weights():
    layers, plants = planted()
    rows, counts = threshold_batch(layers, [4, 3], ["alpha", "beta"], theta=0.3)
    assert rows.schema == ATTENTION_SCHEMA
    ids = ["alpha", "beta"]
    expected = sorted((ids[b], layer, h, i, j) for layer, b, h, i, j, _ in plants)
    got = list(zip(*(rows.column(c).to_pylist() for c in ("protein_id", "layer", "head", "i", "j"))))
    assert got == expected  # also checks the order: protein, layer, head, i, j
    weights = dict(zip(got, rows.column("weight").to_numpy()))
    for layer, b, h, i, j, w in plants:
        assert weights[(ids[b], layer, h, i, j)] == pytest.approx(w, abs=1e-7)
    want = np.zeros((2, 3), dtype=np.int64)
    for layer, _, h, *_ in plants:
        want[layer, h] += 1
    np.testing.assert_array_equal(counts, want)
    assert counts.dtype == np.int64


def test_lower_theta_keeps_background_only_inside_each_protein():
    layers, _ = planted()
    rows, counts = threshold_batch(layers, np.array([4, 3]), ["a", "b"], theta=0.05)
    # every in-protein pair of every head and layer: (16 + 9) pairs x 3 heads x 2 layers
    assert rows.num_rows == (16 + 9) * 3 * 2 == counts.sum()
    b_rows = rows.filter(rows.column("protein_id").to_numpy(zero_copy_only=False) == "b")
    assert max(b_rows.column("i").to_pylist()) == 2 and max(b_rows.column("j").to_pylist()) == 2


def test_half_precision_and_tensor_lengths():
    layers, plants = planted()
    half = [a.half() for a in layers]
    rows, counts = threshold_batch(half, torch.tensor([4, 3]), ["a", "b"], theta=0.3)
    # the planted 0.3 and theta round to the same float16 value (kept); 0.2999 stays below
    assert rows.num_rows == len(plants)
    assert rows.column("weight").type == ATTENTION_SCHEMA.field("weight").type


def test_nothing_above_theta_gives_an_empty_batch():
    layers = [torch.full((1, 2, 3, 3), 0.2)]
    rows, counts = threshold_batch(layers, [3], ["x"], theta=0.3)
    assert rows.num_rows == 0 and rows.schema == ATTENTION_SCHEMA
    np.testing.assert_array_equal(counts, np.zeros((1, 2), dtype=np.int64))


def test_bad_inputs_are_errors():
    layers = [torch.zeros(1, 2, 3, 3)]
    with pytest.raises(PlmscopeError, match="theta"):
        threshold_batch(layers, [3], ["x"], theta=0.0)
    with pytest.raises(PlmscopeError, match="theta"):
        threshold_batch(layers, [3], ["x"], theta=1.5)
    with pytest.raises(PlmscopeError, match="ids"):
        threshold_batch(layers, [3], ["x", "y"], theta=0.3)
    with pytest.raises(PlmscopeError, match="do not fit"):
        threshold_batch(layers, [4], ["x"], theta=0.3)
    with pytest.raises(PlmscopeError, match="layer 1 has shape"):
        threshold_batch(layers + [torch.zeros(1, 2, 2, 2)], [3], ["x"], theta=0.3)


def test_cpu_numpy_path_and_torch_path_agree_on_views():
    """float32 (NumPy selection) and bfloat16 (torch selection) on strided views give the same rows."""
    layers, plants = planted()
    # plant values exactly representable in bfloat16 and view through a slice of a bigger tensor
    big = [torch.zeros(2, 3, 6, 6) for _ in layers]
    for layer, b, h, i, j, _ in plants:
        layers[layer][b, h, i, j] = 0.5
    views = []
    for a, z in zip(layers, big):
        z[:, :, 1:5, 1:5] = a
        views.append(z[:, :, 1:5, 1:5])
    assert not views[0].is_contiguous()
    r32, c32 = threshold_batch(views, [4, 3], ["a", "b"], theta=0.5)
    r16, c16 = threshold_batch([v.bfloat16() for v in views], [4, 3], ["a", "b"], theta=0.5)
    assert r32.num_rows == len(plants)  # the 0.8 and 0.95 planted outside the proteins are dropped
    assert r16.equals(r32)
    np.testing.assert_array_equal(c16, c32)


def test_window_options_shift_and_filter_pairs():
    a = torch.zeros(1, 1, 3, 3)
    a[0, 0] = torch.tensor([[0.9, 0.0, 0.0], [0.0, 0.8, 0.0], [0.0, 0.7, 0.6]])
    rows, counts = threshold_batch([a], [3], ["w"], theta=0.5, offsets=[10], pair_sums=np.array([[0, 3]]))
    # i + j must lie in (0, 3]: (0, 0) is dropped, (1, 1) (2, 1) kept, (2, 2) dropped; indices shifted by 10
    assert list(zip(rows.column("i").to_pylist(), rows.column("j").to_pylist())) == [(11, 11), (12, 11)]
    assert counts.tolist() == [[2]]
    with pytest.raises(PlmscopeError, match=r"offsets of shape \(2,\) for a batch of 1"):
        threshold_batch([a], [3], ["w"], theta=0.5, offsets=[0, 1])
    with pytest.raises(PlmscopeError, match=r"pair_sums of shape \(2,\) for a batch of 1, expected \(1, 2\)"):
        threshold_batch([a], [3], ["w"], theta=0.5, pair_sums=np.array([0, 3]))
