"""provis semantics against a literal, per-pair re-implementation of the authors' loops (issue #11).

The reference functions below are written from the definitions of salesforce/provis
(``attention_analysis/compute_edge_features.py``, ``features.py``, ``background.py``,
``report_top_heads.py``, ``report_edge_features_combined.py``) and TAPE's ``ProteinnetDataset``
contact map, one residue pair at a time in plain Python; the vectorised provis-semantics
functions must match them for every layer, head and feature. Attention weights are multiples of
1/64 (plus some exactly at float32(0.3)), so weight sums are exact in float64 and compared with ==.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from plmscope.analysis.features import AMINO_ACID_FEATURES, FEATURES, feature_arrays
from plmscope.analysis.provis_enrichment import (
    provis_backgrounds,
    provis_center_of_gravity,
    provis_enrichment,
    provis_gravity_table,
    provis_summarise,
    residue_limits,
)
from plmscope.analysis.semantics import (
    check_semantics,
    enrichment_backgrounds,
    enrichment_sums,
    enrichment_table,
    inference_dtype,
    sample_indices,
)
from plmscope.data.table import ProteinRecord
from plmscope.errors import PlmscopeError

LAYERS, HEADS = 3, 4
THETA = 0.3
MAX_SEQ_LEN = 14  # tokens: 12 residues analysed, contact background 14, site background 13
AMINO = "ACDEFGHIKLMNPQRSTVWYX"
SS8 = "HGIEBTS- "


def _protein_table(n: int, seed: int) -> list[ProteinRecord]:
    """Proteins with missing coordinates, no structure, missing site/PTM/ss labels and long sequences."""
    rng = np.random.default_rng(seed)
    records = []
    for p in range(n):
        length = int(rng.integers(5, 22))  # many longer than the 12 analysed residues
        sequence = "".join(rng.choice(list(AMINO), size=length))
        ca = valid = None
        if p % 4 != 3:  # every fourth protein has no structure
            # a compact random walk: many CA-CA distances below 8 Å at |i - j| >= 6
            ca = np.cumsum(rng.normal(0.0, 2.5, size=(length, 3)), axis=0)
            valid = rng.random(length) > 0.15  # ~15% of residues without coordinates
            ca[~valid] = np.nan
        ss8 = "".join(rng.choice(list(SS8), size=length)) if p % 3 != 2 else None
        sites = sorted(rng.choice(length, size=int(rng.integers(0, 4)), replace=False).tolist()) if p % 5 != 1 else None
        ptms = sorted(rng.choice(length, size=int(rng.integers(0, 3)), replace=False).tolist()) if p % 2 == 0 else None
        records.append(ProteinRecord(f"P{p}", sequence, ca=ca, valid=valid, ss8=ss8, sites=sites, ptms=ptms))
    return records


def _attention(records: list[ProteinRecord], n_res: int, seed: int) -> dict[str, np.ndarray]:
    """Dense float32 attention ``(layers, heads, L, L)`` over each protein's analysed residues."""
    rng = np.random.default_rng(seed)
    out = {}
    for r in records:
        n = min(len(r.sequence), n_res)
        a = (rng.integers(0, 64, size=(LAYERS, HEADS, n, n)) / 64.0).astype(np.float32)
        a[rng.random(a.shape) < 0.05] = np.float32(THETA)  # exactly at theta: dropped by provis (strict >)
        a[1, 2] = 0.0  # a head with nothing above theta
        out[r.id] = a
    return out


def _rows(attention: dict[str, np.ndarray]) -> pa.Table:
    """The attention rows plmscope stores: every weight >= theta."""
    parts = []
    for pid, a in attention.items():
        layer, head, i, j = np.nonzero(a >= np.float32(THETA))
        parts.append(pd.DataFrame({"protein_id": pid, "layer": layer, "head": head, "i": i, "j": j,
                                   "weight": a[layer, head, i, j]}))
    return pa.Table.from_pandas(pd.concat(parts, ignore_index=True), preserve_index=False)


# ---------------------------------------------------------------- literal provis, pair by pair


def _tape_contact_map(r: ProteinRecord) -> list[list[int]]:
    """TAPE ProteinnetDataset: 1 if CA-CA < 8 Å, else 0; -1 if a residue lacks coordinates or |i - j| < 6."""
    n = len(r.sequence)
    cmap = [[0] * n for _ in range(n)]
    for i in range(n):
        for j in range(n):
            if not (r.valid[i] and r.valid[j]) or abs(i - j) < 6:
                cmap[i][j] = -1
            else:
                cmap[i][j] = 1 if math.dist(r.ca[i].astype(float), r.ca[j].astype(float)) < 8.0 else 0
    return cmap


def _ss4(letter: str) -> int:
    """TAPE ss3 (H G I -> 0, E B -> 1, others -> 2) with DSSP blank -> 3, as provis's convert_item."""
    if letter in "HGI":
        return 0
    if letter in "EB":
        return 1
    if letter in "TS":
        return 2
    return 3


def _item(r: ProteinRecord, dataset: str) -> dict:
    item = {"id": r.id, "primary": r.sequence}
    if dataset == "proteinnet":
        item["contact_map"] = _tape_contact_map(r)
    if dataset == "secondary":
        item["secondary"] = [_ss4(c) for c in r.ss8]
    if dataset == "binding_sites":
        item["site_indic"] = [1 if k in r.sites else 0 for k in range(len(r.sequence))]
    if dataset == "protein_modifications":
        item["mod_indic"] = [1 if k in r.ptms else 0 for k in range(len(r.sequence))]
    return item


def _feature_values(item: dict, dataset: str, frm: int, to: int) -> dict[str, int]:
    """provis's EdgeFeature.get_values for the features of one dataset."""
    values = {f"aa_to_{item['primary'][to]}": 1}
    if dataset == "proteinnet":
        assert item["contact_map"][frm][to] == item["contact_map"][to][frm]
        if item["contact_map"][frm][to] == 1:
            values["contact_map"] = 1
    elif dataset == "secondary":
        values[f"sec_struct_to_{item['secondary'][to]}"] = 1
    elif dataset == "binding_sites":
        if item["site_indic"][to] == 1:
            values["binding_site_to"] = 1
    elif dataset == "protein_modifications" and item["mod_indic"][to] == 1:
        values["protein_modification_to"] = 1
    return values


def _analyze_heads(items: list[dict], attention: dict[str, np.ndarray], dataset: str):
    """compute_edge_features.analyze_heads: weighted sums of thresholded weights, per pair."""
    weighted = defaultdict(lambda: [[0.0] * HEADS for _ in range(LAYERS)])
    total = [[0.0] * HEADS for _ in range(LAYERS)]
    for item in items:
        a = attention[item["id"]]
        seq_len = a.shape[-1]
        for layer in range(LAYERS):
            for head in range(HEADS):
                for frm in range(seq_len):
                    for to in range(seq_len):
                        w = a[layer, head, frm, to]
                        w = float(w) if w > np.float32(THETA) else 0.0  # (attn > min_attn) * attn
                        total[layer][head] += w
        for to in range(seq_len):
            for frm in range(seq_len):
                for name, value in _feature_values(item, dataset, frm, to).items():
                    for layer in range(LAYERS):
                        for head in range(HEADS):
                            w = a[layer, head, frm, to]
                            w = float(w) if w > np.float32(THETA) else 0.0
                            weighted[name][layer][head] += w * value
    return weighted, total


DATASET_OF = {"contact": "proteinnet", "binding_site": "binding_sites", "ptm": "protein_modifications",
              "helix": "secondary", "strand": "secondary", "turn_bend": "secondary"}
PROVIS_NAME = {"contact": "contact_map", "binding_site": "binding_site_to", "ptm": "protein_modification_to",
               "helix": "sec_struct_to_0", "strand": "sec_struct_to_1", "turn_bend": "sec_struct_to_2",
               **{f: f"aa_to_{f[-1]}" for f in AMINO_ACID_FEATURES}}


def _in_dataset(r: ProteinRecord, dataset: str) -> bool:
    return {"proteinnet": r.ca is not None, "binding_sites": r.sites is not None,
            "protein_modifications": r.ptms is not None, "secondary": r.ss8 is not None, "all": True}[dataset]


def _literal(records, attention):
    """feature -> (weighted_sum, weight_total) as provis computes them, each feature on its own dataset."""
    out = {}
    cache = {}
    for feature in FEATURES:
        dataset = DATASET_OF.get(feature, "all")
        if dataset not in cache:
            items = [_item(r, dataset) for r in records if _in_dataset(r, dataset)]
            cache[dataset] = _analyze_heads(items, attention, dataset)
        weighted, total = cache[dataset]
        out[feature] = (np.array(weighted[PROVIS_NAME[feature]]), np.array(total))
    return out


def _literal_backgrounds(records, max_len: int) -> dict[str, tuple[int, int]]:
    """background.py: Counter over contact_map[:max_len, :max_len] and padded labels[:max_len]."""
    out = {}
    c = Counter()
    for r in records:
        if r.ca is None:
            continue
        cmap = _tape_contact_map(r)
        for row in cmap[:max_len]:
            c.update(row[:max_len])
    out["contact"] = (c[1], c[0] + c[1])
    for feature, attr in (("binding_site", "sites"), ("ptm", "ptms")):
        c = Counter()
        for r in records:
            if getattr(r, attr) is None:
                continue
            seq = r.sequence[:max_len]  # BindingSiteDataset crops to max_seqlen = 512
            labels = [1 if k in getattr(r, attr) else 0 for k in range(len(seq))]
            padded = [-1] + labels + [-1]  # np.pad(labels, (1, 1), constant_values=-1)
            c.update(padded[:max_len])
        out[feature] = (c[1], c[0] + c[1])
    return out


def _literal_top_heads(weighted, total, min_total: float, k: int, alpha: float = 0.05):
    """report_top_heads.create_figure: scored heads, sorted reverse, Bonferroni normal intervals."""
    from statsmodels.stats.proportion import proportion_confint

    scored = []
    for i in range(LAYERS):
        for j in range(HEADS):
            if total[i, j] > min_total:
                scored.append((weighted[i, j] / total[i, j], i, j))
    top = sorted(scored, reverse=True)[:k]
    out = []
    for score, i, j in top:
        start, end = proportion_confint(int(weighted[i, j]), int(total[i, j]), alpha=alpha / len(scored))
        out.append((f"{i + 1}-{j + 1}", score, start, end))
    return out


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def setup():
    records = _protein_table(24, seed=7)
    n_res = residue_limits(MAX_SEQ_LEN)["attention"]
    attention = _attention(records, n_res, seed=11)
    arrays = feature_arrays(records, {r.id: min(len(r.sequence), n_res) for r in records})
    rows = _rows(attention)
    # literal provis reads the dense attention of the analysed (truncated) residues
    truncated = [ProteinRecord(r.id, r.sequence[:n_res],
                               ca=None if r.ca is None else r.ca[:n_res],
                               valid=None if r.valid is None else r.valid[:n_res],
                               ss8=None if r.ss8 is None else r.ss8[:n_res],
                               sites=None if r.sites is None else [s for s in r.sites if s < n_res],
                               ptms=None if r.ptms is None else [s for s in r.ptms if s < n_res])
                 for r in records]
    return records, truncated, attention, arrays, rows


def test_the_table_exercises_every_case(setup):
    records, _, _attention, arrays, rows = setup
    assert any(r.ca is None for r in records) and any(r.sites is None for r in records)
    assert any(r.ss8 is None for r in records) and any(r.ptms is None for r in records)
    assert any(len(r.sequence) > 12 for r in records)
    assert (~arrays.valid & np.repeat(arrays.annotated["contact"], arrays.lengths)).mean() > 0.05
    assert (rows.column("weight").to_numpy() == np.float32(THETA)).any()


def test_sums_match_the_literal_provis_loops_for_every_head_and_feature(setup):
    _records, truncated, attention, arrays, rows = setup
    sums = provis_enrichment([rows], arrays, num_layers=LAYERS, num_heads=HEADS, theta=THETA)
    literal = _literal(truncated, attention)
    assert sums.features == FEATURES
    n_contacts = 0
    for f, feature in enumerate(FEATURES):
        weighted, total = literal[feature]
        np.testing.assert_array_equal(sums.weight_total[f], total, err_msg=f"{feature} weight_total")
        np.testing.assert_array_equal(sums.weight_feature[f], weighted, err_msg=f"{feature} weighted sum")
        if feature == "contact":
            n_contacts = int(sums.n_feature_rows[f].sum())
    assert n_contacts > 20  # the synthetic structures do have contacts
    # the same sums through the semantics switch, streamed in small batches
    batches = [rows.slice(k, 500) for k in range(0, rows.num_rows, 500)]
    again = enrichment_sums(batches, arrays, semantics="provis", num_layers=LAYERS, num_heads=HEADS, theta=THETA)
    np.testing.assert_array_equal(again.weight_feature, sums.weight_feature)


def test_provis_contact_denominator_keeps_pairs_without_coordinates(setup):
    _, _, _, arrays, rows = setup
    provis = provis_enrichment([rows], arrays, num_layers=LAYERS, num_heads=HEADS, features=["contact"])
    plmscope = enrichment_sums([rows.drop(["weight"])], arrays, semantics="plmscope",
                               num_layers=LAYERS, num_heads=HEADS, features=["contact"])
    # plmscope counts fewer pairs (drops pairs touching a residue without coordinates) ...
    assert (plmscope.n_attention[0] <= provis.n_rows[0]).all() and (plmscope.n_attention[0] < provis.n_rows[0]).any()
    # ... and as many contacts, apart from the rows exactly at theta that provis drops
    at_theta = np.flatnonzero(rows.column("weight").to_numpy() == np.float32(THETA))
    assert plmscope.n_feature[0].sum() >= provis.n_feature_rows[0].sum()
    assert plmscope.n_feature[0].sum() - provis.n_feature_rows[0].sum() <= len(at_theta)


def test_backgrounds_match_the_literal_background_counts(setup):
    records, *_ = setup
    bg = provis_backgrounds(records, max_seq_len=MAX_SEQ_LEN).set_index("feature")
    literal = _literal_backgrounds(records, MAX_SEQ_LEN)
    for feature, (pos, tot) in literal.items():
        assert (bg.at[feature, "n_feature"], bg.at[feature, "n_eligible"]) == (pos, tot), feature
    assert bg.at["contact", "n_residues_max"] == MAX_SEQ_LEN
    assert bg.at["binding_site", "n_residues_max"] == MAX_SEQ_LEN - 1 == bg.at["ptm", "n_residues_max"]
    assert bg.at["helix", "n_residues_max"] == MAX_SEQ_LEN - 2
    via = enrichment_backgrounds(semantics="provis", records=records, max_seq_len=MAX_SEQ_LEN)
    pd.testing.assert_frame_equal(via, bg.reset_index())


def test_binding_site_background_reads_511_residues_at_512_tokens():
    seq = "A" * 600
    rec = ProteinRecord("long", seq, sites=[0, 509, 510, 511, 599])
    row = provis_backgrounds([rec], features=["binding_site"]).iloc[0]
    assert (row["n_eligible"], row["n_feature"]) == (511, 3)  # residues 0..510: sites 0, 509, 510
    assert residue_limits(512) == {"attention": 510, "contact_background": 512, "label_background": 511}


def test_top_heads_and_intervals_match_report_top_heads(setup):
    records, truncated, attention, arrays, rows = setup
    sums = provis_enrichment([rows], arrays, num_layers=LAYERS, num_heads=HEADS, theta=THETA)
    bg = provis_backgrounds(records, max_seq_len=MAX_SEQ_LEN)
    literal = _literal(truncated, attention)
    min_total = 40.0
    table = provis_summarise(sums, bg, min_total=min_total)
    via = enrichment_table(sums, bg, semantics="provis", min_count=min_total)
    pd.testing.assert_frame_equal(table, via)
    checked = 0
    for feature in FEATURES:
        weighted, total = literal[feature]
        expected = _literal_top_heads(weighted, total, min_total, k=10)
        got = table[(table["feature"] == feature) & ~table["masked"]].sort_values("rank").head(10)
        assert list(got["label"]) == [e[0] for e in expected], feature
        np.testing.assert_array_equal(got["proportion"].to_numpy(), [e[1] for e in expected])
        np.testing.assert_allclose(got["ci_low"].to_numpy(), [e[2] for e in expected], rtol=0, atol=0)
        np.testing.assert_allclose(got["ci_high"].to_numpy(), [e[3] for e in expected], rtol=0, atol=0)
        assert (got["n_tests"] == sum(total.ravel() > min_total)).all()
        checked += len(expected)
    assert checked > 100


def test_ties_go_to_the_later_head_and_the_mask_is_strict():
    from plmscope.analysis.provis_enrichment import ProvisEnrichmentSums

    total = np.array([[[100.0, 150.0, 150.0]]])
    feature = np.array([[[90.0, 30.0, 30.0]]])  # 1-1 is not scored (100 is not > 100); 1-2, 1-3 tie
    sums = ProvisEnrichmentSums(("contact",), total, feature, total.astype(np.int64), feature.astype(np.int64))
    bg = pd.DataFrame({"feature": ["contact"], "n_eligible": [1000], "n_feature": [10], "background": [0.01]})
    table = provis_summarise(sums, bg)
    assert list(table["masked"]) == [True, False, False]
    assert list(table.sort_values("rank")["label"][:2]) == ["1-3", "1-2"]
    assert (table["n_tests"] == 2).all()


def test_gravity_matches_the_combined_report(setup):
    records, truncated, attention, arrays, rows = setup
    sums = provis_enrichment([rows], arrays, num_layers=LAYERS, num_heads=HEADS, theta=THETA)
    table = provis_summarise(sums, provis_backgrounds(records, max_seq_len=MAX_SEQ_LEN), min_total=40.0)
    literal = _literal(truncated, attention)
    grav = provis_gravity_table(table, min_total=40.0).set_index("feature")
    for feature in ("contact", "helix", "binding_site"):
        weighted, total = literal[feature]
        with np.errstate(divide="ignore", invalid="ignore"):
            mean_by_head = weighted / total
        masked = np.ma.masked_array(mean_by_head, mask=total < 40.0)
        layer_macro = masked.mean(-1) * 100
        normalized = layer_macro / layer_macro.sum()
        center = sum(i * normalized[i] for i in range(LAYERS))
        got = grav.at[feature, "center_of_gravity"]
        if np.ma.is_masked(center):
            assert np.isnan(got)
        else:
            assert got == pytest.approx(float(center), rel=1e-12)
            assert grav.at[feature, "center_of_gravity_layer_number"] == pytest.approx(float(center) + 1)


def test_center_of_gravity_is_zero_based_and_undefined_with_a_masked_layer():
    assert provis_center_of_gravity(np.array([1.0, 1.0, 2.0])) == pytest.approx(1.25)
    assert np.isnan(provis_center_of_gravity(np.array([1.0, np.nan, 2.0])))
    assert np.isnan(provis_center_of_gravity(np.zeros(3)))


def test_sample_is_torch_randperm_after_manual_seed():
    torch = pytest.importorskip("torch")
    torch.manual_seed(123)
    expected = torch.randperm(23456)[:5000].tolist()
    state = torch.random.get_rng_state()
    from plmscope.data.sampling import provis_sample, provis_sample_indices

    assert provis_sample_indices(23456) == expected
    assert torch.equal(torch.random.get_rng_state(), state)  # the global generator is untouched
    assert sample_indices(23456, 5000, 123, semantics="provis").tolist() == expected
    assert provis_sample(list(range(10)), k=3, seed=1) == (torch.manual_seed(1), torch.randperm(10)[:3].tolist())[1]
    # a model built between the seed and the draw (as in provis) changes the sample
    torch.manual_seed(123)
    torch.nn.Linear(8, 8)
    after = torch.randperm(23456)[:5000].tolist()
    assert provis_sample_indices(23456, after_seed=lambda: torch.nn.Linear(8, 8)) == after != expected
    plm = sample_indices(23456, 5000, 123, semantics="plmscope")
    assert plm.tolist() == sorted(plm.tolist()) and plm.tolist() != sorted(expected)


def test_provis_semantics_forces_float32():
    assert inference_dtype("provis") == "float32"
    assert inference_dtype("provis", "float32") == "float32"
    with pytest.raises(PlmscopeError):
        inference_dtype("provis", "float16")
    assert inference_dtype("plmscope", "float16") == "float16"
    assert inference_dtype("plmscope") is None
    with pytest.raises(PlmscopeError):
        check_semantics("paper")


def test_plmscope_semantics_is_the_existing_enrichment(setup):
    from plmscope.analysis.enrichment import enrichment, summarise
    from plmscope.analysis.features import backgrounds

    _, _, _, arrays, rows = setup
    direct = enrichment([rows], arrays, num_layers=LAYERS, num_heads=HEADS)
    via = enrichment_sums([rows], arrays, semantics="plmscope", num_layers=LAYERS, num_heads=HEADS)
    np.testing.assert_array_equal(direct.n_attention, via.n_attention)
    np.testing.assert_array_equal(direct.n_feature, via.n_feature)
    bg = enrichment_backgrounds(semantics="plmscope", arrays=arrays)
    pd.testing.assert_frame_equal(bg, backgrounds(arrays))
    pd.testing.assert_frame_equal(enrichment_table(via, bg, semantics="plmscope", min_count=5),
                                  summarise(direct, bg, min_count=5))
