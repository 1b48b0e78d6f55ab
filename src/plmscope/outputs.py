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

    Figures saved inside the block get reproducible SVG ids (a fixed ``svg.hashsalt``). ``inputs``
    are the paths the output must never replace or contain (:func:`plmscope.io.check_output`).
    """
    import matplotlib

    with atomic_path(path, directory=True, inputs=inputs) as tmp, matplotlib.rc_context({"svg.hashsalt": "plmscope"}):
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


def save_figure(fig: Any, directory: Path, name: str, *, dpi: int = 150) -> list[str]:
    """Save a matplotlib figure as ``<name>.<fmt>`` for every format of :data:`FIGURE_FORMATS`.

    SVGs carry no date, so reruns write identical files; the layout of the first save is kept
    for the later ones.

    Returns:
        The file names written.
    """
    written = []
    for fmt in FIGURE_FORMATS:
        metadata = {"Date": None} if fmt == "svg" else None
        path = directory / f"{name}.{fmt}"
        fig.savefig(path, format=fmt, dpi=dpi, metadata=metadata)
        if fmt == "svg":
            path.write_text(stable_svg_ids(path.read_text(encoding="utf-8")), encoding="utf-8")
        fig.set_layout_engine("none")
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
    # without figures, skip output_directory's matplotlib import (it costs the enrichment verb ~0.5 s)
    writer = output_directory if figures else lambda path, inputs: atomic_path(path, directory=True, inputs=inputs)
    with writer(output_dir, inputs=inputs) as tmp:
        write_tables(tmp, tables)
        write_json(tmp / "meta.json", meta)
        for name, fig in figures:
            save_figure(fig, tmp, name, dpi=dpi)
