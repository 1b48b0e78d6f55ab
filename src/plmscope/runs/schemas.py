"""The ``schemas`` verb: write the output-table document (``results/README.md``) generated from :mod:`plmscope.schemas`."""

from __future__ import annotations

import sys
from pathlib import Path

from plmscope.io import atomic_path
from plmscope.schemas import render_markdown


def run_schemas(output: Path | None) -> str:
    """Write :func:`plmscope.schemas.render_markdown` to ``output`` atomically, or to standard output when None.

    Returns:
        Where the document went.
    """
    text = render_markdown()
    if output is None:
        sys.stdout.write(text)
        return "<stdout>"
    with atomic_path(output) as tmp:
        tmp.write_text(text)
    return str(output)
