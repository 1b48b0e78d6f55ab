"""The ``view`` verb: write standalone 3D attention viewers (HTML) for proteins of an attention dataset."""

from __future__ import annotations

import html
import logging
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from plmscope.attention.dataset import check_same_sequences, read_analysed, read_meta
from plmscope.data.table import ProteinRecord, read_proteins
from plmscope.errors import PlmscopeError, located
from plmscope.io import atomic_path
from plmscope.options import THETA
from plmscope.schemas import from_disk
from plmscope.viz.viewer import ATTENTION_ROW_COLUMNS, render_viewer_html

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = THETA
"""Initial attention threshold of a page when none is given (raised to the dataset's theta)."""

DEFAULT_MIN_WEIGHT = 0.1
"""Weights below this are not embedded by default (keeps pages small); never below theta."""

META_KEYS: tuple[str, ...] = ("model", "num_layers", "num_heads", "theta")
"""Keys ``meta.json`` of an attention dataset must hold."""


def run_view(
    proteins_path: str | Path,
    attention_dir: str | Path,
    output: str | Path,
    *,
    protein_id: str,
    layer: int,
    head: int,
    threshold: float | None = None,
    min_weight: float | None = None,
) -> dict[str, Any]:
    """Write one protein's attention viewer page atomically.

    Args:
        proteins_path: protein table (Parquet) with the protein's CA coordinates.
        attention_dir: attention dataset (``attention/part-*.parquet``, ``meta.json``;
            ``proteins.parquet`` optional, used to check that the protein was analysed).
        output: HTML file to write.
        protein_id: the protein to show.
        layer: initially shown layer, 0-based.
        head: initially shown head, 0-based.
        threshold: initial threshold; None for :data:`DEFAULT_THRESHOLD` (or theta if higher).
        min_weight: weights below it are not embedded (the page's slider starts there); None for
            :data:`DEFAULT_MIN_WEIGHT`. Raised to theta, lowered to ``threshold``.

    Returns:
        A summary: output, protein, head label (1-based "L-H"), threshold, min_weight, rows
        embedded and rows of the shown head at the threshold.

    Raises:
        PlmscopeError: an unknown protein id, a protein without coordinates, a layer or head out
            of range, a threshold below theta, or a missing/malformed input (the message names it).
    """
    attention_dir = Path(attention_dir)
    meta = _read_meta(attention_dir)
    _check_head(meta, layer, head, attention_dir)
    threshold, floor = _thresholds(meta, threshold, min_weight, attention_dir)
    record = _find_records(proteins_path, [protein_id])[0]
    _check_analysed(attention_dir, [record], proteins_path)
    rows = read_protein_attention(attention_dir, protein_id, min_weight=floor)
    page = render_viewer_html(
        record, rows, model=str(meta["model"]), layer=layer, head=head, threshold=threshold,
        num_layers=meta["num_layers"], num_heads=meta["num_heads"], min_weight=floor,
    )  # fmt: skip
    with atomic_path(output, inputs=[proteins_path, attention_dir]) as tmp:
        tmp.write_text(page, encoding="utf-8")
    log.debug("%s: %.0f kB", output, len(page.encode()) / 1e3)
    at_threshold = rows["weight"].to_numpy(dtype=np.float32) >= np.float32(threshold)
    shown = int(((rows["layer"] == layer) & (rows["head"] == head) & at_threshold).sum())
    log.info("wrote %s: %s, head %d-%d, %d rows (%d at threshold %.3g)", output, protein_id, layer + 1,
             head + 1, len(rows), shown, threshold)  # fmt: skip
    return {
        "output": str(output),
        "protein": protein_id,
        "head": f"{layer + 1}-{head + 1}",
        "threshold": threshold,
        "min_weight": floor,
        "rows": len(rows),
        "rows_at_threshold": shown,
    }


def run_view_many(
    proteins_path: str | Path,
    attention_dir: str | Path,
    output_dir: str | Path,
    *,
    protein_ids: Sequence[str] | None = None,
    top_heads: str | Path | None = None,
    feature: str = "binding_site",
    layer: int | None = None,
    head: int | None = None,
    threshold: float | None = None,
    min_weight: float | None = None,
    max_proteins: int = 5,
) -> dict[str, Any]:
    """Write one viewer page per protein, all showing the same head, plus an ``index.html``.

    The head is either given (``layer`` and ``head``, 0-based) or the rank-1 head of ``feature``
    in an enrichment ``top_heads`` table. The output directory is replaced as a whole.

    Args:
        proteins_path: protein table (Parquet).
        attention_dir: attention dataset directory.
        output_dir: directory receiving ``<protein id>.html`` (characters other than letters,
            digits, ``.``, ``_`` and ``-`` replaced by ``_``) and ``index.html``.
        protein_ids: proteins to show; None for the first ``max_proteins`` proteins with
            coordinates that were analysed, those with annotated binding sites first.
        top_heads: ``top_heads.parquet`` / ``.csv`` written by ``plmscope enrichment``, or the
            enrichment directory holding it.
        feature: feature whose top head is shown (with ``top_heads``).
        layer: layer to show, 0-based (with ``head``, instead of ``top_heads``).
        head: head to show, 0-based.
        threshold: initial threshold (see :func:`run_view`).
        min_weight: embedding floor (see :func:`run_view`).
        max_proteins: proteins chosen when ``protein_ids`` is None.

    Returns:
        A summary: output directory, head label (1-based "L-H"), how it was chosen, and the file
        written for each protein.

    Raises:
        PlmscopeError: neither or both of (layer, head) and ``top_heads``, an unknown protein,
            a protein without coordinates, or a missing/malformed input.
    """
    attention_dir, output_dir = Path(attention_dir), Path(output_dir)
    meta = _read_meta(attention_dir)
    if (layer is None) != (head is None):
        raise PlmscopeError("view: give both layer and head, or neither (to use top_heads)")
    if (layer is None) == (top_heads is None):
        raise PlmscopeError("view: give either layer and head, or a top_heads table, not both or neither")
    if top_heads is not None:
        layer, head, chosen_by = choose_head(top_heads, feature=feature)
    else:
        chosen_by = "given"
    _check_head(meta, layer, head, attention_dir)
    threshold, floor = _thresholds(meta, threshold, min_weight, attention_dir)
    if protein_ids is None:
        records = _default_records(proteins_path, attention_dir, max_proteins)
    else:
        protein_ids = [str(p) for p in protein_ids]
        if not protein_ids:
            raise PlmscopeError("view: protein_ids is empty")
        records = _find_records(proteins_path, protein_ids)
    _check_analysed(attention_dir, records, proteins_path)
    names = _file_names([r.id for r in records])
    label = f"{layer + 1}-{head + 1}"
    with atomic_path(output_dir, directory=True, inputs=[proteins_path, attention_dir, top_heads]) as tmp:
        for record, name in zip(records, names):
            rows = read_protein_attention(attention_dir, record.id, min_weight=floor)
            page = render_viewer_html(
                record, rows, model=str(meta["model"]), layer=layer, head=head, threshold=threshold,
                num_layers=meta["num_layers"], num_heads=meta["num_heads"], min_weight=floor,
            )  # fmt: skip
            (tmp / name).write_text(page, encoding="utf-8")
            log.info("view of %s (head %s, %d rows) -> %s", record.id, label, len(rows), name)
        (tmp / "index.html").write_text(
            _index_html(str(meta["model"]), label, chosen_by, [r.id for r in records], names), encoding="utf-8"
        )
    return {
        "output": str(output_dir),
        "head": label,
        "chosen_by": chosen_by,
        "files": {r.id: name for r, name in zip(records, names)},
    }


def _read_meta(attention_dir: Path) -> dict[str, Any]:
    """``meta.json`` of the dataset with :data:`META_KEYS`, theta a number in (0, 1] (as everywhere else).

    Raises:
        PlmscopeError: the file is missing, not JSON, or lacks/has invalid keys.
    """
    meta = read_meta(attention_dir, keys=META_KEYS, check_format=False)
    theta = meta["theta"]
    if not isinstance(theta, (int, float)) or isinstance(theta, bool) or not 0 < theta <= 1:
        raise located(attention_dir / "meta.json", f"theta must be a number in (0, 1], got {theta!r}")
    return meta


def read_protein_attention(attention_dir: str | Path, protein_id: str, *, min_weight: float = 0.0) -> pd.DataFrame:
    """Read one protein's attention rows (all heads) from an attention dataset.

    Args:
        attention_dir: directory holding ``attention/part-*.parquet``.
        protein_id: the protein.
        min_weight: rows with a lower weight (compared in float32, the stored type) are skipped.

    Returns:
        A DataFrame with :data:`plmscope.viz.viewer.ATTENTION_ROW_COLUMNS` (0-based indices).

    Raises:
        PlmscopeError: no parts, unreadable parts, or missing columns (the message names the path).
    """
    folder = Path(attention_dir) / "attention"
    parts = sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []
    if not parts:
        raise located(folder, "no attention parts (part-*.parquet) found")
    try:
        dataset = ds.dataset([str(p) for p in parts], format="parquet")
        missing = [c for c in ("protein_id", *ATTENTION_ROW_COLUMNS) if c not in dataset.schema.names]
        if missing:
            raise located(folder, f"attention parts lack column(s) {missing}")
        table = dataset.to_table(
            columns=list(ATTENTION_ROW_COLUMNS),
            filter=(ds.field("protein_id") == protein_id)
            & (ds.field("weight") >= pa.scalar(float(min_weight), pa.float32())),
        )
    except (pa.ArrowException, OSError) as exc:
        raise located(folder, f"attention parts not readable ({exc})") from None
    return table.to_pandas()


FALLBACK_FEATURES: tuple[str, ...] = ("contact", "binding_site", "helix", "strand", "turn_bend", "ptm")
"""Features whose top head is shown, in this order, when the requested one lists no head."""


def choose_head(path: str | Path, *, feature: str = "binding_site") -> tuple[int, int, str]:
    """The head to show: rank 1 of ``feature``, else of a fallback feature, else head 1-1 (with a warning).

    A small dataset or one without the feature's annotation (no binding sites, no structure) ranks
    no head for it; the views then show the best head of :data:`FALLBACK_FEATURES` (then of any
    listed feature, e.g. an amino acid), so they degrade to another head instead of failing.

    Returns:
        ``(layer, head, chosen_by)``, 0-based, with ``chosen_by`` a one-line note.

    Raises:
        PlmscopeError: the table is missing or malformed.
    """
    table, path = _read_top_heads(path)
    table = from_disk("top_heads", table)  # stored 1-based; heads are chosen 0-based
    listed = list(dict.fromkeys(table["feature"].tolist()))
    if feature in listed:
        layer, head = _rank_one(table, feature)
        return layer, head, f"rank 1 for {feature} in {path}"
    others = [f for f in FALLBACK_FEATURES if f in listed] + [f for f in listed if f not in FALLBACK_FEATURES]
    if others:
        layer, head = _rank_one(table, others[0])
        note = f"rank 1 for {others[0]} in {path} ({feature!r} lists no head on this dataset)"
    else:
        layer, head = 0, 0
        note = f"head 1-1: {path} ranks no head for any feature (too few thresholded weights on this dataset)"
    log.warning("views: %s", note)
    return layer, head, note


def _read_top_heads(path: str | Path) -> tuple[pd.DataFrame, Path]:
    """The top-heads table (``path`` or inside the enrichment directory ``path``) and its file."""
    path = Path(path)
    if path.is_dir():
        path = next((path / f"top_heads.{ext}" for ext in ("parquet", "csv") if (path / f"top_heads.{ext}").is_file()),
                    path / "top_heads.parquet")  # fmt: skip
    if not path.is_file():
        raise located(path, "file not found")
    try:
        table = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=["feature", "layer", "head", "rank"]), path
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise located(path, f"not a readable top-heads table ({exc})") from None
    missing = [c for c in ("feature", "layer", "head", "rank") if c not in table.columns]
    if missing:
        raise located(path, f"lacks column(s) {missing}")
    return table, path


def _rank_one(table: pd.DataFrame, feature: str) -> tuple[int, int]:
    best = table[table["feature"] == feature].sort_values(["rank", "layer", "head"]).iloc[0]
    return int(best["layer"]), int(best["head"])


def top_head(path: str | Path, *, feature: str = "binding_site") -> tuple[int, int]:
    """The rank-1 (layer, head), 0-based, of ``feature`` in an enrichment ``top_heads`` table (stored 1-based).

    Args:
        path: ``top_heads.parquet`` or ``.csv``, or the enrichment directory holding one.
        feature: feature name (e.g. ``"binding_site"``, ``"contact"``).

    Raises:
        PlmscopeError: the table is missing or malformed, or lists no head for the feature.
    """
    table, path = _read_top_heads(path)
    table = from_disk("top_heads", table)  # stored 1-based
    if not (table["feature"] == feature).any():
        known = sorted(pd.unique(table["feature"]).tolist())
        raise located(path, f"no head listed for feature {feature!r} (listed: {known})")
    return _rank_one(table, feature)


def _check_head(meta: dict, layer: int, head: int, attention_dir: Path) -> None:
    """Reject a layer or head outside the model; given 0-based, named 1-based as the user typed it (``--layer``)."""
    for name, value, n in (("layer", layer, meta["num_layers"]), ("head", head, meta["num_heads"])):
        if isinstance(value, bool) or int(value) != value or not 0 <= value < n:
            raise PlmscopeError(
                f"{name} {value + 1} is outside 1..{n} ({meta['model']} in {attention_dir} has {n} {name}s, "
                "counted from 1)"
            )


def _thresholds(
    meta: dict, threshold: float | None, min_weight: float | None, attention_dir: Path
) -> tuple[float, float]:
    """The initial threshold and the embedding floor, checked against the dataset's theta."""
    theta = float(meta["theta"])
    if threshold is None:
        threshold = max(DEFAULT_THRESHOLD, theta)
    if not (isinstance(threshold, (int, float)) and math.isfinite(threshold) and 0 < threshold <= 1):
        raise PlmscopeError(f"threshold: must lie in (0, 1], got {threshold}")
    if threshold < theta:
        raise PlmscopeError(
            f"threshold: {threshold} is below theta={theta} of {attention_dir} (smaller weights were not stored)"
        )
    floor = DEFAULT_MIN_WEIGHT if min_weight is None else min_weight
    if not (isinstance(floor, (int, float)) and math.isfinite(floor) and 0 < floor <= 1):
        raise PlmscopeError(f"min_weight: must lie in (0, 1], got {floor}")
    return float(threshold), float(min(max(floor, theta), threshold))


def _find_records(proteins_path: str | Path, protein_ids: Sequence[str]) -> list[ProteinRecord]:
    """The records of ``protein_ids`` in table order of the request; each must have coordinates."""
    by_id = {r.id: r for r in read_proteins(proteins_path)}
    out = []
    for pid in protein_ids:
        if pid not in by_id:
            sample = ", ".join(repr(k) for k in list(by_id)[:3])
            raise located(proteins_path, f"no protein with id {pid!r} ({len(by_id)} proteins, e.g. {sample})")
        record = by_id[pid]
        if not _has_coordinates(record):
            raise located(proteins_path, f"protein {pid!r} has no CA coordinates; the 3D view needs a structure")
        out.append(record)
    return out


def _default_records(proteins_path: str | Path, attention_dir: Path, max_proteins: int) -> list[ProteinRecord]:
    """Up to ``max_proteins`` analysed proteins with coordinates, those with binding sites first."""
    if isinstance(max_proteins, bool) or int(max_proteins) != max_proteins or max_proteins < 1:
        raise PlmscopeError(f"max_proteins: must be a positive integer, got {max_proteins}")
    analysed = _analysed_ids(attention_dir)
    candidates = [r for r in read_proteins(proteins_path)
                  if _has_coordinates(r) and (analysed is None or r.id in analysed)]  # fmt: skip
    if not candidates:
        raise located(proteins_path, f"no protein with CA coordinates that {attention_dir} analysed")
    candidates.sort(key=lambda r: not r.sites)
    return candidates[:max_proteins]


def _has_coordinates(record: ProteinRecord) -> bool:
    """True when at least one residue has CA coordinates."""
    return record.ca is not None and record.valid is not None and bool(record.valid.any())


def _analysed_ids(attention_dir: Path) -> set[str] | None:
    """Protein ids listed in ``proteins.parquet`` of the dataset, or None when the file is absent."""
    if not (attention_dir / "proteins.parquet").is_file():
        return None
    column = read_analysed(attention_dir, columns=["protein_id"]).column("protein_id")
    return {str(p) for p in column.to_pylist()}


def _check_analysed(attention_dir: Path, records: Sequence[ProteinRecord], proteins_path: str | Path) -> None:
    """Reject proteins that ``proteins.parquet`` (when present) does not list, or lists with another sequence length."""
    analysed = _analysed_ids(attention_dir)
    if analysed is None:
        return
    for record in records:
        if record.id not in analysed:
            raise located(attention_dir / "proteins.parquet", f"protein {record.id!r} is not in this attention dataset")
    check_same_sequences(attention_dir, {r.id: len(r.sequence) for r in records}, proteins_path)


def _file_names(protein_ids: Sequence[str]) -> list[str]:
    """One distinct, file-system-safe ``<id>.html`` per protein id (:func:`plmscope.io.file_names`)."""
    from plmscope.io import file_names

    return file_names(protein_ids, suffix=".html", reserved=["index.html"])


def _index_html(model: str, label: str, chosen_by: str, protein_ids: Sequence[str], names: Sequence[str]) -> str:
    """A small page linking the viewers."""
    items = "\n".join(
        f'  <li><a href="{html.escape(n)}">{html.escape(p)}</a></li>' for p, n in zip(protein_ids, names)
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
        f"<title>{html.escape(model)} attention viewers</title></head>\n<body>\n"
        f"<h1>{html.escape(model)}: attention of head {html.escape(label)}</h1>\n"
        f"<p>Head chosen: {html.escape(chosen_by)}. Each page can switch head and threshold.</p>\n"
        f"<ul>\n{items}\n</ul>\n</body>\n</html>\n"
    )


def run_seqview(
    proteins_path: str | Path,
    attention_dir: str | Path,
    output_dir: str | Path,
    *,
    max_proteins: int | None = None,
    min_weight: float | None = None,
) -> dict[str, Any]:
    """Write a sequence-level attention page (head view + model view) per analysed protein, and an ``index.html``.

    No structure is needed, so every dataset (FASTA included) gets them. Each page opens on head 1-1 and
    switches layer, head and threshold itself (:func:`plmscope.viz.attention_views.write_attention_views`).

    Args:
        proteins_path: protein table (sequences).
        attention_dir: attention dataset of that table.
        output_dir: directory replaced as a whole: ``<protein id>.html`` (unsafe characters replaced) and ``index.html``.
        max_proteins: the first this many analysed proteins in table order; None for all.
        min_weight: weights below it are not embedded; None for :data:`DEFAULT_MIN_WEIGHT` (never below theta).

    Returns:
        A summary: output directory and the file written for each protein.

    Raises:
        PlmscopeError: a malformed input, a bad ``max_proteins``, or no analysed protein.
    """
    from plmscope.viz.attention_views import write_attention_views

    attention_dir, output_dir = Path(attention_dir), Path(output_dir)
    meta = _read_meta(attention_dir)
    _, floor = _thresholds(meta, None, min_weight, attention_dir)
    if max_proteins is not None and (isinstance(max_proteins, bool) or int(max_proteins) != max_proteins or max_proteins < 1):
        raise PlmscopeError(f"max_proteins: must be a positive integer, got {max_proteins}")
    analysed = _analysed_ids(attention_dir)
    records = [r for r in read_proteins(proteins_path) if analysed is None or r.id in analysed]
    if not records:
        raise located(proteins_path, f"no protein of this table is in the attention dataset {attention_dir}")
    records = records[:max_proteins] if max_proteins is not None else records
    _check_analysed(attention_dir, records, proteins_path)
    names = _file_names([r.id for r in records])
    with atomic_path(output_dir, directory=True, inputs=[proteins_path, attention_dir]) as tmp:
        for record, name in zip(records, names):
            rows = read_protein_attention(attention_dir, record.id, min_weight=floor)
            write_attention_views(rows, record.sequence, tmp / name, protein_id=record.id, model=str(meta["model"]),
                                  num_layers=meta["num_layers"], num_heads=meta["num_heads"], min_weight=floor)  # fmt: skip
            log.info("sequence view of %s (%d rows) -> %s", record.id, len(rows), name)
        (tmp / "index.html").write_text(
            _index_html(str(meta["model"]), "1-1 (each page switches layer and head)", "sequence-level head and model views",
                        [r.id for r in records], names),
            encoding="utf-8",
        )  # fmt: skip
    return {"output": str(output_dir), "files": dict(zip((r.id for r in records), names))}
