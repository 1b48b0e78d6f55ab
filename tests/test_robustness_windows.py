"""long_sequences="window": window placement, the one-window-per-pair rule, and runs checked against brute force."""

from __future__ import annotations

import logging
from itertools import product

import numpy as np
import pyarrow as pa
import pytest
import torch

from plmscope.attention.dataset import ATTENTION_SCHEMA, read_analysed, read_attention, read_counts, read_meta
from plmscope.attention.threshold import threshold_batch
from plmscope.attention.windows import check_stride, owned_sum_bounds, pair_owner, window_starts
from plmscope.data.table import ProteinRecord, write_proteins
from plmscope.errors import PlmscopeError
from plmscope.models.inference import iter_attention
from plmscope.models.registry import load_adapter
from plmscope.models.tiny import save_tiny_model
from plmscope.runs.attention import run_attention

W = 20  # window width (max_residues) of the tiny model runs
PROTEINS = {
    "long": "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQ",  # 66 residues: 8 windows at stride 7
    "mid": "GSHMTEYKLVVVGAGGVGKSALT",  # 23: two windows, starts 0 and 3
    "short": "EVQLVESGGG",
    "exact": "ACDEFGHIKLMNPQRSTVWY",  # exactly W
}
KEY = [(c, "ascending") for c in ("protein_id", "layer", "head", "i", "j")]


def _covering(i: int, j: int, starts: np.ndarray, width: int) -> list[int]:
    return [k for k, s in enumerate(starts) if s <= min(i, j) and max(i, j) < s + width]


@pytest.mark.parametrize("length, width, stride", [(65, 20, 10), (65, 20, 7), (23, 20, 10), (41, 20, 20), (20, 20, 5),
                                                   (7, 20, 10), (100, 16, 1), (37, 10, 3)])  # fmt: skip
def test_windows_have_full_width_and_cover_every_residue(length, width, stride):
    starts = window_starts(length, width=width, stride=stride)
    assert starts[0] == 0 and list(starts) == sorted(set(starts.tolist()))
    if length <= width:
        assert starts.tolist() == [0]
        return
    assert starts[-1] == length - width  # the last window ends at the last residue
    assert (np.diff(starts) <= stride).all() and (np.diff(starts)[:-1] == stride).all()
    covered = np.zeros(length, dtype=int)
    for s in starts:
        covered[s : s + width] += 1
    assert (covered >= 1).all()


def test_stride_is_checked():
    assert check_stride(None, width=510) == 255 and check_stride(None, width=1) == 1
    for bad in (0, -3, 21, 2.5, True):
        with pytest.raises(PlmscopeError, match="window_stride must be an integer from 1 to max_residues"):
            check_stride(bad, width=20)


@pytest.mark.parametrize("length, width, stride", [(65, 20, 10), (65, 20, 7), (23, 20, 10), (41, 20, 20), (37, 10, 3)])
def test_every_covered_pair_comes_from_exactly_one_window_the_most_central(length, width, stride):
    starts = window_starts(length, width=width, stride=stride)
    bounds = owned_sum_bounds(starts, width=width)
    i, j = (a.ravel() for a in np.meshgrid(np.arange(length), np.arange(length), indexing="ij"))
    owner = pair_owner(i, j, starts, width=width)
    # the local i + j bounds of each window select exactly the pairs the global rule gives it
    from_window = np.full(length * length, -1)
    for k, s in enumerate(starts):
        li, lj = (a.ravel() for a in np.meshgrid(np.arange(width), np.arange(width), indexing="ij"))
        keep = (li + lj > bounds[k, 0]) & (li + lj <= bounds[k, 1])
        flat = (li[keep] + s) * length + (lj[keep] + s)
        assert (from_window[flat] == -1).all(), "a pair kept by two windows"
        from_window[flat] = k
    np.testing.assert_array_equal(from_window, owner)
    for a, b, k in zip(i.tolist(), j.tolist(), owner.tolist()):
        windows = _covering(a, b, starts, width)
        if not windows:
            assert k == -1 and abs(a - b) > width - stride  # pairs this close are always covered
            continue
        # most central: the largest distance of the pair to the nearer window edge, earliest on ties
        margin = [min(min(a, b) - starts[w], starts[w] + width - 1 - max(a, b)) for w in windows]
        assert k == windows[int(np.argmax(margin))]
    assert (owner[np.abs(i - j) >= width] == -1).all()


def test_threshold_batch_keeps_owned_pairs_with_global_indices():
    # one protein of 6 residues in two windows of 4 (starts 0 and 2) plus a protein of 3 residues
    starts = window_starts(6, width=4, stride=2)
    bounds = owned_sum_bounds(starts, width=4)
    rng = np.random.default_rng(3)
    attn = [torch.tensor(rng.uniform(0, 1, size=(3, 2, 4, 4)), dtype=torch.float32) for _ in range(2)]
    attn[0][2, :, 3:, :] = 0  # the short protein has 3 residues
    attn[0][2, :, :, 3:] = 0
    attn[1][2, :, 3:, :] = 0
    attn[1][2, :, :, 3:] = 0
    wide = [-1, 2**31]
    rows, counts = threshold_batch(
        attn, [4, 4, 3], ["P", "P", "Q"], theta=0.5, offsets=[0, 2, 0], pair_sums=np.array([*bounds, wide]),
    )  # fmt: skip
    expected = []
    for layer, h in product(range(2), range(2)):
        for gi, gj in product(range(6), range(6)):
            k = int(pair_owner(np.array([gi]), np.array([gj]), starts, width=4)[0])
            if k >= 0:
                w = float(attn[layer][k, h, gi - starts[k], gj - starts[k]])
                if w >= 0.5:
                    expected.append(("P", layer, h, gi, gj, w))
        for i, j in product(range(3), range(3)):
            w = float(attn[layer][2, h, i, j])
            if w >= 0.5:
                expected.append(("Q", layer, h, i, j, w))
    want = pa.Table.from_pylist([dict(zip(ATTENTION_SCHEMA.names, r)) for r in expected], schema=ATTENTION_SCHEMA)
    got = pa.Table.from_batches([rows])
    assert got.equals(got.sort_by(KEY)), "rows are ordered by protein, layer, head, i, j"
    assert got.sort_by(KEY).equals(want.sort_by(KEY))
    layer_head = np.zeros((2, 2), dtype=np.int64)
    np.add.at(layer_head, (want["layer"].to_numpy(), want["head"].to_numpy()), 1)
    np.testing.assert_array_equal(counts, layer_head)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("win")
    model = save_tiny_model("bert", root / "bert", layers=2, heads=2, max_positions=64, init_scale=1.0)
    table = root / "proteins.parquet"
    records = []
    for pid, seq in PROTEINS.items():  # an ideal alpha helix as structure: rise 1.5 Å, radius 2.3 Å
        t = np.arange(len(seq))
        ca = np.stack([2.3 * np.cos(t * 1.745), 2.3 * np.sin(t * 1.745), 1.5 * t], axis=1)
        records.append(ProteinRecord(id=pid, sequence=seq, ca=ca, ss8="H" * len(seq)))
    write_proteins(records, table)
    return model, table


@pytest.fixture(scope="module")
def brute_force(tiny) -> pa.Table:
    """theta 0.2, stride 7: every window run on its own; each pair's weight from the window pair_owner names."""
    return _brute_force(tiny[0], 0.2, 7)


def _brute_force(model, theta: float, stride: int) -> pa.Table:
    adapter = load_adapter(model, max_residues=W, device="cpu")
    out = []
    for pid, seq in PROTEINS.items():
        starts = window_starts(len(seq), width=W, stride=stride)
        with torch.inference_mode():
            per_window = [adapter.attentions(adapter.encode([seq[s : s + W]])) for s in starts]
        i, j = (a.ravel() for a in np.meshgrid(np.arange(len(seq)), np.arange(len(seq)), indexing="ij"))
        owner = pair_owner(i, j, starts, width=W)
        for layer in range(adapter.num_layers):
            for h in range(adapter.num_heads):
                for a, b, k in zip(i[owner >= 0], j[owner >= 0], owner[owner >= 0]):
                    w = float(per_window[k][layer][0, h, a - starts[k], b - starts[k]])
                    if w >= theta:
                        out.append(
                            {"protein_id": pid, "layer": layer, "head": h, "i": int(a), "j": int(b), "weight": w}
                        )
    return pa.Table.from_pylist(out, schema=ATTENTION_SCHEMA).sort_by(KEY)


@pytest.mark.parametrize("max_tokens", [1000, 22])  # all windows in one batch / one window per batch
def test_window_run_matches_brute_force(tiny, brute_force, tmp_path, caplog, max_tokens):
    model, table = tiny
    out = tmp_path / "att"
    with caplog.at_level(logging.INFO, logger="plmscope"):
        summary = run_attention(table, out, model=str(model), theta=0.2, max_residues=W, max_tokens=max_tokens,
                                long_sequences="window", window_stride=7, progress=False)  # fmt: skip
    got = read_attention(out).sort_by(KEY)
    want = brute_force
    assert got.num_rows == want.num_rows > 100
    for column in ("protein_id", "layer", "head", "i", "j"):
        assert got[column].equals(want[column]), column
    np.testing.assert_allclose(got["weight"].to_numpy(), want["weight"].to_numpy(), atol=1e-5)
    # counts agree with the rows; no pair farther apart than a window
    counts = np.zeros((2, 2), dtype=np.int64)
    np.add.at(counts, (got["layer"].to_numpy(), got["head"].to_numpy()), 1)
    np.testing.assert_array_equal(read_counts(out), counts)
    assert (np.abs(got["i"].to_numpy() - got["j"].to_numpy()) < W).all()
    long_rows = got.filter(pa.compute.equal(got["protein_id"], "long"))
    assert long_rows["i"].to_numpy().max() > 60  # the tail of the long protein is analysed
    analysed = {r["protein_id"]: r for r in read_analysed(out).to_pylist()}
    long = analysed["long"]
    assert (long["n_residues"], long["truncated"], long["n_windows"]) == (66, False, 8)
    assert (analysed["mid"]["n_residues"], analysed["mid"]["n_windows"]) == (23, 2)
    assert (analysed["exact"]["n_windows"], analysed["short"]["n_windows"]) == (1, 1)
    meta = read_meta(out)
    assert (meta["n_windowed"], meta["n_windows"], meta["n_truncated"], meta["window_stride"]) == (2, 10, 0, 7)
    assert summary["n_rows"] == got.num_rows
    assert "2 of 4 proteins longer than 20 residues run as 10 overlapping windows (stride 7)" in caplog.text


def test_window_output_feeds_the_enrichment(tiny, tmp_path):
    from plmscope.runs.enrichment import run_enrichment

    model, table = tiny
    run_attention(table, tmp_path / "att", model=str(model), theta=0.2, max_residues=W, long_sequences="window",
                  progress=False)  # fmt: skip
    summary = run_enrichment(tmp_path / "att", table, tmp_path / "enr", min_count=1, features=["contact", "helix"])
    assert summary["proteins"] == 4 and summary["attention_rows"] == read_meta(tmp_path / "att")["n_rows"]
    # every residue of the 65-residue protein is analysed, so helix labels are counted on all of them
    import pandas as pd

    bg = pd.read_parquet(tmp_path / "enr" / "backgrounds.parquet").set_index("feature")
    assert bg.loc["helix", "n_eligible"] == sum(len(s) for s in PROTEINS.values())


def test_windowed_nonstandard_residues_are_counted_once(tmp_path):
    """AntiBERTy has no X: X B Z U O become [UNK]; residues in two windows still count once."""
    seq = "MKTAYXAKQRQISFVKUHFSRQLEEBLGLIEVQAPZLSRVGDOTQD"  # 46 residues, 5 non-standard
    adapter = load_adapter("antiberty", max_residues=30, device="cpu")
    stream = iter_attention(adapter, [("n", seq)], max_tokens=10_000, long_sequences="window", window_stride=8,
                            progress=False)  # fmt: skip
    (batch,) = list(stream)
    assert batch.n_nonstandard.sum() > 5  # the windows overlap: per-window counts repeat residues
    (protein,) = batch.finished
    assert (protein.n_nonstandard, protein.n_unknown, protein.n_windows, protein.n_residues) == (5, 5, 3, 46)
    assert (stream.stats.n_nonstandard, stream.stats.n_unknown) == (5, 5)
