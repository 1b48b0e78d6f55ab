"""The layer/head/threshold controls shared by the offline attention pages (3D viewer, sequence views).

One block of JavaScript inserted into each page's script: fills the layer and head selectors (1-based
labels), keeps the chosen layer, head and threshold in ``state`` and mirrors them in the URL hash
(``#layer=&head=&threshold=``, 1-based). It expects ``data`` (``num_layers``, ``num_heads``,
``layer``, ``head``, ``min_weight`` and optionally ``threshold``), ``layerSel``, ``headSel`` and ``slider``.
"""

HEAD_CONTROLS_JS = r"""
  function option(select, value, text) {
    var o = document.createElement("option");
    o.value = String(value);
    o.textContent = text;
    select.appendChild(o);
  }
  for (var l = 0; l < data.num_layers; l++) { option(layerSel, l, String(l + 1)); }
  for (var h = 0; h < data.num_heads; h++) { option(headSel, h, String(h + 1)); }
  slider.min = String(data.min_weight);

  var state = { layer: data.layer, head: data.head, threshold: data.threshold !== undefined ? data.threshold : data.min_weight };
  function clampInt(value, n, fallback) {
    var k = parseInt(value, 10);
    return isFinite(k) && k >= 1 && k <= n ? k - 1 : fallback;
  }
  function readHash() {
    var params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    if (params.has("layer")) { state.layer = clampInt(params.get("layer"), data.num_layers, state.layer); }
    if (params.has("head")) { state.head = clampInt(params.get("head"), data.num_heads, state.head); }
    if (params.has("threshold")) {
      var t = parseFloat(params.get("threshold"));
      if (isFinite(t)) { state.threshold = Math.min(1, Math.max(data.min_weight, t)); }
    }
  }
  function writeHash() {
    var hash = "#layer=" + (state.layer + 1) + "&head=" + (state.head + 1) + "&threshold=" + state.threshold;
    try { history.replaceState(null, "", hash); } catch (e) { /* some file:// contexts forbid it */ }
  }
"""
