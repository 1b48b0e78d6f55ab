"""The ``convert-tape`` verb: a TAPE BERT checkpoint -> a transformers model directory that loads by path."""

from __future__ import annotations

from pathlib import Path


def run_convert_tape(tape_dir: str | Path, output: str | Path) -> Path:
    """Convert ``tape_dir`` (config.json + pytorch_model.bin) into ``output`` and check that it loads.

    Returns:
        ``output`` as a Path.
    """
    from plmscope.models.tape import run_convert_tape as convert

    return convert(Path(tape_dir), Path(output))
