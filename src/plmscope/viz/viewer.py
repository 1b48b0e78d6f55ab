"""A standalone, offline HTML page showing one protein's attention heads as arrows on its 3D structure."""

from __future__ import annotations

import html
import json
import math
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from plmscope.viz.head_controls import HEAD_CONTROLS_JS
from plmscope.data.table import ProteinRecord
from plmscope.errors import PlmscopeError

ATTENTION_ROW_COLUMNS: tuple[str, ...] = ("layer", "head", "i", "j", "weight")
"""Columns the viewer needs from the attention rows of one protein (0-based layer, head, i, j)."""

WEIGHT_DECIMALS = 4
"""Attention weights are embedded rounded to this many decimals (as integers in units of 1e-4)."""

THREE_LETTER: dict[str, str] = {
    "A": "ALA", "R": "ARG", "N": "ASN", "D": "ASP", "C": "CYS", "Q": "GLN", "E": "GLU", "G": "GLY",
    "H": "HIS", "I": "ILE", "L": "LEU", "K": "LYS", "M": "MET", "F": "PHE", "P": "PRO", "S": "SER",
    "T": "THR", "W": "TRP", "Y": "TYR", "V": "VAL", "U": "SEC", "O": "PYL",
}  # fmt: skip
"""One-letter to PDB residue name; anything else is written as ``UNK``."""

HELIX_CLASSES: dict[str, int] = {"H": 1, "I": 3, "G": 5}
"""DSSP helix letters and their PDB HELIX class (1 right-handed alpha, 3 pi, 5 3-10)."""

STRAND_LETTERS = "E"
"""DSSP letters written as SHEET records (isolated bridges ``B`` are left as coil)."""

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:"
)
"""The page's policy: inline script and style only, no request to any server (not even file://)."""

ASSET_PACKAGE = "plmscope.viz"
ASSET_3DMOL = "assets/3Dmol-min.js"


@lru_cache(maxsize=1)
def three_dmol_js() -> str:
    """The vendored 3Dmol.js (minified), read from the package data.

    Raises:
        PlmscopeError: the asset is missing from the installation.
    """
    try:
        text = resources.files(ASSET_PACKAGE).joinpath(ASSET_3DMOL).read_text(encoding="utf-8")
    except (FileNotFoundError, OSError) as exc:
        raise PlmscopeError(
            f"{ASSET_PACKAGE}/{ASSET_3DMOL}: vendored 3Dmol.js not found in the installed package ({exc}); "
            "reinstall plmscope or run scripts/vendor_3dmol.sh"
        ) from None
    if "</script" in text.lower():
        raise PlmscopeError(f"{ASSET_PACKAGE}/{ASSET_3DMOL}: contains '</script' and cannot be inlined")
    return text


def ca_pdb(record: ProteinRecord, *, chain: str = "A") -> str:
    """A CA-only PDB text of the record, with HELIX/SHEET records derived from its DSSP string.

    Residue ``k`` (0-based) is written as residue number ``k + 1``; residues without coordinates
    are left out, and secondary-structure segments are split where they are.

    Args:
        record: a protein with ``ca`` ``(L, 3)`` in Å.
        chain: one-character chain identifier.

    Returns:
        PDB text (HELIX, SHEET, ATOM and TER records). There is no ``END`` record: 3Dmol.js
        (2.5) forgets HELIX/SHEET assignments when it reads one.

    Raises:
        PlmscopeError: the record has no coordinates, or a coordinate does not fit the PDB format.
    """
    mask = _coordinate_mask(record)
    ca = np.asarray(record.ca, dtype=np.float64)
    if np.abs(ca[mask]).max(initial=0.0) >= 1e4:
        raise PlmscopeError(f"{record.source or record.id}: coordinates of {record.id!r} exceed the PDB range")
    names = [THREE_LETTER.get(a, "UNK") for a in record.sequence.upper()]
    lines: list[str] = []
    for n, (letter, start, end) in enumerate(_segments(record.ss8, mask, HELIX_CLASSES), start=1):
        lines.append(
            f"HELIX  {n:3d} {n:3d} {names[start]} {chain} {start + 1:4d}  {names[end]} {chain} {end + 1:4d} "
            f"{HELIX_CLASSES[letter]:2d}{'':30s} {end - start + 1:5d}"
        )
    strands = list(_segments(record.ss8, mask, dict.fromkeys(STRAND_LETTERS)))
    for n, (_, start, end) in enumerate(strands, start=1):
        lines.append(
            f"SHEET  {n:3d} {n:>3d} 1 {names[start]} {chain}{start + 1:4d}  {names[end]} {chain}{end + 1:4d}  0"
        )
    serial = 0
    for k in np.flatnonzero(mask):
        serial += 1
        x, y, z = ca[k]
        lines.append(
            f"ATOM  {serial:5d}  CA  {names[k]} {chain}{k + 1:4d}    {x:8.3f}{y:8.3f}{z:8.3f}{1.0:6.2f}{0.0:6.2f}"
            f"{'':10s} C"
        )
    lines.append(f"TER   {serial + 1:5d}      {names[int(np.flatnonzero(mask)[-1])]} {chain}")
    return "\n".join(lines) + "\n"


def pack_attention(
    rows: pd.DataFrame, *, num_layers: int, num_heads: int, length: int, min_weight: float
) -> dict[str, dict[str, list[int]]]:
    """Group one protein's attention rows by head into compact integer columns.

    Args:
        rows: columns :data:`ATTENTION_ROW_COLUMNS` (any extra columns are ignored).
        num_layers: layers of the model.
        num_heads: heads per layer.
        length: residues of the protein; ``i`` and ``j`` must lie in ``0..length-1``.
        min_weight: rows with a lower weight (compared in float32) are dropped.

    Returns:
        ``{"<layer>-<head>" (0-based): {"i": [...], "j": [...], "w": [...]}}`` with weights as
        integers in units of ``10**-WEIGHT_DECIMALS``; heads without rows are absent.

    Raises:
        PlmscopeError: missing columns, or a layer, head or residue index out of range.
    """
    missing = [c for c in ATTENTION_ROW_COLUMNS if c not in rows.columns]
    if missing:
        raise PlmscopeError(f"attention rows lack column(s) {missing}")
    weight = rows["weight"].to_numpy(dtype=np.float32)
    keep = weight >= np.float32(min_weight)  # in float32, as the weights were thresholded
    layer, head, i, j = (rows[c].to_numpy()[keep].astype(np.int64) for c in ("layer", "head", "i", "j"))
    weight = weight[keep]
    for name, values, bound in (("layer", layer, num_layers), ("head", head, num_heads), ("i", i, length),
                                ("j", j, length)):  # fmt: skip
        if len(values) and (values.min() < 0 or values.max() >= bound):
            bad = int(values[(values < 0) | (values >= bound)][0])
            raise PlmscopeError(f"attention rows: {name} {bad} outside 0..{bound - 1}")
    scaled = np.rint(weight.astype(np.float64) * 10**WEIGHT_DECIMALS).astype(np.int64)
    order = np.lexsort((j, i, head, layer))
    layer, head, i, j, scaled = layer[order], head[order], i[order], j[order], scaled[order]
    flat = layer * num_heads + head
    starts = np.flatnonzero(np.r_[True, flat[1:] != flat[:-1]]) if len(flat) else np.array([], dtype=np.int64)
    ends = np.r_[starts[1:], len(flat)]
    return {
        f"{layer[s]}-{head[s]}": {"i": i[s:e].tolist(), "j": j[s:e].tolist(), "w": scaled[s:e].tolist()}
        for s, e in zip(starts, ends)
    }


def render_viewer_html(
    record: ProteinRecord,
    attention_rows: pd.DataFrame,
    *,
    model: str,
    layer: int,
    head: int,
    threshold: float,
    num_layers: int,
    num_heads: int,
    min_weight: float | None = None,
) -> str:
    """A self-contained HTML page: the structure as a cartoon and one head's attention as arrows.

    Every head's rows are embedded, so the page can switch head (layer and head drop-downs) and
    threshold (slider) without a server or network: 3Dmol.js is inlined. Each row ``i -> j``
    with ``i != j`` and a weight at least the threshold is drawn as an arrow from the CA of ``i``
    (the attending residue) to the CA of ``j`` (the attended-to residue, cone end), radius
    proportional to the weight; attention is not symmetrised, so a pair attending both ways shows
    two cones. Binding-site residues are drawn as spheres. ``<body>`` gets ``data-arrows``
    (directed rows drawn) and ``data-pairs`` (distinct residue pairs among them). The URL fragment
    ``#layer=L&head=H&threshold=T`` (1-based layer and head, as in enrichment labels) selects the
    view and is updated when the controls change.

    Args:
        record: the protein; needs ``ca`` ``(L, 3)`` coordinates.
        attention_rows: the protein's thresholded attention of all heads: columns
            :data:`ATTENTION_ROW_COLUMNS`, ``layer``/``head``/``i``/``j`` 0-based.
        model: model name shown in the page.
        layer: initially shown layer, 0-based.
        head: initially shown head, 0-based.
        threshold: initial attention threshold, in ``(0, 1]``.
        num_layers: layers of the model.
        num_heads: heads per layer.
        min_weight: rows below it are not embedded and the slider starts there; None for the
            smaller of ``threshold`` and the smallest weight in ``attention_rows``.

    Returns:
        The HTML text (UTF-8, no external resources).

    Raises:
        PlmscopeError: no coordinates, layer/head/threshold out of range, or malformed rows.
    """
    where = record.source or record.id
    for name, value in (("num_layers", num_layers), ("num_heads", num_heads)):
        if int(value) != value or value < 1:
            raise PlmscopeError(f"{name}: must be a positive integer, got {value}")
    if int(layer) != layer or not 0 <= layer < num_layers:
        raise PlmscopeError(f"layer: must lie in 0..{num_layers - 1} ({model} has {num_layers} layers), got {layer}")
    if int(head) != head or not 0 <= head < num_heads:
        raise PlmscopeError(f"head: must lie in 0..{num_heads - 1} ({model} has {num_heads} heads), got {head}")
    if not 0 < threshold <= 1:
        raise PlmscopeError(f"threshold: must lie in (0, 1], got {threshold}")
    if min_weight is None:
        smallest = float(attention_rows["weight"].min()) if "weight" in attention_rows and len(attention_rows) else 1.0
        min_weight = min(threshold, smallest)
    if not 0 < min_weight <= threshold:
        raise PlmscopeError(f"min_weight: must lie in (0, threshold={threshold}], got {min_weight}")
    pdb = ca_pdb(record)
    try:
        heads = pack_attention(
            attention_rows, num_layers=num_layers, num_heads=num_heads, length=len(record.sequence),
            min_weight=min_weight,
        )  # fmt: skip
    except PlmscopeError as exc:
        raise PlmscopeError(f"{where}: {record.id!r}: {exc}") from None
    data = {
        "protein": record.id,
        "model": model,
        "length": len(record.sequence),
        "sequence": record.sequence,
        "sites": list(record.sites or []),
        "has_sites": record.sites is not None,
        "num_layers": int(num_layers),
        "num_heads": int(num_heads),
        "layer": int(layer),
        "head": int(head),
        "threshold": round(float(threshold), WEIGHT_DECIMALS),
        "min_weight": math.floor(float(min_weight) * 100) / 100,
        "scale": 10**WEIGHT_DECIMALS,
        "pdb": pdb,
        "heads": heads,
    }
    title = f"{record.id} · {model} attention"
    return (
        _TEMPLATE.replace("@TITLE@", html.escape(title))
        .replace("@PROTEIN@", html.escape(record.id))
        .replace("@MODEL@", html.escape(model))
        .replace("@CSP@", CONTENT_SECURITY_POLICY)
        .replace("@DATA@", _script_json(data))
        .replace("@APP@", _APP_JS)
        .replace("@THREEDMOL@", three_dmol_js())
    )


def _coordinate_mask(record: ProteinRecord) -> np.ndarray:
    """``(L,)`` bool: residues with finite CA coordinates; raise when there are none."""
    if record.ca is None:
        raise PlmscopeError(f"{record.source or record.id}: protein {record.id!r} has no CA coordinates to show")
    ca = np.asarray(record.ca, dtype=np.float64)
    mask = np.isfinite(ca).all(axis=1)
    if record.valid is not None:
        mask &= np.asarray(record.valid, dtype=bool)
    if not mask.any():
        raise PlmscopeError(f"{record.source or record.id}: protein {record.id!r} has no residue with coordinates")
    return mask


def _segments(ss8: str | None, mask: np.ndarray, letters) -> list[tuple[str, int, int]]:
    """Maximal runs ``(letter, start, end)`` (inclusive, 0-based) of one letter of ``letters`` within ``mask``."""
    if ss8 is None:
        return []
    runs: list[tuple[str, int, int]] = []
    start = None
    for k, letter in enumerate(ss8 + "\0"):
        inside = k < len(mask) and mask[k] and letter in letters
        if start is not None and (not inside or letter != ss8[start]):
            runs.append((ss8[start], start, k - 1))
            start = None
        if inside and start is None:
            start = k
    return runs


def _script_json(data: dict) -> str:
    """JSON safe to place inside a ``<script>`` element (no ``<`` can end the block)."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="@CSP@">
<title>@TITLE@</title>
<style>
  html, body { margin: 0; height: 100%; font: 14px/1.4 system-ui, sans-serif; color: #222; }
  body { display: flex; flex-direction: column; }
  #controls { display: flex; flex-wrap: wrap; gap: 4px 14px; align-items: center; padding: 6px 10px;
              border-bottom: 1px solid #ccc; background: #f6f6f6; }
  #controls label { white-space: nowrap; }
  #threshold { width: 160px; vertical-align: middle; }
  #status { color: #555; }
  .site { color: #1a9e3a; font-weight: bold; }
  .pair { color: #c0392b; font-weight: bold; }
  .helix { color: #5b84c4; font-weight: bold; }
  .strand { color: #9467bd; font-weight: bold; }
  #viewer { position: relative; flex: 1; min-height: 300px; }
</style>
</head>
<body>
<div id="controls">
  <span><b>@PROTEIN@</b> &middot; @MODEL@</span>
  <label>Layer <select id="layer"></select></label>
  <label>Head <select id="head"></select></label>
  <label>Threshold <input id="threshold" type="range" max="1" step="0.01">
    <output id="threshold-value"></output></label>
  <span id="status">loading&hellip;</span>
  <span><span class="pair">&#9644;&#9654;</span> residue i attends to j (cone at j, radius &prop; weight)
        <span class="site">&#9679;</span> binding site
        <span class="helix">&#9644;</span> helix <span class="strand">&#9644;</span> strand</span>
</div>
<div id="viewer"></div>
<script>
  // The page is self-contained: the policy above blocks any network request; record attempts.
  document.addEventListener("securitypolicyviolation", function (event) {
    var seen = document.body.getAttribute("data-blocked");
    var what = event.blockedURI || event.violatedDirective;
    document.body.setAttribute("data-blocked", (seen ? seen + " " : "") + what);
  });
</script>
<script type="application/json" id="plmscope-data">@DATA@</script>
<script>
@THREEDMOL@
</script>
<script>
@APP@
</script>
</body>
</html>
"""

_APP_JS = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("plmscope-data").textContent);
  var status = document.getElementById("status");
  var layerSel = document.getElementById("layer");
  var headSel = document.getElementById("head");
  var slider = document.getElementById("threshold");
  var sliderValue = document.getElementById("threshold-value");
  var MAX_RADIUS = 0.8;  // Angstrom, at weight 1
  var COIL = "#a0a8b0", HELIX = "#5b84c4", STRAND = "#9467bd", SITE = "#1a9e3a";
  var COLOUR_BINS = 10;  // one 3Dmol shape per colour: a shape paints all its cylinders one colour

  function fail(message) {
    status.textContent = "error: " + message;
    document.body.setAttribute("data-error", message);
  }
  window.addEventListener("error", function (event) {
    // Browsers report this benign layout notice as an error; it does not affect the page.
    if (!/ResizeObserver loop/.test(String(event.message))) { fail(String(event.message)); }
  });

@HEAD_CONTROLS@

  // Colour from pale orange (low weight) to dark red (weight 1).
  function colour(w) {
    var t = Math.max(0, Math.min(1, w));
    var r = Math.round(253 + (165 - 253) * t), g = Math.round(174 + (0 - 174) * t), b = Math.round(97 + (38 - 97) * t);
    return (1 << 24 | r << 16 | g << 8 | b).toString(16).replace(/^1/, "#");
  }

  var viewer = $3Dmol.createViewer(document.getElementById("viewer"), { backgroundColor: "white" });
  // CA-only: 3Dmol's own assignment needs backbone N/O; the HELIX/SHEET records give it instead.
  var model = viewer.addModel(data.pdb, "pdb", { noComputeSecondaryStructure: true });
  var atomOf = {};
  model.selectedAtoms({}).forEach(function (a) { atomOf[a.resi - 1] = a; });
  // CA-only input: 3Dmol's ribbon cartoon needs carbonyl O atoms to orient, so the backbone is
  // drawn in the "trace" cartoon style (cylinders between consecutive CA atoms, broken at gaps),
  // thicker and coloured where the HELIX/SHEET records mark secondary structure.
  viewer.setStyle({}, { cartoon: { style: "trace", color: COIL, thickness: 0.3 } });
  viewer.setStyle({ ss: "h" }, { cartoon: { style: "trace", color: HELIX, thickness: 0.7 } });
  viewer.setStyle({ ss: "s" }, { cartoon: { style: "trace", color: STRAND, thickness: 0.7 } });
  if (data.sites.length) {
    var siteResi = data.sites.filter(function (k) { return k in atomOf; }).map(function (k) { return k + 1; });
    if (siteResi.length) { viewer.addStyle({ resi: siteResi }, { sphere: { radius: 1.1, color: SITE } }); }
  }
  viewer.setHoverable({}, true, function (atom, v) {
    if (!atom.label) {
      atom.label = v.addLabel(atom.resn + " " + atom.resi, { position: atom, backgroundColor: "#333", fontSize: 12 });
    }
  }, function (atom, v) {
    if (atom.label) { v.removeLabel(atom.label); delete atom.label; }
  });
  viewer.zoomTo();

  // Directed edges i -> j (i != j, both with coordinates) at or above the threshold: "i,j" -> weight.
  function edges() {
    var rows = data.heads[state.layer + "-" + state.head];
    var out = {};
    if (!rows) { return out; }
    var cut = state.threshold * data.scale - 1e-6;
    for (var k = 0; k < rows.w.length; k++) {
      var i = rows.i[k], j = rows.j[k], w = rows.w[k];
      if (i === j || w < cut || !(i in atomOf) || !(j in atomOf)) { continue; }
      out[i + "," + j] = w;
    }
    return out;
  }

  // The arrow stops short of residue j's CA so that its cone stays visible beside a site sphere.
  var TIP_GAP = 1.2;  // Angstrom
  function redraw() {
    layerSel.value = String(state.layer);
    headSel.value = String(state.head);
    slider.value = String(state.threshold);
    sliderValue.textContent = state.threshold.toFixed(2);
    viewer.removeAllShapes();
    var directed = edges();
    var keys = Object.keys(directed), pairs = {};
    var shapes = {};
    keys.forEach(function (key) {
      var ij = key.split(","), a = atomOf[ij[0]], b = atomOf[ij[1]], w = directed[key] / data.scale;
      pairs[Math.min(+ij[0], +ij[1]) + "," + Math.max(+ij[0], +ij[1])] = true;
      var bin = Math.min(COLOUR_BINS - 1, Math.floor(w * COLOUR_BINS));
      if (!(bin in shapes)) { shapes[bin] = viewer.addShape({ color: colour((bin + 0.5) / COLOUR_BINS) }); }
      var dx = b.x - a.x, dy = b.y - a.y, dz = b.z - a.z, d = Math.sqrt(dx * dx + dy * dy + dz * dz) || 1;
      var f = Math.max(0.5, (d - TIP_GAP) / d);
      // Cylinder from i, cone (head) pointing at j: the direction of attention stays visible, and a
      // pair attending both ways shows two heads.
      shapes[bin].addArrow({
        start: { x: a.x, y: a.y, z: a.z }, end: { x: a.x + f * dx, y: a.y + f * dy, z: a.z + f * dz },
        radius: Math.max(0.08, MAX_RADIUS * w), radiusRatio: 2.2, mid: Math.max(0.5, 1 - 2.5 / d)
      });
    });
    viewer.render();
    var nPairs = Object.keys(pairs).length;
    var label = "head " + (state.layer + 1) + "-" + (state.head + 1);
    status.textContent = label + ": " + keys.length + " arrow" + (keys.length === 1 ? "" : "s") + " i \u2192 j on " +
      nPairs + " residue pair" + (nPairs === 1 ? "" : "s") + " with attention \u2265 " + state.threshold.toFixed(2) +
      (data.has_sites ? "; " + data.sites.length + " binding-site residue" + (data.sites.length === 1 ? "" : "s")
                      : "; no binding-site annotation");
    document.body.setAttribute("data-pairs", String(nPairs));
    document.body.setAttribute("data-arrows", String(keys.length));
    document.body.setAttribute("data-head", label);
    document.body.setAttribute("data-threshold", String(state.threshold));
    writeHash();
  }

  layerSel.addEventListener("change", function () { state.layer = parseInt(layerSel.value, 10); redraw(); });
  headSel.addEventListener("change", function () { state.head = parseInt(headSel.value, 10); redraw(); });
  slider.addEventListener("input", function () { state.threshold = parseFloat(slider.value); redraw(); });
  window.addEventListener("hashchange", function () { readHash(); redraw(); });
  window.addEventListener("resize", function () { viewer.resize(); viewer.render(); });

  try {
    readHash();
    redraw();
    document.body.setAttribute("data-ready", "1");
  } catch (e) {
    fail(String(e && e.message || e));
  }
})();
""".replace("@HEAD_CONTROLS@", HEAD_CONTROLS_JS)
