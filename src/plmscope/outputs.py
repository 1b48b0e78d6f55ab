"""Writing a verb's results: an atomic output directory of tables (Parquet + CSV), ``meta.json`` and figures."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import pandas as pd

from plmscope.io import atomic_path
from plmscope.schemas import to_disk

FIGURE_FORMATS: tuple[str, ...] = ("png", "svg")
"""File formats written for every figure."""


@contextlib.contextmanager
def output_directory(path: str | Path, *, inputs: Sequence[str | Path | None] = ()) -> Iterator[Path]:
    """A temporary directory that replaces ``path`` as a whole when the block succeeds (nothing otherwise).

    ``inputs`` are the paths the output must never replace or contain (:func:`plmscope.io.check_output`).
    Figures go in through :func:`save_figure` (reproducible bytes).
    """
    with atomic_path(path, directory=True, inputs=inputs) as tmp:
        yield tmp


def write_tables(directory: Path, tables: Mapping[str, pd.DataFrame]) -> None:
    """Write every table as ``<name>.parquet`` and ``<name>.csv`` (without the index).

    Each table is checked against its schema in :mod:`plmscope.schemas` (the source of
    ``results/README.md``) and its 0-based ``layer``/``head`` columns are written 1-based.

    Raises:
        PlmscopeError: a table is unregistered or does not match its schema.
    """
    for name, frame in tables.items():
        frame = to_disk(name, frame)
        frame.to_parquet(directory / f"{name}.parquet", index=False)
        frame.to_csv(directory / f"{name}.csv", index=False)


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as indented JSON with a final newline."""
    path.write_text(json.dumps(data, indent=2) + "\n")


SVG_HASHSALT = "plmscope"
"""Salt of the ids matplotlib hashes into an SVG (clip paths, hatches, markers); without one it draws a random salt."""

FIGURE_METADATA: dict[str, dict[str, None]] = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}
"""Per-format metadata dropped from figure files: the dates of the save (the tool version they keep is fixed)."""

LAYOUT_DIGITS = 9
"""Decimals (of the figure's width/height) an axes position is rounded to once the layout engine has placed it."""


def freeze_layout(fig: Any, *, dpi: float) -> None:
    """Run the figure's layout engine once at ``dpi``, then pin every axes at its position rounded to :data:`LAYOUT_DIGITS`.

    Constrained layout's solver returns positions that differ in the last bit between processes
    (its order of operations follows memory addresses), and an SVG names each clip path by a hash
    of the full-precision rectangle, so unrounded positions give a rerun different ids. The
    rounding moves nothing by more than a billionth of the figure; the engine is switched off
    afterwards, so every format saved later shares the one layout. A figure without an engine is
    left as it is.
    """
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    if fig.get_layout_engine() is None or isinstance(fig.get_layout_engine(), PlaceHolderLayoutEngine):
        return  # no engine, or switched off ("none") by an earlier save
    shown_dpi = fig.dpi
    fig.set_dpi(dpi)  # text extents, hence the layout, depend on the resolution of the save
    try:
        fig.draw_without_rendering()
    finally:
        fig.set_dpi(shown_dpi)
    fig.set_layout_engine("none")
    for ax in fig.axes:
        bounds = [round(v, LAYOUT_DIGITS) for v in ax.get_position(original=True).bounds]
        ax.set_position(bounds, which="both")


def write_figure(fig: Any, path: str | Path, *, fmt: str, dpi: int = 150) -> None:
    """Save ``fig`` as one ``fmt`` file whose bytes depend only on the figure: every figure plmscope writes goes here.

    The layout is frozen (:func:`freeze_layout`), SVG ids are salted with :data:`SVG_HASHSALT` and
    then renumbered in document order (:func:`stable_svg_ids`), and the save dates of
    :data:`FIGURE_METADATA` are left out.
    """
    import matplotlib

    freeze_layout(fig, dpi=dpi)
    with matplotlib.rc_context({"svg.hashsalt": SVG_HASHSALT}):
        fig.savefig(path, format=fmt, dpi=dpi, metadata=FIGURE_METADATA.get(fmt))
    if fmt == "svg":  # ids hashed from anything else that varies by process (a path clip's repr) are renumbered
        path = Path(path)
        path.write_text(stable_svg_ids(path.read_text(encoding="utf-8")), encoding="utf-8")


def save_figure(fig: Any, directory: Path, name: str, *, dpi: int = 150) -> list[str]:
    """Save a matplotlib figure as ``<name>.<fmt>`` for every format of :data:`FIGURE_FORMATS` (:func:`write_figure`).

    Returns:
        The file names written.
    """
    written = []
    for fmt in FIGURE_FORMATS:
        write_figure(fig, directory / f"{name}.{fmt}", fmt=fmt, dpi=dpi)
        written.append(f"{name}.{fmt}")
    return written


_SVG_ID = re.compile(r'id="([a-z][0-9a-f]{10})"')


def stable_svg_ids(svg: str) -> str:
    """``svg`` with matplotlib's hashed element ids renumbered in document order.

    Matplotlib names clip paths, hatches and markers by hashing ``svg.hashsalt`` with the ``str()`` of
    the clipping object; for a path clip that string holds a memory address, so the same figure drawn in
    two processes gets different ids. Renaming every such id (``<letter><10 hex digits>``) and its
    ``#id`` references to ``<letter>-<n>`` by first definition makes reruns byte-identical.
    """
    names: dict[str, str] = {}
    for old in _SVG_ID.findall(svg):
        names.setdefault(old, f"{old[0]}-{len(names) + 1}")
    if not names:
        return svg
    pattern = re.compile("|".join(re.escape(f"{prefix}{old}") for old in names for prefix in ('"', "#")))
    return pattern.sub(lambda m: m.group(0)[0] + names[m.group(0)[1:]], svg)


def write_outputs(
    output_dir: str | Path,
    *,
    tables: Mapping[str, pd.DataFrame],
    meta: Mapping[str, Any],
    figures: Sequence[tuple[str, Any]] = (),
    dpi: int = 150,
    inputs: Sequence[str | Path | None] = (),
) -> None:
    """Write tables (:func:`write_tables`), ``meta.json`` and ``(name, figure)`` pairs into ``output_dir`` at once.

    ``inputs``: paths the output must never replace or contain (:func:`plmscope.io.check_output`).
    """
    with output_directory(output_dir, inputs=inputs) as tmp:
        write_tables(tmp, tables)
        write_json(tmp / "meta.json", meta)
        for name, fig in figures:
            save_figure(fig, tmp, name, dpi=dpi)
