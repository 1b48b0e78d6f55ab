"""The offline 3D attention viewer: PDB text, embedded data, run_view errors, and a real headless browser."""

from __future__ import annotations

import hashlib
import html
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from Bio.PDB import PDBParser

from plmscope.data.table import ProteinRecord, write_proteins
from plmscope.errors import PlmscopeError
from plmscope.runs.view import read_protein_attention, run_view, run_view_many, top_head
from plmscope.viz.viewer import ca_pdb, pack_attention, render_viewer_html, three_dmol_js

NUM_LAYERS, NUM_HEADS = 3, 4
SHOWN = (1, 2)  # 0-based layer, head planted with helix-strand attention
MISSING = 16  # residue without coordinates


# ---------------------------------------------------------------- planted inputs


def helix_loop_strand() -> ProteinRecord:
    """28 residues: an ideal alpha helix (0-13), a loop (14-17, residue 16 missing), a strand (18-27)."""
    ca = np.zeros((28, 3))
    k = np.arange(14)
    ca[:14] = np.c_[1.5 * k, 2.3 * np.cos(np.deg2rad(100 * k)), 2.3 * np.sin(np.deg2rad(100 * k))]
    ca[18:] = np.c_[19.5 - 3.3 * np.arange(10), np.full(10, 10.0), np.zeros(10)]  # in the screen plane
    ca[14:18] = np.linspace(ca[13], ca[18], 6)[1:5]
    ca[MISSING] = np.nan
    ss8 = "-" + "H" * 12 + "-" * 5 + "T" + "E" * 8 + "-"
    assert len(ss8) == 28
    return ProteinRecord(id="toy|1", sequence="MKTAYIAKQRQISFVKSHFSRQLEERLG", ca=ca, ss8=ss8,
                         sites=[3, 20, 24], source="planted")  # fmt: skip


def planted_rows() -> pd.DataFrame:
    """Attention rows of the toy protein; the shown head links helix and strand residues."""
    rows = []
    for n, (i, j) in enumerate([(2, 20), (5, 22), (9, 25), (12, 27), (6, 19), (3, 24)]):
        rows.append((*SHOWN, i, j, 0.35 + 0.1 * n))  # 0.35 .. 0.85
    rows += [
        (*SHOWN, 20, 2, 0.40),  # reverse of (2, 20): one cylinder, the larger weight
        (*SHOWN, 7, 7, 0.95),  # self attention: never drawn
        (*SHOWN, 10, MISSING, 0.90),  # residue without coordinates: never drawn
        (*SHOWN, 1, 4, 0.5),  # exactly at threshold 0.5: drawn at 0.5
        (*SHOWN, 0, 8, 0.12),  # below the default embedding floor at the default threshold
        (0, 0, 0, 1, 0.6),
        (0, 0, 1, 2, 0.7),
        (2, 3, 13, 18, 0.33),
    ]
    frame = pd.DataFrame(rows, columns=["layer", "head", "i", "j", "weight"])
    return frame.astype({"layer": "int16", "head": "int16", "i": "int32", "j": "int32", "weight": "float32"})


def expected_pairs(rows: pd.DataFrame, record: ProteinRecord, layer: int, head: int, threshold: float) -> int:
    """Unordered pairs {i, j}, i != j, both with coordinates, with a weight >= threshold."""
    sel = rows[(rows["layer"] == layer) & (rows["head"] == head) & (rows.weight >= np.float32(threshold) - 1e-6)]
    pairs = {frozenset((int(i), int(j))) for i, j in zip(sel.i, sel.j)
             if i != j and record.valid[i] and record.valid[j]}  # fmt: skip
    return len(pairs)


def expected_arrows(rows: pd.DataFrame, record: ProteinRecord, layer: int, head: int, threshold: float) -> int:
    """Directed rows i -> j, i != j, both with coordinates, with a weight >= threshold (not symmetrised)."""
    sel = rows[(rows["layer"] == layer) & (rows["head"] == head) & (rows.weight >= np.float32(threshold) - 1e-6)]
    return sum(1 for i, j in zip(sel.i, sel.j) if i != j and record.valid[i] and record.valid[j])


def write_dataset(root: Path, record: ProteinRecord, *, theta: float = 0.1) -> tuple[Path, Path]:
    """A protein table (toy, a second protein, one without coordinates) and an attention dataset."""
    other = ProteinRecord(id="other", sequence="ACDEFGH", ca=np.arange(21, dtype=float).reshape(7, 3) * 1.3,
                          sites=[], source="planted")  # fmt: skip
    bare = ProteinRecord(id="bare", sequence="ACDE", source="planted")
    proteins = root / "proteins.parquet"
    write_proteins([other, record, bare], proteins)
    att = root / "att"
    (att / "attention").mkdir(parents=True)
    rows = planted_rows()
    rows = rows[rows.weight >= theta]
    mine = rows.assign(protein_id=record.id)
    theirs = pd.DataFrame({"protein_id": "other", "layer": np.int16(1), "head": np.int16(2), "i": np.int32([0, 1]),
                           "j": np.int32([6, 5]), "weight": np.float32([0.9, 0.2])})  # fmt: skip
    cols = ["protein_id", "layer", "head", "i", "j", "weight"]
    pq.write_table(pa.Table.from_pandas(pd.concat([theirs, mine.iloc[:5]])[cols], preserve_index=False),
                   att / "attention" / "part-00000.parquet")  # fmt: skip
    pq.write_table(pa.Table.from_pandas(mine.iloc[5:][cols], preserve_index=False),
                   att / "attention" / "part-00001.parquet")  # fmt: skip
    (att / "meta.json").write_text(json.dumps({"model": "toy_model", "num_layers": NUM_LAYERS,
                                               "num_heads": NUM_HEADS, "theta": theta}))  # fmt: skip
    pq.write_table(pa.table({"protein_id": [record.id, "other", "bare"], "n_residues": [28, 7, 4]}),
                   att / "proteins.parquet")  # fmt: skip
    return proteins, att


def embedded(page: str) -> dict:
    """The JSON payload of a viewer page."""
    match = re.search(r'<script type="application/json" id="plmscope-data">(.*?)</script>', page, re.S)
    assert match, "no embedded data block"
    return json.loads(match.group(1))


def page_for(record: ProteinRecord, rows: pd.DataFrame | None = None, **options) -> str:
    opts = dict(model="toy_model", layer=SHOWN[0], head=SHOWN[1], threshold=0.5, num_layers=NUM_LAYERS,
                num_heads=NUM_HEADS, min_weight=0.1)  # fmt: skip
    opts.update(options)
    return render_viewer_html(record, planted_rows() if rows is None else rows, **opts)


# ---------------------------------------------------------------- PDB text


def test_ca_pdb_round_trips_through_biopython_and_marks_secondary_structure():
    record = helix_loop_strand()
    text = ca_pdb(record)
    chain = PDBParser(QUIET=True).get_structure("t", io.StringIO(text))[0]["A"]
    residues = list(chain)
    assert [r.id[1] for r in residues] == [k + 1 for k in range(28) if k != MISSING]
    assert [r.get_resname() for r in residues][:3] == ["MET", "LYS", "THR"]
    got = np.array([r["CA"].coord for r in residues])
    np.testing.assert_allclose(got, np.delete(record.ca, MISSING, axis=0), atol=1e-3)
    # Column positions read by 3Dmol.js (start/end residue numbers) and by the PDB format.
    helices = [(int(l[21:25]), int(l[33:37]), int(l[38:40])) for l in text.splitlines() if l.startswith("HELIX ")]
    sheets = [(int(l[22:26]), int(l[33:37])) for l in text.splitlines() if l.startswith("SHEET ")]
    assert helices == [(2, 13, 1)]
    assert sheets == [(20, 27)]  # the 'T' at residue 19 is coil, the strand follows
    assert not any(l.startswith("END") for l in text.splitlines())  # 3Dmol forgets HELIX/SHEET after END


def test_ca_pdb_splits_segments_at_missing_residues_and_needs_coordinates():
    ca = np.c_[np.arange(10) * 3.8, np.zeros(10), np.zeros(10)]
    ca[4] = np.nan
    rec = ProteinRecord(id="h", sequence="AAAAAAAAAA", ca=ca, ss8="-HHHHHHHG-")
    helices = [(int(l[21:25]), int(l[33:37]), int(l[38:40])) for l in ca_pdb(rec).splitlines() if l.startswith("HELIX")]
    assert helices == [(2, 4, 1), (6, 8, 1), (9, 9, 5)]
    with pytest.raises(PlmscopeError, match="no CA coordinates"):
        ca_pdb(ProteinRecord(id="seq_only", sequence="ACD"))
    with pytest.raises(PlmscopeError, match="no residue with coordinates"):
        ca_pdb(ProteinRecord(id="nan", sequence="AC", ca=np.full((2, 3), np.nan)))


def test_ca_pdb_matches_a_real_structure(shared_data):
    record, _ = record_from_pdb(shared_data / "pdb" / "1A8O.pdb")
    chain = PDBParser(QUIET=True).get_structure("t", io.StringIO(ca_pdb(record)))[0]["A"]
    np.testing.assert_allclose(np.array([r["CA"].coord for r in chain]), record.ca, atol=1e-3)
    helix_lines = [l for l in ca_pdb(record).splitlines() if l.startswith("HELIX")]
    assert len(helix_lines) == 5  # the five HELIX records of 1A8O, renumbered from 1


def test_vendored_3dmol_is_the_pinned_release(repo_dir):
    script = (repo_dir / "scripts" / "vendor_3dmol.sh").read_text()
    pinned = re.search(r'MINJS_SHA256="([0-9a-f]{64})"', script).group(1)
    version = re.search(r'VERSION="([^"]+)"', script).group(1)
    assets = repo_dir / "src" / "plmscope" / "viz" / "assets"
    assert hashlib.sha256((assets / "3Dmol-min.js").read_bytes()).hexdigest() == pinned
    assert (assets / "3Dmol-VERSION.txt").read_text().split() == ["3dmol", version]
    assert "BSD-3-Clause" in (assets / "3Dmol-LICENSE.txt").read_text()
    assert three_dmol_js().startswith("/*! For license information")


# ---------------------------------------------------------------- embedded data


def test_pack_attention_groups_by_head_and_rejects_foreign_indices():
    rows = planted_rows()
    packed = pack_attention(rows, num_layers=NUM_LAYERS, num_heads=NUM_HEADS, length=28, min_weight=0.3)
    assert set(packed) == {"1-2", "0-0", "2-3"}
    shown = packed["1-2"]
    kept = rows[(rows["layer"] == 1) & (rows["head"] == 2) & (rows.weight >= 0.3)]
    assert len(shown["i"]) == len(shown["j"]) == len(shown["w"]) == len(kept)
    triples = sorted(zip(shown["i"], shown["j"], shown["w"]))
    assert triples == sorted((int(i), int(j), round(float(w) * 1e4)) for i, j, w in zip(kept.i, kept.j, kept.weight))
    with pytest.raises(PlmscopeError, match="j 28 outside 0..27"):
        pack_attention(pd.concat([rows, rows.iloc[:1].assign(j=28)]), num_layers=NUM_LAYERS, num_heads=NUM_HEADS,
                       length=28, min_weight=0.1)  # fmt: skip
    with pytest.raises(PlmscopeError, match="head 4 outside"):
        pack_attention(rows.assign(head=4), num_layers=NUM_LAYERS, num_heads=NUM_HEADS, length=28, min_weight=0.1)
    with pytest.raises(PlmscopeError, match="lack column"):
        pack_attention(rows.drop(columns="weight"), num_layers=3, num_heads=4, length=28, min_weight=0.1)


def test_page_is_self_contained_and_embeds_every_head():
    record = helix_loop_strand()
    page = page_for(record)
    assert "$3Dmol" in page and "createViewer" in page  # 3Dmol.js is inlined
    assert not re.search(r"<script[^>]*\ssrc\s*=", page, re.I)
    assert not re.search(r"<link\b", page, re.I)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "default-src 'none'" in page  # the browser refuses any request the page might make
    data = embedded(page)
    assert (data["protein"], data["model"], data["layer"], data["head"]) == ("toy|1", "toy_model", *SHOWN)
    assert data["sites"] == [3, 20, 24] and data["threshold"] == 0.5 and data["min_weight"] == 0.1
    assert set(data["heads"]) == {"1-2", "0-0", "2-3"}
    assert len(data["heads"]["1-2"]["i"]) == int(((planted_rows()["layer"] == 1) & (planted_rows()["head"] == 2)).sum())
    assert "HELIX" in data["pdb"] and "SHEET" in data["pdb"]


def test_page_escapes_hostile_protein_ids():
    record = helix_loop_strand()
    record.id = "</script><script>alert(1)</script>"
    page = page_for(record)
    assert page.count("</script>") == 4  # policy listener, data, 3Dmol, app: the id cannot close one
    assert embedded(page)["protein"] == record.id
    assert "<title>&lt;/script&gt;" in page


@pytest.mark.parametrize(
    "options, message",
    [
        ({"layer": 3}, "layer: must lie in 0..2"),
        ({"head": -1}, "head: must lie in 0..3"),
        ({"threshold": 0.0}, "threshold"),
        ({"min_weight": 0.6}, "min_weight"),
    ],
)
def test_page_rejects_bad_options(options, message):
    with pytest.raises(PlmscopeError, match=message):
        page_for(helix_loop_strand(), **options)


# ---------------------------------------------------------------- run_view / run_view_many


def test_run_view_writes_the_proteins_rows_above_the_floor(tmp_path):
    record = helix_loop_strand()
    proteins, att = write_dataset(tmp_path, record)
    out = tmp_path / "views" / "toy.html"
    summary = run_view(proteins, att, out, protein_id=record.id, layer=1, head=2, threshold=0.5, min_weight=0.3)
    data = embedded(out.read_text())
    rows = planted_rows()
    want = rows[rows.weight >= 0.3]
    got = sorted((int(k.split("-")[0]), int(k.split("-")[1]), i, j, w)
                 for k, v in data["heads"].items() for i, j, w in zip(v["i"], v["j"], v["w"]))  # fmt: skip
    assert got == sorted((int(r.layer), int(r.head), int(r.i), int(r.j), round(float(r.weight) * 1e4))
                         for r in want.itertuples())  # fmt: skip
    assert summary["rows"] == len(want) and summary["head"] == "2-3" and summary["min_weight"] == 0.3
    shown = (want["layer"] == 1) & (want["head"] == 2) & (want.weight >= 0.5)
    assert summary["rows_at_threshold"] == int(shown.sum())
    assert list(out.parent.iterdir()) == [out]  # no temporary file left behind


def test_run_view_defaults_follow_theta(tmp_path):
    record = helix_loop_strand()
    proteins, att = write_dataset(tmp_path, record, theta=0.35)
    summary = run_view(proteins, att, tmp_path / "v.html", protein_id=record.id, layer=0, head=0)
    assert summary["threshold"] == 0.35 and summary["min_weight"] == 0.35  # default 0.3 / 0.1 raised to theta
    # float32 0.35 (0.3499999940...) was stored as >= theta and must survive the floor at theta.
    assert summary["rows"] == int((planted_rows().weight >= np.float32(0.35)).sum()) == 12
    assert min(w for v in embedded((tmp_path / "v.html").read_text())["heads"].values() for w in v["w"]) >= 3500


@pytest.mark.parametrize(
    "options, message",
    [
        ({"protein_id": "nope"}, r"proteins\.parquet: no protein with id 'nope'"),
        ({"protein_id": "bare"}, "protein 'bare' has no CA coordinates"),
        ({"layer": 3}, r"layer 4 is outside 1\.\.3 \(toy_model"),  # 0-based argument, 1-based message
        ({"head": 4}, r"head 5 is outside 1\.\.4"),
        ({"layer": -1}, r"layer 0 is outside 1\.\.3"),
        ({"threshold": 0.05}, "below theta=0.1"),
    ],
)
def test_run_view_errors_are_one_line_and_write_nothing(tmp_path, options, message):
    record = helix_loop_strand()
    proteins, att = write_dataset(tmp_path, record)
    kwargs = {"protein_id": record.id, "layer": 1, "head": 2, **options}
    out = tmp_path / "out" / "v.html"
    with pytest.raises(PlmscopeError, match=message) as err:
        run_view(proteins, att, out, **kwargs)
    assert "\n" not in str(err.value)
    assert not out.exists()


def test_run_view_checks_the_dataset(tmp_path):
    record = helix_loop_strand()
    proteins, att = write_dataset(tmp_path, record)
    extra = ProteinRecord(id="late", sequence="AC", ca=np.ones((2, 3)))
    write_proteins([record, extra], proteins)
    with pytest.raises(PlmscopeError, match="protein 'late' is not in this attention dataset"):
        run_view(proteins, att, tmp_path / "v.html", protein_id="late", layer=0, head=0)
    (att / "meta.json").write_text(json.dumps({"model": "m", "num_layers": 3, "num_heads": 4}))
    with pytest.raises(PlmscopeError, match=r"meta\.json: lacks key\(s\) \['theta'\]"):
        run_view(proteins, att, tmp_path / "v.html", protein_id=record.id, layer=0, head=0)
    with pytest.raises(PlmscopeError, match="no attention parts"):
        read_protein_attention(tmp_path, record.id)


def test_run_view_many_uses_the_top_head_and_links_every_page(tmp_path):
    record = helix_loop_strand()
    proteins, att = write_dataset(tmp_path, record)
    # written tables hold layer and head 1-based (plmscope.schemas); top_head returns them 0-based
    top = pd.DataFrame({"feature": ["contact", "binding_site", "binding_site"], "layer": [1, 3, 2],
                        "head": [1, 1, 3], "label": ["1-1", "3-1", "2-3"], "rank": [1, 2, 1]})  # fmt: skip
    enrichment = tmp_path / "enrichment"
    enrichment.mkdir()
    top.to_parquet(enrichment / "top_heads.parquet", index=False)
    assert top_head(enrichment, feature="contact") == (0, 0)
    out = tmp_path / "views"
    summary = run_view_many(proteins, att, out, top_heads=enrichment, feature="binding_site")
    assert summary["head"] == "2-3"
    # Default choice: analysed proteins with coordinates, the one with binding sites first.
    assert list(summary["files"]) == ["toy|1", "other"]
    assert sorted(p.name for p in out.iterdir()) == [".plmscope-output", "index.html", "other.html", "toy_1.html"]
    for name in ("toy_1.html", "other.html"):
        assert (embedded((out / name).read_text())["layer"], embedded((out / name).read_text())["head"]) == SHOWN
    index = (out / "index.html").read_text()
    assert 'href="toy_1.html"' in index and html.escape("toy|1") in index
    explicit = run_view_many(proteins, att, out, protein_ids=["other"], layer=0, head=3, threshold=0.6)
    assert explicit["files"] == {"other": "other.html"}
    assert sorted(p.name for p in out.iterdir()) == [".plmscope-output", "index.html", "other.html"]  # the directory was replaced
    with pytest.raises(PlmscopeError, match="not both or neither"):
        run_view_many(proteins, att, out, top_heads=enrichment, layer=0, head=0)
    # a feature without a ranked head (no annotation on this dataset) falls back to contact's top head
    fallback = run_view_many(proteins, att, out, top_heads=enrichment, feature="ptm")
    assert fallback["head"] == "1-1" and "'ptm' lists no head" in fallback["chosen_by"]
    with pytest.raises(PlmscopeError, match="no head listed for feature 'ptm'"):
        top_head(enrichment, feature="ptm")
    explicit = run_view_many(proteins, att, out, protein_ids=["other"], layer=0, head=3, threshold=0.6)
    with pytest.raises(PlmscopeError, match="'bare' has no CA coordinates"):
        run_view_many(proteins, att, out, protein_ids=["other", "bare"], layer=0, head=0)
    assert sorted(p.name for p in out.iterdir()) == [".plmscope-output", "index.html", "other.html"]  # failed runs left it intact


# ---------------------------------------------------------------- real headless browser


def chromium_executable() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no chromium on PATH (Debian: apt-get install -y --no-install-recommends chromium)")


def browse(page: Path, tmp_path: Path, *, fragment: str = "", screenshot: Path | None = None) -> str:
    """Open ``page`` in headless chromium (software WebGL); return the DOM after the scripts ran.

    With ``screenshot``, the same load also writes an 800x600 PNG there.
    """
    exe = chromium_executable()
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    args = [
        exe, "--headless", "--no-sandbox", "--disable-gpu", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
        f"--user-data-dir={profile}", "--window-size=800,600", "--dump-dom",
    ]  # fmt: skip
    args += [f"--screenshot={screenshot}"] if screenshot else []
    proc = subprocess.run([*args, page.as_uri() + fragment], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def body_attributes(dom: str) -> dict[str, str]:
    tag = re.search(r"<body([^>]*)>", dom).group(1)
    return {k: html.unescape(v) for k, v in re.findall(r'([\w-]+)="([^"]*)"', tag)}


def pixel_classes(png: Path) -> dict[str, int]:
    """Counts of attention-red, site-green and helix-blue pixels, and distinct colours, in the 3D area."""
    from PIL import Image

    img = np.asarray(Image.open(png).convert("RGB"), dtype=int)[100:]  # below the control bar
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    return {
        "red": int(((r > g + 60) & (r > b + 40)).sum()),
        "green": int(((g > r + 40) & (g > b + 20)).sum()),
        "blue": int(((b > r + 40) & (b > g + 15)).sum()),
        "background": int(((r > 250) & (g > 250) & (b > 250)).sum()),
        "colours": len(np.unique(img.reshape(-1, 3), axis=0)),
        "pixels": img.shape[0] * img.shape[1],
    }


def test_browser_draws_structure_sites_and_attention(tmp_path):
    chromium_executable()
    record = helix_loop_strand()
    rows = planted_rows()
    page = tmp_path / "toy.html"
    page.write_text(page_for(record, rows, layer=0, head=0, threshold=0.65))  # the fragment picks the head
    seen = {}
    for name, threshold in (("low", 0.3), ("none", 1.0)):
        shot = tmp_path / f"{name}.png"
        fragment = f"#layer=2&head=3&threshold={threshold}"
        attrs = body_attributes(browse(page, tmp_path, fragment=fragment, screenshot=shot))
        assert "data-error" not in attrs and "data-blocked" not in attrs, attrs
        assert (attrs["data-ready"], attrs["data-head"]) == ("1", "head 2-3"), attrs
        assert int(attrs["data-pairs"]) == expected_pairs(rows, record, *SHOWN, threshold), attrs
        assert int(attrs["data-arrows"]) == expected_arrows(rows, record, *SHOWN, threshold), attrs
        seen[name] = pixel_classes(shot)
    assert expected_pairs(rows, record, *SHOWN, 0.3) == 7 and expected_pairs(rows, record, *SHOWN, 1.0) == 0
    assert expected_arrows(rows, record, *SHOWN, 0.3) == 8  # 2 -> 20 and 20 -> 2 are two arrows
    low, none = seen["low"], seen["none"]
    assert low["colours"] > 200, low  # a shaded 3D scene, not a blank canvas
    assert low["background"] < 0.97 * low["pixels"], low
    assert low["green"] > 300 and low["blue"] > 300, low  # binding-site spheres, helix trace
    assert low["red"] > 1000, low  # attention cylinders
    assert none["red"] < 0.02 * low["red"], none  # no weight reaches 1: no cylinder
    assert none["green"] > 300 and none["blue"] > 300, none


def test_browser_follows_the_controls_and_blocks_requests(tmp_path):
    chromium_executable()
    record = helix_loop_strand()
    rows = planted_rows()
    assert expected_pairs(rows, record, *SHOWN, 0.5) == 5  # the planted answer the page must reproduce
    page = tmp_path / "toy.html"
    text = page_for(record, rows)
    # The drop-downs and the slider redraw: drive them as a user would, recording each state.
    states = [(*SHOWN, 0.5), (*SHOWN, 0.3), (0, 0, 0.3), (0, 0, 0.55), (2, 3, 0.55), (2, 3, 0.3), (2, 0, 0.3)]
    steps = "\n".join(f"set({layer}, {head}, {threshold});" for layer, head, threshold in states[1:])
    script = """<script>
      var seen = [document.body.getAttribute("data-pairs")];
      var arrows = [document.body.getAttribute("data-arrows")];
      function set(layer, head, threshold) {
        var l = document.getElementById("layer"), h = document.getElementById("head");
        var s = document.getElementById("threshold");
        if (l.value !== String(layer)) { l.value = String(layer); l.dispatchEvent(new Event("change")); }
        if (h.value !== String(head)) { h.value = String(head); h.dispatchEvent(new Event("change")); }
        if (s.value !== String(threshold)) { s.value = String(threshold); s.dispatchEvent(new Event("input")); }
        seen.push(document.body.getAttribute("data-pairs"));
        arrows.push(document.body.getAttribute("data-arrows"));
      }
      STEPS
      document.body.setAttribute("data-seen", seen.join(","));
      document.body.setAttribute("data-arrows-seen", arrows.join(","));
    </script>
    <img src="https://example.invalid/x.png"></body>""".replace("STEPS", steps)
    page.write_text(text.replace("</body>", script))
    attrs = body_attributes(browse(page, tmp_path))
    assert "data-error" not in attrs and attrs["data-ready"] == "1", attrs
    want = [expected_pairs(rows, record, *state) for state in states]
    assert [int(n) for n in attrs["data-seen"].split(",")] == want
    assert want == [5, 7, 2, 2, 0, 1, 0]
    assert [int(n) for n in attrs["data-arrows-seen"].split(",")] == [expected_arrows(rows, record, *st) for st in states]
    assert int(attrs["data-arrows-seen"].split(",")[1]) == 8  # 2 -> 20 and 20 -> 2 both drawn at 0.3
    assert attrs["data-head"] == "head 3-1"
    # The page's policy blocks any request (here a planted image) and the page reports it.
    assert "example.invalid" in attrs.get("data-blocked", ""), attrs


def test_browser_keeps_the_direction_of_attention(tmp_path):
    """i -> j and j -> i draw different pictures (the cone sits at the attended-to residue)."""
    chromium_executable()
    record = helix_loop_strand()
    record.sites = []
    shots = {}
    for name, (i, j) in (("forward", (2, 24)), ("backward", (24, 2))):
        rows = pd.DataFrame({"layer": [1], "head": [2], "i": [i], "j": [j], "weight": [0.9]})
        page = tmp_path / f"{name}.html"
        page.write_text(page_for(record, rows.astype({"weight": "float32"})))
        shots[name] = tmp_path / f"{name}.png"
        attrs = body_attributes(browse(page, tmp_path, screenshot=shots[name]))
        assert (attrs["data-arrows"], attrs["data-pairs"]) == ("1", "1"), attrs
    from PIL import Image

    def red_mask(path):
        img = np.asarray(Image.open(path).convert("RGB"), dtype=int)[100:]
        return (img[..., 0] > img[..., 1] + 60) & (img[..., 0] > img[..., 2] + 40)

    forward, backward = red_mask(shots["forward"]), red_mask(shots["backward"])
    assert forward.sum() > 300 and backward.sum() > 300
    # A symmetrised drawing would give the same red pixels; the arrow heads sit at opposite ends.
    assert (forward ^ backward).sum() > 0.2 * forward.sum()


def test_browser_shows_a_real_structure(shared_data, tmp_path):
    record, rows = record_from_pdb(shared_data / "pdb" / "1A8O.pdb")
    page = tmp_path / "1A8O.html"
    page.write_text(render_viewer_html(record, rows, model="planted", layer=0, head=0, threshold=0.3,
                                       num_layers=1, num_heads=1))  # fmt: skip
    shot = tmp_path / "1A8O.png"
    browse(page, tmp_path, screenshot=shot)
    seen = pixel_classes(shot)
    assert seen["colours"] > 200 and seen["red"] > 1000 and seen["green"] > 300 and seen["blue"] > 1000, seen


def record_from_pdb(path: Path) -> tuple[ProteinRecord, pd.DataFrame]:
    """Chain A of a PDB file as a record (helices from its HELIX records) and planted contact attention."""
    from Bio.Data.PDBData import protein_letters_3to1_extended

    chain = PDBParser(QUIET=True).get_structure("s", path)[0]["A"]
    residues = [r for r in chain if "CA" in r and r.get_resname() in protein_letters_3to1_extended]
    numbers = [r.id[1] for r in residues]
    ss = ["-"] * len(residues)
    for line in path.read_text().splitlines():
        if line.startswith("HELIX "):
            start, end = int(line[21:25]), int(line[33:37])
            ss = ["H" if start <= n <= end else s for n, s in zip(numbers, ss)]
    ca = np.array([r["CA"].coord for r in residues])
    sequence = "".join(protein_letters_3to1_extended[r.get_resname()] for r in residues)
    record = ProteinRecord(id=path.stem, sequence=sequence, ca=ca, ss8="".join(ss), sites=[10, 30, 50],
                           source=str(path))  # fmt: skip
    dist = np.linalg.norm(ca[:, None] - ca[None], axis=-1)
    i, j = np.nonzero((dist < 8) & (np.abs(np.subtract.outer(np.arange(len(ca)), np.arange(len(ca)))) >= 6))
    rows = pd.DataFrame({"layer": 0, "head": 0, "i": i, "j": j, "weight": 0.3 + 0.6 * (8 - dist[i, j]) / 8})
    return record, rows
