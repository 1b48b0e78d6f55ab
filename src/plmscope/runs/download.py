"""The ``download`` verb: a manifest entry or URL (retried, checksummed, atomic), or unpacking an archive."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def run_download(**options: Any) -> Path:
    """Fetch or unpack what ``options`` name; see :func:`plmscope.data.download.run_download` for the keywords.

    Returns:
        The downloaded file or unpacked directory.
    """
    from plmscope.data.download import run_download as download

    return download(**options)
