"""Contact prediction from attention: APC by hand, P@k ranges, planted and random attention, the run end to end."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from plmscope.analysis.contact_prediction import (
    ProteinPairs,
    apc,
    contact_labels,
    evaluate_protein,
    pair_features,
    precision_at_k,
    range_mask,
    summarise_precision,
    symmetrize,
    train_predictor,
    upper_pairs,
)
from plmscope.data.table import ProteinRecord, write_proteins
from plmscope.errors import PlmscopeError


# ---- pure functions ---------------------------------------------------------------------------
def test_apc_matches_hand_computation():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    # row sums (3, 7), column sums (4, 6), total 10: correction [[1.2, 1.8], [2.8, 4.2]]
    np.testing.assert_allclose(apc(x), [[-0.2, 0.2], [0.2, -0.2]], atol=1e-6)
    y = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 3.0], [2.0, 3.0, 0.0]])
    # rows = cols = (3, 4, 5), total 12: entry (0, 2) = 2 - 3 * 5 / 12
    assert apc(y)[0, 2] == pytest.approx(2 - 15 / 12)
    assert apc(y)[1, 1] == pytest.approx(0 - 16 / 12)
    # batched over leading axes, and an all-zero map is left unchanged
    stacked = np.stack([x, np.zeros((2, 2))])[None]
    np.testing.assert_allclose(apc(stacked)[0, 0], apc(x))
    np.testing.assert_array_equal(apc(stacked)[0, 1], 0.0)


def test_symmetrize_and_shape_errors():
    x = np.arange(9.0).reshape(3, 3)
    np.testing.assert_array_equal(symmetrize(x), x + x.T)
    with pytest.raises(PlmscopeError, match="square"):
        symmetrize(np.zeros((2, 3)))
    with pytest.raises(PlmscopeError, match="square"):
        apc(np.zeros(4))


def test_pair_features_columns_are_layer_major_apc_of_symmetrised_heads():
    rng = np.random.default_rng(0)
    attention = rng.random((2, 3, 10, 10)).astype(np.float32)
    i, j, x = pair_features(attention)
    assert (j - i >= 6).all() and len(i) == 10  # separations 6..9: 4 + 3 + 2 + 1 pairs
    for layer in range(2):
        for head in range(3):
            expected = apc(symmetrize(attention[layer, head].astype(np.float64)))[i, j]
            np.testing.assert_allclose(x[:, layer * 3 + head], expected, rtol=1e-5, atol=1e-6)
    # a list of per-layer arrays gives the same features
    np.testing.assert_array_equal(pair_features(list(attention))[2], x)


def test_contact_labels_use_ca_and_mark_missing_residues():
    ca = np.stack([10.0 * np.arange(12), np.zeros(12), np.zeros(12)], axis=1)
    ca[8] = ca[0] + [0, 5, 0]  # 5 Å from residue 0
    valid = np.ones(12, dtype=bool)
    valid[11] = False
    i, j = upper_pairs(12)
    labels = contact_labels(ca, valid, i, j, cutoff=8.0)
    assert labels[(i == 0) & (j == 8)].tolist() == [1]
    assert (labels[j == 11] == -1).all()
    assert set(labels[(j != 11) & ~((i == 0) & (j == 8))].tolist()) == {0}


def _ladder(length: int, contact_separations: set[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs j - i >= 6; a pair is a contact exactly when its separation is listed."""
    i, j = upper_pairs(length)
    labels = np.isin(j - i, sorted(contact_separations)).astype(np.int8)
    return i, j, labels


def test_precision_at_k_ranges_and_counts():
    # L = 60, contacts at separations 8 (short, 52 pairs), 15 (medium, 45), 30 (long, 30)
    i, j, labels = _ladder(60, {8, 15, 30})
    table = precision_at_k(labels.astype(float), labels, i, j, length=60).set_index(["separation_range", "k"])
    assert table.loc[("short", "L"), "n_top"] == 60 and table.loc[("short", "L/5"), "n_top"] == 12
    assert table.loc[("short", "L"), "precision"] == pytest.approx(52 / 60)
    assert table.loc[("short", "L/2"), "precision"] == 1.0
    assert table.loc[("medium", "L"), "precision"] == pytest.approx(45 / 60)
    assert table.loc[("long", "L"), "precision"] == pytest.approx(30 / 60)
    assert table.loc[("long", "L/2"), "precision"] == 1.0
    assert table.loc[("all", "L"), "precision"] == 1.0
    # candidates per range: short = separations 6..11 of a 60-residue chain
    assert table.loc[("short", "L"), "n_candidates"] == sum(60 - s for s in range(6, 12))
    assert table.loc[("medium", "L"), "n_candidates"] == sum(60 - s for s in range(12, 24))
    assert table.loc[("long", "L"), "n_contacts"] == 30
    assert table.loc[("short", "L"), "base_rate"] == pytest.approx(52 / sum(60 - s for s in range(6, 12)))
    # reversed scores put the non-contacts first in every range
    reverse = precision_at_k(-labels.astype(float), labels, i, j, length=60).set_index(["separation_range", "k"])
    assert (reverse.loc[["short", "medium", "long"], "precision"] == 0).all()


def test_precision_at_k_unknown_pairs_and_short_proteins():
    i, j, labels = _ladder(60, {30})
    labels = labels.copy()
    labels[i == 0] = -1  # residue 0 has no coordinates
    table = precision_at_k(labels.astype(float), labels, i, j, length=60).set_index(["separation_range", "k"])
    assert table.loc[("long", "L"), "n_contacts"] == 29
    assert table.loc[("long", "L"), "n_candidates"] == sum(60 - s for s in range(24, 60)) - 36
    # 10 residues: 10 pairs j - i >= 6, all short; long and medium have no candidate
    i, j, labels = _ladder(10, {6})
    table = precision_at_k(labels.astype(float), labels, i, j, length=10).set_index(["separation_range", "k"])
    assert table.loc[("short", "L"), "n_top"] == 10 and table.loc[("short", "L"), "precision"] == pytest.approx(0.4)
    assert table.loc[("short", "L/5"), "n_top"] == 2 and table.loc[("short", "L/5"), "precision"] == 1.0
    assert table.loc[("long", "L"), "n_top"] == 0 and np.isnan(table.loc[("long", "L"), "precision"])
    assert range_mask(np.array([0, 0, 0]), np.array([11, 12, 24]), "medium").tolist() == [False, True, False]


# ---- planted and random attention ---------------------------------------------------------------
LAYERS, HEADS, PLANTED = 2, 3, (1, 2)


def _protein(pid: str, rng: np.random.Generator, *, planted: bool, density: float = 0.25) -> ProteinPairs:
    """Random symmetric contact map; one head equals it when ``planted``, every other head is noise."""
    length = int(rng.integers(50, 80))
    upper = np.triu(rng.random((length, length)) < density, k=6)
    contacts = (upper | upper.T).astype(np.float32)
    attention = rng.random((LAYERS, HEADS, length, length)).astype(np.float32)
    if planted:
        attention[PLANTED] = contacts
    i, j, features = pair_features(attention)
    return ProteinPairs(pid, length, i, j, features, contacts[i, j].astype(np.int8))


def test_planted_head_gives_perfect_precision_for_regression_and_best_head():
    rng = np.random.default_rng(1)
    train = [_protein(f"train{k}", rng, planted=True) for k in range(4)]
    test = [_protein(f"test{k}", rng, planted=True) for k in range(4)]
    predictor = train_predictor(train, C=0.15, seed=0)
    assert predictor.best_head == PLANTED[0] * HEADS + PLANTED[1]
    assert predictor.head_precision[predictor.best_head] == 1.0
    per_protein = pd.concat([evaluate_protein(predictor, p) for p in test], ignore_index=True)
    summary = summarise_precision(per_protein).set_index(["method", "separation_range", "k"])
    for method in ("regression", "best_head"):
        for range_name in ("short", "medium", "long", "all"):
            for k in ("L", "L/2", "L/5"):
                assert summary.loc[(method, range_name, k), "precision"] == 1.0, (method, range_name, k)
                assert summary.loc[(method, range_name, k), "n_proteins"] == 4
    # the random baseline reports the base rate, well below 1
    assert summary.loc[("random", "all", "L"), "precision"] == pytest.approx(0.25, abs=0.05)


def test_random_attention_scores_near_the_contact_base_rate():
    rng = np.random.default_rng(2)
    train = [_protein(f"train{k}", rng, planted=False, density=0.1) for k in range(5)]
    test = [_protein(f"test{k}", rng, planted=False, density=0.1) for k in range(25)]
    predictor = train_predictor(train, C=0.15, seed=0)
    per_protein = pd.concat([evaluate_protein(predictor, p) for p in test], ignore_index=True)
    summary = summarise_precision(per_protein).set_index(["method", "separation_range", "k"])
    for method in ("regression", "best_head"):
        for range_name in ("short", "medium", "long", "all"):
            base = summary.loc[("random", range_name, "L"), "precision"]
            assert base == pytest.approx(0.1, abs=0.02)
            assert summary.loc[(method, range_name, "L"), "precision"] == pytest.approx(base, abs=0.04)


def test_training_without_contacts_is_an_error():
    rng = np.random.default_rng(3)
    empty = [_protein("p", rng, planted=False, density=0.0)]
    with pytest.raises(PlmscopeError, match="no contact"):
        train_predictor(empty)


def test_contact_map_draws_the_pairs_that_precision_at_k_scores():
    from plmscope.viz.contact_plots import plot_contact_map, plot_precision_by_range

    i, j, labels = _ladder(40, {8, 20})
    scores = np.random.default_rng(4).random(len(i)) + 0.8 * labels
    fig, tops = plot_contact_map(40, i, j, labels, {"a": scores, "b": -labels.astype(float)})
    top_i, top_j, correct = tops["a"]
    assert len(top_i) == 40 and (top_j - top_i >= 6).all()
    expected = precision_at_k(scores, labels, i, j, length=40, ranges=["all"], ks=["L"])["precision"].item()
    assert correct.mean() == pytest.approx(expected)
    assert not tops["b"][2].any()  # non-contacts ranked first
    with pytest.raises(PlmscopeError, match="one or two methods"):
        plot_contact_map(40, i, j, labels, {})
    with pytest.raises(PlmscopeError, match="lacks columns"):
        plot_precision_by_range(pd.DataFrame({"method": ["x"]}))


# ---- the run on a tiny model ------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from plmscope.models.tiny import save_tiny_model

    root = tmp_path_factory.mktemp("contacts")
    model = save_tiny_model("bert", root / "bert", layers=2, heads=2, max_positions=64)
    rng = np.random.default_rng(0)
    records = []
    for k in range(5):
        n = int(rng.integers(30, 50))
        ca = rng.uniform(0, 18, size=(n, 3)).astype(np.float32)  # a dense blob: contacts at every range
        seq = "".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), size=n))
        records.append(ProteinRecord(f"P{k}", seq, ca=ca))
    records.append(ProteinRecord("NOSTRUCT", "MKTAYIAKQRQISFVKSHFSRQ"))
    table = root / "proteins.parquet"
    write_proteins(records, table)
    return model, table, root


def test_run_contacts_writes_tables_and_figures(tiny_run, tmp_path):
    from plmscope.runs.contacts import run_contacts

    model, table, _ = tiny_run
    out = tmp_path / "contacts"
    summary = run_contacts(table, out, model=str(model), train_proteins=2, seed=0, n_maps=2, max_residues=60,
                           device="cpu", progress=False)  # fmt: skip
    assert summary["train_proteins"] == 2 and summary["test_proteins"] == 3
    meta = json.loads((out / "meta.json").read_text())
    assert len(meta["train_ids"]) == 2 and "NOSTRUCT" not in meta["train_ids"] + meta["test_ids"]
    assert "CA" in meta["contact_definition"]
    result = pd.read_parquet(out / "contact_prediction.parquet")
    assert list(result.columns[:4]) == ["method", "separation_range", "k", "precision"]
    assert set(result["method"]) == {"regression", "best_head", "random"}
    assert (result["n_proteins"] == 3).all() and result["precision"].between(0, 1).all()
    assert result["contact_definition"].str.startswith("CA-CA < 8 Å").all()
    per_protein = pd.read_csv(out / "per_protein.csv")
    assert len(per_protein) == 3 * 3 * 4 * 3  # proteins x methods x ranges x k
    assert set(per_protein["protein_id"]) == set(meta["test_ids"])
    # the summary is the mean of the per-protein table
    again = summarise_precision(per_protein)
    np.testing.assert_allclose(again["precision"].to_numpy(), result["precision"].to_numpy())
    selection = pd.read_parquet(out / "head_selection.parquet")
    assert len(selection) == 4 and selection["best"].sum() == 1
    assert selection.loc[selection["best"], "label"].item() == summary["best_head"]
    for name in ["precision_by_range", *(f"contact_map_{pid}" for pid in meta["test_ids"][:2])]:
        for fmt in ("png", "svg"):
            assert (out / f"{name}.{fmt}").stat().st_size > 0


def test_run_contacts_needs_a_test_protein_and_leaves_nothing(tiny_run, tmp_path):
    from plmscope.runs.contacts import run_contacts

    model, table, _ = tiny_run
    with pytest.raises(PlmscopeError, match="5 protein.*need train_proteins \\(5\\)"):
        run_contacts(table, tmp_path / "out", model=str(model), train_proteins=5, max_residues=60, device="cpu",
                     progress=False)  # fmt: skip
    with pytest.raises(PlmscopeError, match="select_range"):
        run_contacts(table, tmp_path / "out", model=str(model), select_range="far", device="cpu")
    assert list(tmp_path.iterdir()) == []


def _straight(pid: str, n: int) -> ProteinRecord:
    """A straight chain, CA 3.8 Å apart: residues |i - j| >= 6 are >= 22.8 Å apart, so it has no contact."""
    ca = np.zeros((n, 3), dtype=np.float32)
    ca[:, 0] = 3.8 * np.arange(n)
    return ProteinRecord(pid, "ACDEFGHIKLMNPQRSTVWY"[:n], ca=ca)


def test_training_proteins_without_contacts_are_one_line_naming_table_and_counts(tiny_run, tmp_path, capsys):
    """Short straight chains hold no contact at |i - j| >= 6: refused before the model runs, naming what is missing."""
    from plmscope.cli import main

    model, _, _ = tiny_run
    table = tmp_path / "straight.parquet"
    write_proteins([_straight(f"S{k}", 12 + k) for k in range(4)], table)
    out = tmp_path / "out"
    assert main(["contacts", "--proteins", str(table), "--model", str(model), "-o", str(out), "--train-proteins", "2",
                 "--max-residues", "60", "--device", "cpu"]) == 1  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(table) in err[0], err
    # the two training proteins (lengths 12..15) hold between 2 * 21 and 45 + 55 labelled pairs, none a contact
    pairs = int(re.search(r"hold (\d+) labelled pair", err[0]).group(1))
    assert 42 <= pairs <= 100 and "0 of them contacts" in err[0]
    assert "the 2 training protein(s)" in err[0] and "none of the 4 usable protein(s) has one" in err[0]
    assert not out.exists()


def test_an_unlucky_split_names_the_proteins_that_do_have_contacts(tiny_run, tmp_path):
    """One blob with contacts among straight chains: the error says how many usable proteins have a contact."""
    from plmscope.analysis.contact_prediction import split_train_test
    from plmscope.runs.contacts import run_contacts

    model, _, _ = tiny_run
    rng = np.random.default_rng(1)
    blob = ProteinRecord("BLOB", "ACDEFGHIKLMNPQRSTVWY", ca=rng.uniform(0, 10, size=(20, 3)).astype(np.float32))
    records = [_straight(f"S{k}", 14) for k in range(4)] + [blob]
    seed = next(s for s in range(50) if "BLOB" not in [r.id for r in split_train_test(records, 2, seed=s)[0]])
    table = tmp_path / "mixed.parquet"
    write_proteins(records, table)
    with pytest.raises(PlmscopeError, match=r"0 of them contacts .*1 of the 5 usable protein\(s\) have a contact"):
        run_contacts(table, tmp_path / "out", model=str(model), train_proteins=2, seed=seed, max_residues=60,
                     device="cpu", progress=False)  # fmt: skip
    assert not (tmp_path / "out").exists()


def test_label_counts_count_the_pairs_the_regression_trains_on():
    from plmscope.analysis.contact_prediction import label_counts

    ca = np.zeros((10, 3), dtype=np.float32)
    ca[:, 0] = 3.8 * np.arange(10)
    ca[9] = [-3.0, 5.0, 0.0]  # residue 10 folds back next to residue 1 only (5.8 Å; residue 2 is 8.4 Å away)
    valid = np.ones(10, dtype=bool)
    assert label_counts(ca, valid, length=10) == (10, 1)  # pairs j - i >= 6 of 10 residues: 4 + 3 + 2 + 1
    assert label_counts(ca, valid, length=9) == (6, 0)  # the analysed prefix drops the contact
    valid[0] = False
    assert label_counts(ca, valid, length=10) == (6, 0)
