"""Attention enrichment on a planted attention dataset with answers known by construction."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from plmscope.analysis.enrichment import EnrichmentCounts, enrichment, summarise, top_heads
from plmscope.analysis.features import FEATURES, backgrounds, feature_arrays
from plmscope.data.table import ProteinRecord, write_proteins
from plmscope.errors import PlmscopeError
from plmscope.runs.enrichment import run_enrichment
from plmscope.schemas import from_disk

MIN_COUNT = 5


def _line(n: int) -> np.ndarray:
    """CA atoms 10 Å apart on the x axis: no two residues in contact."""
    return np.stack([10.0 * np.arange(n), np.zeros(n), np.zeros(n)], axis=1)


def _records() -> list[ProteinRecord]:
    # P1: contacts (0, 8) and (1, 9) (both directions); residues 2 and 3 are 2 Å apart but |i-j| = 1;
    # residue 5 has no coordinates.
    ca1 = _line(12)
    ca1[8] = ca1[0] + [0, 5, 0]
    ca1[9] = ca1[1] + [0, 5, 0]
    ca1[3] = ca1[2] + [0, 2, 0]
    ca1[5] = np.nan
    # P3: 15 residues of which 9 are analysed; contact (0, 7) inside, (2, 13) beyond the prefix.
    ca3 = _line(15)
    ca3[7] = ca3[0] + [0, 5, 0]
    ca3[13] = ca3[2] + [0, 5, 0]
    return [
        ProteinRecord("P1", "ACDEFGHIKLMN", ca=ca1, ss8="HHHGEEBTS--I", sites=[2, 8], ptms=None),
        ProteinRecord("P2", "KKKKKAAAAA", sites=[0], ptms=[1, 3]),
        ProteinRecord("P3", "MKTAYIAKQRQISFV", ca=ca3, ss8="--HHHHEETTSSGGB", sites=[1, 12], ptms=None),
        ProteinRecord("UNUSED", "WWWW"),
    ]


ANALYSED = {"P1": 12, "P2": 10, "P3": 9}

ROWS = {
    # head (0, 0): every eligible pair is a contact; (5, 0), (0, 5) touch the missing residue and
    # P2 has no structure, so those three rows are excluded from the contact feature.
    (0, 0): [("P1", 0, 8), ("P1", 8, 0), ("P1", 1, 9), ("P1", 9, 1), ("P3", 0, 7), ("P3", 7, 0),
             ("P1", 5, 0), ("P1", 0, 5), ("P2", 0, 6)],
    # head (0, 1): no contacts (2 -> 3 is close in space but adjacent in sequence).
    (0, 1): [("P1", 0, 1), ("P1", 2, 3), ("P1", 4, 10), ("P1", 6, 7), ("P1", 10, 11), ("P1", 11, 0),
             ("P3", 1, 2), ("P3", 2, 8), ("P1", 5, 5)],
    # head (1, 0): fewer than MIN_COUNT rows -> masked.
    (1, 0): [("P1", 0, 8), ("P1", 1, 9), ("P1", 2, 2)],
    # head (1, 1): 3 contacts among 8 eligible pairs.
    (1, 1): [("P1", 0, 8), ("P1", 8, 0), ("P1", 3, 4), ("P1", 4, 3), ("P3", 0, 7), ("P3", 3, 4),
             ("P3", 4, 5), ("P3", 8, 8), ("P2", 2, 3)],
}  # fmt: skip


def _row_table(rows: list[tuple], *, dictionary: bool = False) -> pa.Table:
    pid = pa.array([r[0] for r in rows], type=pa.string())
    if dictionary:
        pid = pid.dictionary_encode()
    return pa.table(
        {
            "protein_id": pid,
            "layer": pa.array([r[1] for r in rows], type=pa.int16()),
            "head": pa.array([r[2] for r in rows], type=pa.int16()),
            "i": pa.array([r[3] for r in rows], type=pa.int32()),
            "j": pa.array([r[4] for r in rows], type=pa.int32()),
            "weight": pa.array(np.linspace(0.2, 0.9, len(rows)), type=pa.float32()),
        }
    )


def _flat_rows(rows: dict = ROWS) -> list[tuple]:
    return [(pid, layer, head, i, j) for (layer, head), pairs in rows.items() for pid, i, j in pairs]


def _write_dataset(root: Path, rows: list[tuple], *, analysed: dict = ANALYSED, dictionary: bool = False) -> Path:
    (root / "attention").mkdir(parents=True)
    half = len(rows) // 2
    for k, chunk in enumerate((rows[:half], rows[half:])):
        pq.write_table(_row_table(chunk, dictionary=dictionary), root / "attention" / f"part-{k:05d}.parquet")
    lengths = {r.id: len(r.sequence) for r in _records()}
    pq.write_table(
        pa.table(
            {
                "protein_id": list(analysed),
                "n_residues": pa.array(list(analysed.values()), type=pa.int32()),
                "n_residues_original": pa.array([lengths.get(p, analysed[p]) for p in analysed], type=pa.int32()),
                "truncated": [analysed[p] < lengths.get(p, analysed[p]) for p in analysed],
            }
        ),
        root / "proteins.parquet",
    )
    keys, n = np.unique([(r[1], r[2]) for r in rows], axis=0, return_counts=True)
    pq.write_table(
        pa.table({"layer": keys[:, 0].astype(np.int16), "head": keys[:, 1].astype(np.int16), "n_thresholded": n}),
        root / "counts.parquet",
    )
    (root / "meta.json").write_text(json.dumps({"model": "toy", "num_layers": 2, "num_heads": 2, "theta": 0.1}))
    return root


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    proteins = tmp_path / "proteins.parquet"
    write_proteins(_records(), proteins)
    return _write_dataset(tmp_path / "attn", _flat_rows()), proteins


@pytest.fixture
def result(inputs, tmp_path: Path) -> tuple[dict, Path]:
    attn, proteins = inputs
    out = tmp_path / "enrichment"
    summary = run_enrichment(attn, proteins, out, min_count=MIN_COUNT, top_k=2)
    return summary, out


def _read(path: Path) -> pd.DataFrame:
    """A written enrichment table with layer and head back to 0-based, as the library holds them."""
    return from_disk(path.stem, pd.read_parquet(path))


def _row(table: pd.DataFrame, feature: str, layer: int, head: int) -> pd.Series:
    sel = table[(table["feature"] == feature) & (table["layer"] == layer) & (table["head"] == head)]
    assert len(sel) == 1
    return sel.iloc[0]


# --- an independent, row-by-row reference (slow loops are fine for a dozen rows) -------------


def _reference_value(rec: ProteinRecord, feature: str, i: int, j: int) -> bool | None:
    """f(i, j), or None when the pair is not eligible for the feature."""
    if feature == "contact":
        if rec.ca is None or not (rec.valid[i] and rec.valid[j]):
            return None
        return bool(np.linalg.norm(rec.ca[i] - rec.ca[j]) < 8.0 and abs(i - j) >= 6)
    if feature == "binding_site":
        return None if rec.sites is None else j in rec.sites
    if feature == "ptm":
        return None if rec.ptms is None else j in rec.ptms
    groups = {"helix": "HGI", "strand": "EB", "turn_bend": "TS"}
    if feature in groups:
        return None if rec.ss8 is None else rec.ss8[j] in groups[feature]
    return rec.sequence[j] == feature[-1]


def _reference_counts(feature: str, layer: int, head: int) -> tuple[int, int]:
    by_id = {r.id: r for r in _records()}
    values = [_reference_value(by_id[p], feature, i, j) for p, i, j in ROWS.get((layer, head), [])]
    values = [v for v in values if v is not None]
    return len(values), sum(values)


def _reference_background(feature: str) -> tuple[int, int]:
    eligible = hits = 0
    for rec in _records():
        if rec.id not in ANALYSED:
            continue
        n = ANALYSED[rec.id]
        pairs = [(i, j) for i in range(n) for j in range(n)] if feature == "contact" else [(0, j) for j in range(n)]
        values = [_reference_value(rec, feature, i, j) for i, j in pairs]
        values = [v for v in values if v is not None]
        eligible += len(values)
        hits += sum(values)
    return eligible, hits


# --- tests ------------------------------------------------------------------------------------


def test_planted_contact_heads(result):
    _, out = result
    table = _read(out / "enrichment.parquet")
    head00 = _row(table, "contact", 0, 0)
    assert (head00["n_attention"], head00["n_feature"], head00["proportion"]) == (6, 6, 1.0)
    head01 = _row(table, "contact", 0, 1)
    assert (head01["n_attention"], head01["n_feature"], head01["proportion"]) == (8, 0, 0.0)
    head11 = _row(table, "contact", 1, 1)
    assert (head11["n_attention"], head11["n_feature"]) == (8, 3)
    assert head11["proportion"] == pytest.approx(3 / 8)
    masked = _row(table, "contact", 1, 0)
    assert masked["masked"] and masked["n_attention"] == 3 and pd.isna(masked["rank"])
    for column in ("proportion", "ci_low", "ci_high", "enrichment", "z", "p_value", "p_adjusted"):
        assert np.isnan(masked[column]), column
    assert [_row(table, "contact", l, h)["label"] for l, h in [(0, 0), (0, 1), (1, 0), (1, 1)]] == [
        "1-1", "1-2", "2-1", "2-2",
    ]  # fmt: skip


def test_backgrounds_known_by_hand(result):
    summary, out = result
    bg = pd.read_parquet(out / "backgrounds.parquet").set_index("feature")
    # contacts: P1 has 11 residues with coordinates (121 ordered pairs, 4 contact pairs), P3's 9
    # analysed residues give 81 pairs and 2 contact pairs (its contact 2-13 lies beyond the prefix).
    assert (bg.at["contact", "n_eligible"], bg.at["contact", "n_feature"]) == (202, 6)
    # sites: P1 {2, 8} of 12, P2 {0} of 10, P3 {1} of 9 analysed (site 12 is cut off).
    assert (bg.at["binding_site", "n_eligible"], bg.at["binding_site", "n_feature"]) == (31, 4)
    assert (bg.at["ptm", "n_eligible"], bg.at["ptm", "n_feature"]) == (10, 2)  # only P2 is annotated
    # helix letters H, G, I: P1 "HHHG" + "I" = 5, P3 prefix "--HHHHEET" = 4; 21 residues with ss8.
    assert (bg.at["helix", "n_eligible"], bg.at["helix", "n_feature"]) == (21, 9)
    assert (bg.at["aa_K", "n_eligible"], bg.at["aa_K", "n_feature"]) == (31, 1 + 5 + 2)
    assert summary["best_head"]["contact"] == f"1-1 (1.000 vs {6 / 202:.3f})"
    for feature in FEATURES:
        assert (bg.at[feature, "n_eligible"], bg.at[feature, "n_feature"]) == _reference_background(feature)


def test_every_feature_and_head_matches_reference(result):
    _, out = result
    table = _read(out / "enrichment.parquet")
    assert len(table) == len(FEATURES) * 4
    for feature in FEATURES:
        for layer in range(2):
            for head in range(2):
                row = _row(table, feature, layer, head)
                assert (row["n_attention"], row["n_feature"]) == _reference_counts(feature, layer, head), (
                    feature, layer, head,
                )  # fmt: skip


def test_statistics_columns(result):
    _, out = result
    table = _read(out / "enrichment.parquet")
    tested = table[~table["masked"]]
    assert (tested["ci_low"] <= tested["proportion"] + 1e-12).all()
    assert (tested["proportion"] <= tested["ci_high"] + 1e-12).all()
    finite_bg = tested[tested["background"] > 0]
    assert np.allclose(finite_bg["enrichment"], finite_bg["proportion"] / finite_bg["background"])
    assert np.allclose(tested["p_adjusted"], np.minimum(1.0, tested["p_value"] * tested["n_tests"]))
    contact = table[table["feature"] == "contact"]
    assert (contact["n_tests"] == 3).all()
    assert _row(table, "contact", 0, 0)["z"] > 0  # above the 3 % background
    assert _row(table, "contact", 0, 1)["z"] < 0
    assert _row(table, "contact", 0, 0)["p_value"] < 0.05


def test_ranks_and_top_heads(result):
    _, out = result
    table = _read(out / "enrichment.parquet")
    contact = table[table["feature"] == "contact"].set_index("label")
    assert contact.loc[["1-1", "2-2", "1-2"], "rank"].tolist() == [1, 2, 3]
    top = _read(out / "top_heads.parquet")
    assert top[top["feature"] == "contact"]["label"].tolist() == ["1-1", "2-2"]  # top_k=2
    assert not top["masked"].any()
    assert list(pd.unique(top["feature"])) == [f for f in FEATURES if f in set(top["feature"])]
    assert (out / "enrichment.csv").stat().st_size > 0 and (out / "top_heads.csv").is_file()
    assert json.loads((out / "meta.json").read_text())["min_count"] == MIN_COUNT


def test_batches_and_dictionary_ids_give_same_table(inputs, tmp_path, result):
    attn, proteins = inputs
    _, out = result
    dict_attn = _write_dataset(tmp_path / "attn_dict", _flat_rows(), dictionary=True)
    out2 = tmp_path / "enrichment2"
    run_enrichment(dict_attn, proteins, out2, min_count=MIN_COUNT, top_k=2, batch_size=2)
    expected, got = (_read(d / "enrichment.parquet") for d in (out, out2))
    pd.testing.assert_frame_equal(expected, got)


def test_feature_selection(inputs, tmp_path):
    attn, proteins = inputs
    run_enrichment(attn, proteins, tmp_path / "sel", min_count=MIN_COUNT, features=["ptm", "contact"])
    table = _read(tmp_path / "sel" / "enrichment.parquet")
    assert list(pd.unique(table["feature"])) == ["ptm", "contact"]
    with pytest.raises(PlmscopeError, match="unknown feature"):
        run_enrichment(attn, proteins, tmp_path / "bad", features=["charge"])


def test_truncated_protein_rows_beyond_prefix_rejected(inputs, tmp_path):
    _, proteins = inputs
    attn = _write_dataset(tmp_path / "attn_bad", _flat_rows() + [("P3", 1, 1, 2, 13)])
    with pytest.raises(PlmscopeError) as err:
        run_enrichment(attn, proteins, tmp_path / "o")
    message = str(err.value)
    assert "part-00001.parquet" in message and "'P3'" in message and "\n" not in message
    assert not (tmp_path / "o").exists()


def test_unknown_protein_id_in_attention(inputs, tmp_path):
    _, proteins = inputs
    attn = _write_dataset(tmp_path / "attn_bad", [("GHOST", 0, 0, 0, 1)] + _flat_rows())
    with pytest.raises(PlmscopeError, match=r"part-00000\.parquet.*'GHOST'"):
        run_enrichment(attn, proteins, tmp_path / "o")


def test_analysed_protein_missing_from_table(inputs, tmp_path):
    _, proteins = inputs
    attn = _write_dataset(tmp_path / "attn_bad", _flat_rows(), analysed={**ANALYSED, "P9": 4})
    with pytest.raises(PlmscopeError) as err:
        run_enrichment(attn, proteins, tmp_path / "o")
    assert str(err.value).startswith(str(proteins)) and "'P9'" in str(err.value)


@pytest.mark.parametrize("missing", ["meta.json", "proteins.parquet"])
def test_missing_inputs(inputs, tmp_path, missing):
    attn, proteins = inputs
    (attn / missing).unlink()
    with pytest.raises(PlmscopeError, match=missing.replace(".", r"\.") + ": file not found"):
        run_enrichment(attn, proteins, tmp_path / "o")


def test_missing_protein_table_and_bad_options(inputs, tmp_path):
    attn, _ = inputs
    with pytest.raises(PlmscopeError, match="nope.parquet: file not found"):
        run_enrichment(attn, tmp_path / "nope.parquet", tmp_path / "o")
    _, proteins = inputs
    for kwargs, name in [({"min_count": 0}, "min_count"), ({"alpha": 1.5}, "alpha"), ({"top_k": 0}, "top_k"),
                         ({"contact_min_separation": 0}, "contact_min_separation"),
                         ({"contact_cutoff": -1.0}, "contact_cutoff")]:  # fmt: skip
        with pytest.raises(PlmscopeError, match=rf"^{name}\b"):
            run_enrichment(attn, proteins, tmp_path / "o", **kwargs)


def test_attention_part_without_columns(inputs, tmp_path):
    attn, proteins = inputs
    broken = pa.table({"protein_id": ["P1"], "layer": pa.array([0], pa.int16())})
    pq.write_table(broken, attn / "attention" / "part-00009.parquet")
    expected = r"part-00009\.parquet: attention part lacks column\(s\) \['head', 'i', 'j'\]"
    with pytest.raises(PlmscopeError, match=expected):
        run_enrichment(attn, proteins, tmp_path / "o")


def test_counts_mismatch_is_logged(inputs, tmp_path, caplog):
    attn, proteins = inputs
    pq.write_table(pa.table({"layer": pa.array([0], pa.int16()), "head": pa.array([0], pa.int16()),
                             "n_thresholded": [1]}), attn / "counts.parquet")  # fmt: skip
    with caplog.at_level("INFO"):
        run_enrichment(attn, proteins, tmp_path / "o", min_count=MIN_COUNT)
    assert "counts.parquet: thresholded counts differ" in caplog.text
    assert "background of contact: 6 / 202" in caplog.text


def test_pure_functions_without_files():
    arrays = feature_arrays(_records(), ANALYSED)
    counts = enrichment(
        [_row_table(_flat_rows({k: v}), dictionary=False) for k, v in ROWS.items()],
        arrays, num_layers=2, num_heads=2, features=["contact"],
    )  # fmt: skip
    assert counts.n_attention[0].tolist() == [[6, 8], [3, 8]]
    assert counts.n_feature[0].tolist() == [[6, 0], [2, 3]]
    assert counts.n_rows.tolist() == [[9, 9], [3, 9]]
    with pytest.raises(PlmscopeError, match="layer 2 outside 0..1"):
        enrichment([_row_table([("P1", 2, 0, 0, 1)])], arrays, num_layers=2, num_heads=2)
    table = summarise(counts, backgrounds(arrays, features=["contact"]), min_count=1)
    assert not table["masked"].any() and table["n_tests"].iloc[0] == 4


def _synthetic_counts(n_att: np.ndarray, n_feat: np.ndarray) -> EnrichmentCounts:
    return EnrichmentCounts(features=("contact",), n_attention=n_att[None], n_feature=n_feat[None], n_rows=n_att)


def test_top_k_order_ties_and_masking():
    n_att = np.array([[1000, 1000, 1000], [1000, 50, 1000]])
    n_feat = np.array([[100, 500, 900], [500, 50, 10]])
    bg = pd.DataFrame({"feature": ["contact"], "n_eligible": [10_000], "n_feature": [300], "background": [0.03]})
    table = summarise(_synthetic_counts(n_att, n_feat), bg, min_count=100)
    top = top_heads(table, top_k=3)
    # proportions: 1-1 .1, 1-2 .5, 1-3 .9, 2-1 .5 (tie with 1-2, broken by layer), 2-2 masked, 2-3 .01
    assert top["label"].tolist() == ["1-3", "1-2", "2-1"]
    assert top_heads(table, top_k=10)["label"].tolist() == ["1-3", "1-2", "2-1", "1-1", "2-3"]
    assert table.loc[table["label"] == "2-2", "masked"].item()
    assert (table["n_tests"] == 5).all()
    z = table.set_index("label")["z"]
    assert z["1-3"] > 0 and z["2-3"] < 0


def test_bonferroni_widens_with_more_heads():
    bg = pd.DataFrame({"feature": ["contact"], "n_eligible": [10_000], "n_feature": [300], "background": [0.03]})
    widths = []
    for heads in (1, 4, 16):
        n_att = np.full((1, heads), 400)
        table = summarise(_synthetic_counts(n_att, np.full((1, heads), 100)), bg, min_count=100)
        first = table.iloc[0]
        assert first["ci_low"] < 0.25 < first["ci_high"]
        widths.append(first["ci_high"] - first["ci_low"])
    assert widths[0] < widths[1] < widths[2]


def test_degenerate_counts_do_not_warn():
    bg = pd.DataFrame({"feature": ["contact"], "n_eligible": [0], "n_feature": [0], "background": [np.nan]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = summarise(_synthetic_counts(np.array([[200, 0]]), np.array([[0, 0]])), bg, min_count=100)
        zero_bg = bg.assign(n_eligible=[1000], background=[0.0])
        table2 = summarise(_synthetic_counts(np.array([[200, 0]]), np.array([[0, 0]])), zero_bg, min_count=100)
    assert table["masked"].tolist() == [False, True]
    assert np.isnan(table["z"]).all() and np.isnan(table["enrichment"]).all()
    assert table2["z"].iloc[0] == 0.0 and table2["p_value"].iloc[0] == 1.0
    assert table2["proportion"].iloc[0] == 0.0 and np.isnan(table2["enrichment"].iloc[0])


def test_no_attention_rows_masks_every_head(inputs, tmp_path):
    attn, proteins = inputs
    for part in (attn / "attention").iterdir():
        part.unlink()
    (attn / "counts.parquet").unlink()
    summary = run_enrichment(attn, proteins, tmp_path / "o", min_count=MIN_COUNT)
    table = _read(tmp_path / "o" / "enrichment.parquet")
    assert summary["attention_rows"] == 0 and summary["best_head"] == {}
    assert table["masked"].all() and (table["n_attention"] == 0).all()
    assert _read(tmp_path / "o" / "top_heads.parquet").empty


def test_malformed_attention_metadata(inputs, tmp_path):
    attn, proteins = inputs
    (attn / "meta.json").write_text(json.dumps({"num_layers": 2, "num_heads": "two"}))
    with pytest.raises(PlmscopeError, match=r"meta\.json: num_heads must be a positive integer, got 'two'"):
        run_enrichment(attn, proteins, tmp_path / "o")
    (attn / "meta.json").write_text(json.dumps({"num_layers": 2, "num_heads": 2}))
    pq.write_table(pa.table({"protein_id": ["P1"]}), attn / "proteins.parquet")
    with pytest.raises(PlmscopeError, match=r"proteins\.parquet: lacks column\(s\) \['n_residues'\]"):
        run_enrichment(attn, proteins, tmp_path / "o")


def test_real_proteinnet_structures(shared_data, tmp_path):
    """Real chains (with unresolved residues): a head planted on true contacts scores exactly 1."""
    from plmscope.data.contacts import contact_pairs
    from plmscope.data.proteinnet import read_proteinnet

    records = read_proteinnet(shared_data / "proteinnet" / "proteinnetpy_test_10records.txt")
    proteins = tmp_path / "proteins.parquet"
    write_proteins(records, proteins)
    analysed = {r.id: min(len(r.sequence), 150) for r in records}
    rng = np.random.default_rng(7)
    rows, dense_eligible, dense_contacts, n_missing = [], 0, 0, 0
    for rec in records:
        n = analysed[rec.id]
        ci, cj = contact_pairs(rec.ca[:n], rec.valid[:n])
        rows += [(rec.id, 0, 0, int(a), int(b)) for a, b in zip(ci, cj)]
        pairs = rng.integers(0, n, size=(200, 2))  # random pairs for head (0, 1), all rows kept
        rows += [(rec.id, 0, 1, int(a), int(b)) for a, b in pairs]
        # dense reference on the analysed prefix
        ca, valid = rec.ca[:n].astype(float), rec.valid[:n]
        dist = np.linalg.norm(ca[:, None] - ca[None], axis=-1)
        sep = np.abs(np.arange(n)[:, None] - np.arange(n)[None])
        both = valid[:, None] & valid[None]
        dense_eligible += int(both.sum())
        dense_contacts += int((both & (dist < 8.0) & (sep >= 6)).sum())
        n_missing += int((~valid).sum())
    assert n_missing > 0  # the fixture does exercise unresolved residues
    attn = tmp_path / "attn"
    (attn / "attention").mkdir(parents=True)
    pq.write_table(_row_table(rows), attn / "attention" / "part-00000.parquet")
    pq.write_table(pa.table({"protein_id": list(analysed), "n_residues": list(analysed.values())}),
                   attn / "proteins.parquet")  # fmt: skip
    (attn / "meta.json").write_text(json.dumps({"model": "planted", "num_layers": 1, "num_heads": 2}))
    run_enrichment(attn, proteins, tmp_path / "out", features=["contact"])
    table = _read(tmp_path / "out" / "enrichment.parquet").set_index("label")
    bg = pd.read_parquet(tmp_path / "out" / "backgrounds.parquet").iloc[0]
    assert (bg["n_eligible"], bg["n_feature"]) == (dense_eligible, dense_contacts)
    assert table.at["1-1", "proportion"] == 1.0 and table.at["1-1", "n_attention"] == dense_contacts
    random_head = table.loc["1-2"]
    assert random_head["n_attention"] < 200 * len(records)  # pairs touching unresolved residues left out
    assert random_head["ci_low"] < bg["background"] < random_head["ci_high"]  # uniform attention ~ background


def test_background_from_another_protein_table(inputs, tmp_path):
    """The paper takes backgrounds from the full train split; here a table holding only P2."""
    from plmscope.data.table import write_proteins

    attn, proteins = inputs
    only_p2 = [r for r in _records() if r.id == "P2"]
    background_table = tmp_path / "background.parquet"
    write_proteins(only_p2, background_table)
    out = tmp_path / "enrichment_bg"
    run_enrichment(attn, proteins, out, min_count=MIN_COUNT, background_proteins=background_table)
    bg = pd.read_parquet(out / "backgrounds.parquet").set_index("feature")
    p2 = only_p2[0]
    assert (bg.at["binding_site", "n_eligible"], bg.at["binding_site", "n_feature"]) == (
        len(p2.sequence), len(p2.sites),
    )  # fmt: skip
    head = _row(_read(out / "enrichment.parquet"), "binding_site", 0, 0)
    assert head["background"] == pytest.approx(len(p2.sites) / len(p2.sequence))
