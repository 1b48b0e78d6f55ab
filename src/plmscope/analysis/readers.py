"""Readers of the enrichment verb's outputs (``enrichment.parquet``, ``meta.json``) for the figure and paper verbs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa

from plmscope.analysis.enrichment import TABLE_COLUMNS
from plmscope.errors import located
from plmscope.schemas import from_disk


def read_enrichment_table(path: str | Path) -> pd.DataFrame:
    """Read the ``enrichment.parquet`` written by ``plmscope enrichment`` and check its columns.

    Args:
        path: the table file.

    Returns:
        The table, with at least :data:`plmscope.analysis.enrichment.TABLE_COLUMNS`; ``layer`` and ``head``
        0-based as the code holds them (the file has them 1-based).

    Raises:
        PlmscopeError: the file is missing, not readable Parquet, lacks columns or has no rows.
    """
    path = Path(path)
    if not path.is_file():
        raise located(path, "file not found (run `plmscope enrichment` first)")
    try:
        table = pd.read_parquet(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise located(path, f"not a readable Parquet table ({exc})") from None
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise located(path, f"enrichment table lacks columns {missing}")
    if table.empty:
        raise located(path, "enrichment table is empty")
    return from_disk("enrichment", table)


def read_enrichment_meta(path: str | Path) -> dict:
    """The ``meta.json`` written by ``plmscope enrichment``; empty when absent or unreadable (it is informational)."""
    try:
        meta = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}
