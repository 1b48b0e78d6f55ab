"""Sequence-level attention views of one protein as a standalone, offline HTML page (head view and model view).

In the spirit of bertviz (Vig 2019, Apache-2.0), redrawn for proteins: bertviz 1.4's head view
loads d3 and jQuery from a CDN through require.js and lists tokens in two columns, which does not
open offline and grows too tall for 50-1000 residues, so no bertviz code is used. Here the head
view is an arc diagram (query residue ``i`` -> key residue ``j``, arrowhead at ``j``; arcs above
the axis go to a later residue, below to an earlier one) beside the head's ``(L, L)`` heatmap, and
the model view is a layer x head grid of heatmap thumbnails. Everything is inline JavaScript and
CSS with no dependency, under a policy that blocks every request.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from plmscope.viz.head_controls import HEAD_CONTROLS_JS
from plmscope.errors import PlmscopeError
from plmscope.io import atomic_path
from plmscope.viz.viewer import (
    ATTENTION_ROW_COLUMNS,
    CONTENT_SECURITY_POLICY,
    WEIGHT_DECIMALS,
    _script_json,
    pack_attention,
)

LETTERS_UP_TO = 150
"""Sequences up to this length show one letter per residue on the arc axis; longer ones show ticks."""


def render_attention_views_html(
    rows: pd.DataFrame | pa.Table,
    sequence: str,
    *,
    protein_id: str,
    model: str,
    num_layers: int,
    num_heads: int,
    layer: int = 0,
    head: int = 0,
    min_weight: float | None = None,
) -> str:
    """A self-contained HTML page with a head view and a model view of one protein's attention.

    Head view: layer and head drop-downs and a threshold slider; an arc diagram with one arc per
    row ``i -> j`` (``i != j``), opacity = weight, arrowhead at ``j``; hovering a residue colours
    what it attends to (red) and what attends to it (green). Beside it, the head's ``(L, L)``
    heatmap (row ``i``, column ``j``). Model view: a grid of every head's heatmap thumbnail;
    clicking one opens that head in the head view. Layers, heads and residues are shown 1-based;
    the URL fragment ``#layer=L&head=H&threshold=T`` (1-based) selects the head.

    The page sets attributes on ``<body>`` for tests and scripts: ``data-ready="1"``,
    ``data-head="L-H"`` (1-based), ``data-arcs`` (arcs drawn), ``data-self`` (rows ``i == i``
    at the threshold, shown only in the heatmap), ``data-thumbnails`` (heads with at least one
    row), ``data-error`` and ``data-blocked`` (a request the policy refused).

    Args:
        rows: the protein's thresholded attention: columns :data:`ATTENTION_ROW_COLUMNS`
            (``layer``, ``head``, ``i``, ``j`` 0-based, as stored); an optional ``protein_id``
            column must hold only ``protein_id``.
        sequence: the protein's residues (one letter each); ``i`` and ``j`` index it.
        protein_id: shown in the page.
        model: model name shown in the page.
        num_layers: layers of the model.
        num_heads: heads per layer.
        layer: initially shown layer, 0-based.
        head: initially shown head, 0-based.
        min_weight: rows below it are not embedded and the slider starts there; None keeps every row.

    Returns:
        The HTML text (UTF-8, no external resources).

    Raises:
        PlmscopeError: empty sequence, layer/head out of range, malformed rows or rows of another protein.
    """
    if isinstance(rows, pa.Table):
        rows = rows.to_pandas()
    for name, value in (("num_layers", num_layers), ("num_heads", num_heads)):
        if int(value) != value or value < 1:
            raise PlmscopeError(f"{name}: must be a positive integer, got {value}")
    if int(layer) != layer or not 0 <= layer < num_layers:
        raise PlmscopeError(f"layer: must lie in 0..{num_layers - 1} ({model} has {num_layers} layers), got {layer}")
    if int(head) != head or not 0 <= head < num_heads:
        raise PlmscopeError(f"head: must lie in 0..{num_heads - 1} ({model} has {num_heads} heads), got {head}")
    if not sequence:
        raise PlmscopeError(f"{protein_id!r}: empty sequence")
    if "protein_id" in rows.columns and len(rows):
        other = rows.loc[rows["protein_id"].astype(str) != str(protein_id), "protein_id"]
        if len(other):
            raise PlmscopeError(f"attention rows of protein {other.iloc[0]!r} given for {protein_id!r}")
    smallest = float(rows["weight"].min()) if "weight" in rows.columns and len(rows) else 1.0
    if min_weight is None:
        min_weight = min(smallest, 1.0)
    if not 0 < min_weight <= 1:
        raise PlmscopeError(f"min_weight: must lie in (0, 1], got {min_weight}")
    try:
        heads = pack_attention(rows, num_layers=num_layers, num_heads=num_heads, length=len(sequence),
                               min_weight=min_weight)  # fmt: skip
    except PlmscopeError as exc:
        raise PlmscopeError(f"{protein_id!r}: {exc}") from None
    data = {
        "protein": str(protein_id),
        "model": str(model),
        "sequence": str(sequence),
        "num_layers": int(num_layers),
        "num_heads": int(num_heads),
        "layer": int(layer),
        "head": int(head),
        "min_weight": math.floor(float(min_weight) * 100) / 100,
        "scale": 10**WEIGHT_DECIMALS,
        "letters_up_to": LETTERS_UP_TO,
        "heads": heads,
    }
    title = f"{protein_id} · {model} attention by residue"
    return (
        _TEMPLATE.replace("@TITLE@", html.escape(title))
        .replace("@PROTEIN@", html.escape(str(protein_id)))
        .replace("@MODEL@", html.escape(str(model)))
        .replace("@LENGTH@", str(len(sequence)))
        .replace("@CSP@", CONTENT_SECURITY_POLICY)
        .replace("@DATA@", _script_json(data))
        .replace("@APP@", _APP_JS)
    )


def write_attention_views(
    rows: pd.DataFrame | pa.Table,
    sequence: str,
    out_html: str | Path,
    *,
    protein_id: str,
    model: str,
    num_layers: int,
    num_heads: int,
    layer: int = 0,
    head: int = 0,
    min_weight: float | None = None,
) -> dict[str, Any]:
    """Write :func:`render_attention_views_html` to ``out_html`` atomically (parents created).

    Returns:
        A summary: ``output``, ``protein``, ``rows`` embedded, ``heads_with_rows``, ``head``
        (1-based ``"L-H"`` shown first) and ``bytes``.
    """
    page = render_attention_views_html(
        rows, sequence, protein_id=protein_id, model=model, num_layers=num_layers, num_heads=num_heads,
        layer=layer, head=head, min_weight=min_weight,
    )  # fmt: skip
    out_html = Path(out_html)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_html) as tmp:
        Path(tmp).write_text(page, encoding="utf-8")
    if isinstance(rows, pa.Table):
        rows = rows.to_pandas()
    kept = rows if min_weight is None else rows[rows["weight"].astype("float32") >= float(min_weight)]
    return {
        "output": str(out_html),
        "protein": str(protein_id),
        "rows": int(len(kept)),
        "heads_with_rows": int(kept[["layer", "head"]].drop_duplicates().shape[0]),
        "head": f"{layer + 1}-{head + 1}",
        "bytes": len(page.encode("utf-8")),
    }


__all__ = ["ATTENTION_ROW_COLUMNS", "render_attention_views_html", "write_attention_views"]


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="@CSP@">
<title>@TITLE@</title>
<style>
  body { margin: 0; font: 13px/1.4 system-ui, sans-serif; color: #222; }
  #controls { position: sticky; top: 0; z-index: 2; display: flex; flex-wrap: wrap; gap: 4px 14px;
              align-items: center; padding: 6px 10px; border-bottom: 1px solid #ccc; background: #f6f6f6; }
  #controls label { white-space: nowrap; }
  #threshold { width: 140px; vertical-align: middle; }
  #status, .note { color: #555; }
  section { padding: 6px 10px; }
  h2 { font-size: 14px; margin: 6px 0; }
  #head-view { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
  #arcs-box { flex: 1 1 600px; min-width: 400px; }
  #arcs { width: 100%; height: auto; display: block; background: #fff; border: 1px solid #ddd; }
  #arcs text { font: 10px monospace; fill: #333; }
  #arcs .axis { stroke: #999; stroke-width: 1; }
  #arcs .arc { fill: none; stroke: #1f4e9c; }
  #arcs .arc.out { stroke: #d62728; }
  #arcs .arc.in { stroke: #2ca02c; }
  #arcs .arc.dim { opacity: 0.04; }
  #arcs .mark { fill: #f2c14e; opacity: 0.6; }
  #heat-box canvas { border: 1px solid #ddd; image-rendering: pixelated; }
  #grid { border-collapse: collapse; }
  #grid th { font-weight: normal; color: #555; padding: 0 3px; font-size: 11px; }
  #grid td { padding: 1px; }
  #grid canvas { display: block; border: 2px solid transparent; cursor: pointer; image-rendering: pixelated;
                 background: #fff; }
  #grid canvas.empty { background: #eee; }
  #grid canvas.selected { border-color: #d62728; }
  .key-out { color: #d62728; font-weight: bold; } .key-in { color: #2ca02c; font-weight: bold; }
</style>
</head>
<body>
<div id="controls">
  <span><b>@PROTEIN@</b> &middot; @MODEL@ &middot; @LENGTH@ residues</span>
  <label>Layer <select id="layer"></select></label>
  <label>Head <select id="head"></select></label>
  <label>Threshold <input id="threshold" type="range" max="1" step="0.01">
    <output id="threshold-value"></output></label>
  <span id="status">loading&hellip;</span>
</div>
<section>
  <h2>Head view</h2>
  <div class="note">One arc per attention weight &ge; threshold from residue <i>i</i> to the residue <i>j</i>
    it attends to (arrowhead at <i>j</i>; above the axis: <i>j</i> later in the sequence, below: earlier);
    opacity = weight (scaled down when a head has many arcs). Hover a residue: <span class="key-out">what it attends to</span>,
    <span class="key-in">what attends to it</span>. Residues numbered from 1.</div>
  <div id="head-view">
    <div id="arcs-box"><svg id="arcs" xmlns="http://www.w3.org/2000/svg"></svg>
      <div id="hover-info" class="note">&nbsp;</div></div>
    <div id="heat-box"><canvas id="heat" width="1" height="1"></canvas>
      <div class="note">heatmap: row <i>i</i> (attending), column <i>j</i> (attended to)</div>
      <div id="heat-info" class="note">&nbsp;</div></div>
  </div>
</section>
<section>
  <h2>Model view</h2>
  <div class="note">Every head's attention heatmap (row <i>i</i>, column <i>j</i>, darker = higher weight,
    grey = no weight &ge; the smallest embedded); click one to open it in the head view.</div>
  <table id="grid"></table>
</section>
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
@APP@
</script>
</body>
</html>
"""

_APP_JS = r"""
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var data = JSON.parse(document.getElementById("plmscope-data").textContent);
  var L = data.sequence.length;
  var status = document.getElementById("status");
  var layerSel = document.getElementById("layer"), headSel = document.getElementById("head");
  var slider = document.getElementById("threshold"), sliderValue = document.getElementById("threshold-value");
  var svg = document.getElementById("arcs"), heat = document.getElementById("heat");
  var hoverInfo = document.getElementById("hover-info"), heatInfo = document.getElementById("heat-info");
  var grid = document.getElementById("grid");

  function fail(message) {
    status.textContent = "error: " + message;
    document.body.setAttribute("data-error", message);
  }
  window.addEventListener("error", function (event) {
    if (!/ResizeObserver loop/.test(String(event.message))) { fail(String(event.message)); }
  });

@HEAD_CONTROLS@

  // White (0) to dark blue (1), as [r, g, b].
  function shade(w) {
    var t = Math.max(0, Math.min(1, w));
    return [Math.round(255 + (8 - 255) * t), Math.round(255 + (48 - 255) * t), Math.round(255 + (107 - 255) * t)];
  }

  // Paint the rows of one head at or above `cut` (scaled weights) into a canvas of `n` x `n` bins.
  function paint(canvas, rows, n, cut) {
    canvas.width = n;
    canvas.height = n;
    var ctx = canvas.getContext("2d");
    var img = ctx.createImageData(n, n), best = new Float32Array(n * n), k, painted = 0;
    for (k = 0; k < img.data.length; k++) { img.data[k] = 255; }
    if (rows) {
      for (k = 0; k < rows.w.length; k++) {
        if (rows.w[k] < cut) { continue; }
        var a = Math.floor(rows.i[k] * n / L), b = Math.floor(rows.j[k] * n / L), cell = a * n + b;
        var w = rows.w[k] / data.scale;
        if (w > best[cell]) { best[cell] = w; }
      }
      for (k = 0; k < best.length; k++) {
        if (best[k] > 0) {
          var c = shade(0.15 + 0.85 * best[k]);
          img.data[4 * k] = c[0]; img.data[4 * k + 1] = c[1]; img.data[4 * k + 2] = c[2];
          painted++;
        }
      }
    }
    ctx.putImageData(img, 0, 0);
    return painted;
  }

  // ---- model view: layer x head grid of thumbnails ------------------------------------------
  var THUMB = Math.max(28, Math.min(72, Math.floor(900 / data.num_heads) - 6));
  var thumbs = {}, withRows = 0;
  (function buildGrid() {
    var header = grid.insertRow();
    header.appendChild(document.createElement("th"));
    for (var h = 0; h < data.num_heads; h++) {
      var th = document.createElement("th");
      th.textContent = "head " + (h + 1);
      header.appendChild(th);
    }
    for (var l = 0; l < data.num_layers; l++) {
      var tr = grid.insertRow();
      var th = document.createElement("th");
      th.textContent = "layer " + (l + 1);
      tr.appendChild(th);
      for (var h2 = 0; h2 < data.num_heads; h2++) {
        var key = l + "-" + h2, rows = data.heads[key];
        var canvas = document.createElement("canvas");
        canvas.style.width = THUMB + "px";
        canvas.style.height = THUMB + "px";
        canvas.title = "layer " + (l + 1) + ", head " + (h2 + 1) + ": " + (rows ? rows.w.length : 0) + " weights";
        canvas.setAttribute("data-head", (l + 1) + "-" + (h2 + 1));
        if (rows) {
          paint(canvas, rows, Math.min(L, THUMB), 0);
          withRows++;
        } else {
          canvas.width = 1; canvas.height = 1;
          canvas.className = "empty";
        }
        canvas.addEventListener("click", (function (layer, head) {
          return function () { state.layer = layer; state.head = head; redraw();
                               document.getElementById("head-view").scrollIntoView(); };
        })(l, h2));
        thumbs[key] = canvas;
        tr.insertCell().appendChild(canvas);
      }
    }
  })();

  // ---- head view: arcs and heatmap --------------------------------------------------------
  var W = 1000, PAD = 20, ARC_MAX = 170, BAND = 7, AXIS_Y = ARC_MAX + BAND + 4, H = 2 * ARC_MAX + 2 * BAND + 26;
  function x(k) { return PAD + (k + 0.5) * (W - 2 * PAD) / L; }
  function el(name, attrs) {
    var node = document.createElementNS(SVG, name);
    for (var a in attrs) { node.setAttribute(a, attrs[a]); }
    return node;
  }
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  var defs = el("defs", {});
  [["head", "#1f4e9c"], ["head-out", "#d62728"], ["head-in", "#2ca02c"]].forEach(function (m) {
    var marker = el("marker", { id: m[0], viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "5",
                                markerHeight: "5", orient: "auto-start-reverse", markerUnits: "strokeWidth" });
    marker.appendChild(el("path", { d: "M0,0 L10,5 L0,10 z", fill: m[1] }));
    defs.appendChild(marker);
  });
  svg.appendChild(defs);
  var arcLayer = el("g", {}), axisLayer = el("g", {}), markLayer = el("g", {});
  svg.appendChild(arcLayer);
  svg.appendChild(axisLayer);
  svg.appendChild(markLayer);
  // Residues sit in a band around the axis: arcs to later residues leave its top, to earlier ones its bottom.
  [AXIS_Y - BAND, AXIS_Y + BAND].forEach(function (y) {
    axisLayer.appendChild(el("line", { "class": "axis", x1: PAD, x2: W - PAD, y1: y, y2: y }));
  });
  (function drawAxis() {
    if (L <= data.letters_up_to) {
      for (var k = 0; k < L; k++) {
        var t = el("text", { x: x(k), y: AXIS_Y, "text-anchor": "middle", "dominant-baseline": "central" });
        t.textContent = data.sequence[k];
        axisLayer.appendChild(t);
      }
    }
    var step = [1, 2, 5, 10, 20, 50, 100, 200, 500].filter(function (s) { return L / s <= 20; })[0] || 1000;
    for (var n = step; n <= L; n += step) {  // 1-based residue numbers
      axisLayer.appendChild(el("line", { "class": "axis", x1: x(n - 1), x2: x(n - 1), y1: AXIS_Y + BAND, y2: AXIS_Y + BAND + 4 }));
      var label = el("text", { x: x(n - 1), y: H - 4, "text-anchor": "middle" });
      label.textContent = String(n);
      axisLayer.appendChild(label);
    }
  })();

  function selected() {
    var rows = data.heads[state.layer + "-" + state.head], out = [];
    if (!rows) { return out; }
    var cut = state.threshold * data.scale - 1e-6;
    for (var k = 0; k < rows.w.length; k++) {
      if (rows.w[k] >= cut) { out.push([rows.i[k], rows.j[k], rows.w[k] / data.scale]); }
    }
    return out;
  }

  var arcs = [];
  function drawArcs(edges) {
    while (arcLayer.firstChild) { arcLayer.removeChild(arcLayer.firstChild); }
    arcs = [];
    var self = 0;
    edges.sort(function (a, b) { return a[2] - b[2]; });  // strongest on top
    // Opacity = weight, scaled down for crowded heads so that structure stays visible.
    var damp = Math.min(1, Math.sqrt(150 / Math.max(1, edges.length)));
    edges.forEach(function (e) {
      var i = e[0], j = e[1], w = e[2];
      if (i === j) { self++; return; }
      var xi = x(i), xj = x(j), rx = Math.abs(xj - xi) / 2, ry = Math.min(rx, ARC_MAX - 4);
      var y0 = j > i ? AXIS_Y - BAND : AXIS_Y + BAND;
      var path = el("path", {
        "class": "arc", d: "M" + xi.toFixed(2) + "," + y0 + " A" + rx.toFixed(2) + "," + ry.toFixed(2) +
          " 0 0,1 " + xj.toFixed(2) + "," + y0,
        opacity: Math.max(0.05, w * damp).toFixed(3), "stroke-width": (0.6 + 1.6 * w).toFixed(2),
        "marker-end": "url(#head)", "data-i": i, "data-j": j, "data-w": w.toFixed(4)
      });
      var tip = el("title", {});
      tip.textContent = (i + 1) + " " + data.sequence[i] + " \u2192 " + (j + 1) + " " + data.sequence[j] +
                        ": " + w.toFixed(3);
      path.appendChild(tip);
      arcLayer.appendChild(path);
      arcs.push(path);
    });
    return self;
  }

  var heatCells = 1;
  function drawHeat(rows) {
    heatCells = Math.min(L, 360);
    paint(heat, rows, heatCells, state.threshold * data.scale - 1e-6);
    var side = Math.max(heatCells, Math.min(360, heatCells * Math.floor(360 / heatCells)));
    heat.style.width = side + "px";
    heat.style.height = side + "px";
  }
  heat.addEventListener("mousemove", function (event) {
    var box = heat.getBoundingClientRect();
    var i = Math.floor((event.clientY - box.top) / box.height * L), j = Math.floor((event.clientX - box.left) / box.width * L);
    if (i < 0 || j < 0 || i >= L || j >= L) { return; }
    var w = 0;
    selected().forEach(function (e) { if (e[0] === i && e[1] === j) { w = e[2]; } });
    heatInfo.textContent = "i " + (i + 1) + " " + data.sequence[i] + ", j " + (j + 1) + " " + data.sequence[j] +
      (w ? ": " + w.toFixed(3) : ": below threshold");
  });

  function highlight(k) {
    while (markLayer.firstChild) { markLayer.removeChild(markLayer.firstChild); }
    var nOut = 0, nIn = 0;
    arcs.forEach(function (path) {
      var i = +path.getAttribute("data-i"), j = +path.getAttribute("data-j");
      var cls = k === null ? "arc" : i === k ? "arc out" : j === k ? "arc in" : "arc dim";
      path.setAttribute("class", cls);
      path.setAttribute("marker-end", cls === "arc out" ? "url(#head-out)" : cls === "arc in" ? "url(#head-in)" : "url(#head)");
      if (cls === "arc out") { nOut++; arcLayer.appendChild(path); }
      if (cls === "arc in") { nIn++; arcLayer.appendChild(path); }
    });
    if (k === null) {
      hoverInfo.innerHTML = "&nbsp;";
      document.body.removeAttribute("data-hover");
      return;
    }
    var band = Math.max(2, (W - 2 * PAD) / L);
    markLayer.appendChild(el("rect", { "class": "mark", x: x(k) - band / 2, y: 0, width: band, height: H - 16 }));
    hoverInfo.textContent = "residue " + (k + 1) + " " + data.sequence[k] + ": attends to " + nOut +
      " residue" + (nOut === 1 ? "" : "s") + ", attended to by " + nIn;
    document.body.setAttribute("data-hover", (k + 1) + ":" + nOut + ":" + nIn);
  }
  svg.addEventListener("mousemove", function (event) {
    var box = svg.getBoundingClientRect();
    var ux = (event.clientX - box.left) / box.width * W;
    var k = Math.floor((ux - PAD) / (W - 2 * PAD) * L);
    highlight(k >= 0 && k < L ? k : null);
  });
  svg.addEventListener("mouseleave", function () { highlight(null); });
  window.plmscopeHighlight = highlight;  // for scripts and tests: highlight(k) with k 0-based, or null

  function redraw() {
    layerSel.value = String(state.layer);
    headSel.value = String(state.head);
    slider.value = String(state.threshold);
    sliderValue.textContent = state.threshold.toFixed(2);
    var key = state.layer + "-" + state.head;
    var edges = selected();
    var self = drawArcs(edges);
    drawHeat(data.heads[key]);
    highlight(null);
    for (var k in thumbs) { thumbs[k].classList.toggle("selected", k === key); }
    var label = (state.layer + 1) + "-" + (state.head + 1);
    status.textContent = "layer " + (state.layer + 1) + ", head " + (state.head + 1) + ": " + arcs.length +
      " arc" + (arcs.length === 1 ? "" : "s") + (self ? " (+" + self + " self-attention)" : "") +
      " with weight \u2265 " + state.threshold.toFixed(2);
    document.body.setAttribute("data-head", label);
    document.body.setAttribute("data-arcs", String(arcs.length));
    document.body.setAttribute("data-self", String(self));
    document.body.setAttribute("data-threshold", String(state.threshold));
    writeHash();
  }

  layerSel.addEventListener("change", function () { state.layer = parseInt(layerSel.value, 10); redraw(); });
  headSel.addEventListener("change", function () { state.head = parseInt(headSel.value, 10); redraw(); });
  slider.addEventListener("input", function () { state.threshold = parseFloat(slider.value); redraw(); });
  window.addEventListener("hashchange", function () { readHash(); redraw(); });

  try {
    readHash();
    redraw();
    document.body.setAttribute("data-thumbnails", String(withRows));
    document.body.setAttribute("data-ready", "1");
  } catch (e) {
    fail(String(e && e.message || e));
  }
})();
""".replace("@HEAD_CONTROLS@", HEAD_CONTROLS_JS)
