"""Sequence-level attention views: embedded data, offline page, drawing and controls in headless Chromium."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from plmscope.attention.dataset import ATTENTION_SCHEMA
from plmscope.errors import PlmscopeError
from plmscope.viz.attention_views import render_attention_views_html, write_attention_views

SEQUENCE = (
    "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQFEVVHSLAKWKRQTLGQHDFSAGEGLYTHMKALR"
    "PDEDRLSPLHSVYVDQWDWERVMGDGERQFSTLKSTVEAIWAGIKATEAAVSEEFGLAPFLPDQIHFVHSQELLSRYPDLDAKGRERAIAKDLGAVFLVG"
    "IGGKLSDGHRHDVRAPDYDDWSTPSELGHAGLNGDILVWNPVLEDAFELSSMGIRVDADTLKHQLALTGDEDRLELEWHQALLRGEMPQTIGGGIGQSRL"
    "TMLLLQLPHIGQVQAGVWPAACR"
)
LAYERS, HEADS = 3, 4


def planted_rows() -> pd.DataFrame:
    """Three heads with known patterns: 1-1 next residue, 2-3 previous residue, 3-4 to residue 1 (0-based 0)."""
    n = len(SEQUENCE)
    k = np.arange(n)
    parts = [
        pd.DataFrame({"layer": 0, "head": 0, "i": k[:-1], "j": k[:-1] + 1, "weight": 0.9}),
        pd.DataFrame({"layer": 1, "head": 2, "i": k[1:], "j": k[1:] - 1, "weight": np.linspace(0.2, 0.8, n - 1)}),
        pd.DataFrame({"layer": 2, "head": 3, "i": k, "j": 0, "weight": 0.5}),  # includes the self row 0 -> 0
    ]
    rows = pd.concat(parts, ignore_index=True)
    rows.insert(0, "protein_id", "toy")
    return rows.astype({"layer": "int16", "head": "int16", "i": "int32", "j": "int32", "weight": "float32"})


def page_for(rows: pd.DataFrame | None = None, **options) -> str:
    kwargs = {"protein_id": "toy", "model": "toy_model", "num_layers": LAYERS, "num_heads": HEADS, **options}
    return render_attention_views_html(planted_rows() if rows is None else rows, SEQUENCE, **kwargs)


def embedded(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="plmscope-data">(.*?)</script>', page, re.S)
    return json.loads(match.group(1))


def test_page_embeds_every_head_and_is_self_contained():
    page = page_for(layer=1, head=2)
    data = embedded(page)
    assert set(data["heads"]) == {"0-0", "1-2", "2-3"}
    assert (data["layer"], data["head"], data["sequence"]) == (1, 2, SEQUENCE)
    assert len(data["heads"]["1-2"]["i"]) == len(SEQUENCE) - 1
    assert not re.search(r"<script[^>]*\ssrc\s*=", page, re.I)
    assert not re.search(r"<link\b", page, re.I)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "default-src 'none'" in page


def test_page_accepts_an_arrow_table_and_checks_input():
    table = pa.Table.from_pandas(planted_rows(), schema=ATTENTION_SCHEMA, preserve_index=False)
    assert embedded(render_attention_views_html(table, SEQUENCE, protein_id="toy", model="m", num_layers=LAYERS,
                                                num_heads=HEADS))["heads"].keys() == {"0-0", "1-2", "2-3"}  # fmt: skip
    with pytest.raises(PlmscopeError, match="rows of protein 'toy' given for 'other'"):
        page_for(protein_id="other")
    with pytest.raises(PlmscopeError, match="layer: must lie in 0..2"):
        page_for(layer=3)
    with pytest.raises(PlmscopeError, match=r"i 10 outside 0\.\.9"):
        render_attention_views_html(planted_rows(), SEQUENCE[:10], protein_id="toy", model="m", num_layers=LAYERS,
                                    num_heads=HEADS)  # fmt: skip
    hostile = planted_rows().assign(protein_id="</script><b>")
    page = render_attention_views_html(hostile, SEQUENCE, protein_id="</script><b>", model="m", num_layers=LAYERS,
                                       num_heads=HEADS)  # fmt: skip
    assert page.count("</script>") == 3 and embedded(page)["protein"] == "</script><b>"


def test_write_attention_views_summary(tmp_path):
    out = tmp_path / "views" / "toy.html"
    summary = write_attention_views(planted_rows(), SEQUENCE, out, protein_id="toy", model="m", num_layers=LAYERS,
                                    num_heads=HEADS, layer=2, head=3, min_weight=0.5)  # fmt: skip
    rows = planted_rows()
    assert summary["rows"] == int((rows.weight >= 0.5).sum()) and summary["head"] == "3-4"
    assert summary["heads_with_rows"] == 3
    assert list(out.parent.iterdir()) == [out]
    assert min(w for v in embedded(out.read_text())["heads"].values() for w in v["w"]) >= 5000


# ---------------------------------------------------------------- headless Chromium


def chromium_executable() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no chromium on PATH (Debian: apt-get install -y --no-install-recommends chromium)")


def browse(page: Path, tmp_path: Path, *, fragment: str = "", screenshot: Path | None = None) -> str:
    """Open ``page`` in headless Chromium; return the DOM after the scripts ran."""
    exe = chromium_executable()
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    args = [
        exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
        "--window-size=1200,1000", "--dump-dom",
    ]  # fmt: skip
    args += [f"--screenshot={screenshot}"] if screenshot else []
    proc = subprocess.run([*args, page.as_uri() + fragment], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def body_attributes(dom: str) -> dict[str, str]:
    tag = re.search(r"<body([^>]*)>", dom).group(1)
    return {k: html.unescape(v) for k, v in re.findall(r'([\w-]+)="([^"]*)"', tag)}


def test_browser_draws_arcs_heatmap_and_thumbnails(tmp_path):
    chromium_executable()
    page = tmp_path / "toy.html"
    page.write_text(page_for(layer=0, head=0))
    shot = tmp_path / "shot.png"
    dom = browse(page, tmp_path, fragment="#layer=2&head=3&threshold=0.5", screenshot=shot)
    attrs = body_attributes(dom)
    assert "data-error" not in attrs and "data-blocked" not in attrs, attrs
    assert (attrs["data-ready"], attrs["data-head"], attrs["data-thumbnails"]) == ("1", "2-3", "3"), attrs
    rows = planted_rows()
    shown = rows[(rows["layer"] == 1) & (rows["head"] == 2) & (rows["weight"] >= np.float32(0.5))]
    assert int(attrs["data-arcs"]) == len(shown) == len(re.findall(r'<path class="arc"', dom))
    # Every arc goes to the previous residue, drawn below the axis (the residue band's lower edge).
    ends = re.findall(r'<path class="arc" d="M([\d.]+),([\d.]+) A[\d.,]+ 0 0,1 ([\d.]+),([\d.]+)"', dom)
    assert len(ends) == len(shown) and all(float(x1) < float(x0) and y0 == y1 for x0, y0, x1, y1 in ends)
    assert len(set(y for _, y, _, _ in ends)) == 1
    assert len(re.findall(r"<canvas[^>]*data-head=", dom)) == LAYERS * HEADS
    assert re.findall(r'<canvas[^>]*class="selected"[^>]*>', dom) == re.findall(r'<canvas[^>]*data-head="2-3"[^>]*>', dom)
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("RGB"), dtype=int)
    blue = (img[..., 2] > img[..., 0] + 40).sum()
    assert blue > 500, blue  # arcs, heatmap cells and thumbnails are drawn


def test_browser_selector_hover_and_thumbnail_click(tmp_path):
    chromium_executable()
    page = tmp_path / "toy.html"
    script = """<script>
      var seen = [];
      function record() { seen.push(document.body.getAttribute("data-head") + "/" +
                                    document.body.getAttribute("data-arcs")); }
      record();
      var l = document.getElementById("layer"), h = document.getElementById("head");
      l.value = "2"; l.dispatchEvent(new Event("change")); record();
      h.value = "3"; h.dispatchEvent(new Event("change")); record();
      window.plmscopeHighlight(0);
      var hover = document.body.getAttribute("data-hover");
      var painted = 0;
      document.querySelectorAll("#grid canvas").forEach(function (c) {
        var px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        for (var k = 0; k < px.length; k += 4) { if (px[k + 3] > 0 && px[k] < 250) { painted++; break; } }
      });
      document.querySelector('#grid canvas[data-head="1-1"]').dispatchEvent(new MouseEvent("click"));
      record();
      document.body.setAttribute("data-seen", seen.join(","));
      document.body.setAttribute("data-hover-seen", hover);
      document.body.setAttribute("data-painted", String(painted));
    </script>
    <img src="https://example.invalid/x.png"></body>"""
    page.write_text(page_for(layer=1, head=2).replace("</body>", script))
    attrs = body_attributes(browse(page, tmp_path))
    assert "data-error" not in attrs and attrs["data-ready"] == "1", attrs
    n = len(SEQUENCE)
    assert attrs["data-seen"].split(",") == [f"2-3/{n - 1}", "3-3/0", f"3-4/{n - 1}", f"1-1/{n - 1}"]
    # Head 3-4: every residue attends to residue 1, which attends only to itself (not an arc).
    assert attrs["data-hover-seen"] == f"1:0:{n - 1}"
    assert attrs["data-painted"] == "3"  # the three heads with rows have painted thumbnails
    assert attrs["data-head"] == "1-1"
    assert "example.invalid" in attrs.get("data-blocked", ""), attrs  # the policy blocks any request
