"""Progress lines for long jobs: ``"attention antiberty/demo: 120/480 proteins (25%), 0:00:42 elapsed"``.

Lines go to the ``plmscope.progress`` logger at INFO. ``plmscope --log FILE`` writes the full log to
FILE and shows only these lines (and warnings, errors) on the console, so a Snakemake run reports
per-chunk progress of its long jobs while their logs keep everything. Plain lines, no bars: a bar
redrawn with ``\\r`` is unreadable in Snakemake's console and in log files.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

LOGGER = logging.getLogger("plmscope.progress")
"""The logger of progress lines (the console handler of ``plmscope --log`` shows them)."""

EVERY_SECONDS = 5.0
"""Least seconds between two progress lines of one step (the last line of a step is always written)."""

_job = {"label": "plmscope"}


def set_job(label: str) -> None:
    """Name the job every progress line starts with, e.g. ``"attention antiberty/demo"`` (set by the CLI)."""
    _job["label"] = label


def job_label() -> str:
    """The job name progress lines start with."""
    return _job["label"]


def elapsed(seconds: float) -> str:
    """``h:mm:ss`` of a duration in seconds."""
    return str(timedelta(seconds=int(seconds)))


def note(message: str) -> None:
    """One progress line: ``"<job>: <message>"``."""
    LOGGER.info("%s: %s", _job["label"], message)


class Progress:
    """Counts finished items of one step; writes a line at most every ``every`` seconds and at the end.

    Use as ``with Progress(480, "proteins") as bar: ... bar.update(n)`` (the same calls as a tqdm bar).

    Args:
        total: items in the step.
        unit: what is counted (``"proteins"``, ``"sequences"``).
        desc: what the step does, put before the count (``"masked PLL"``); empty for the job's main step.
        initial: items already done (a resumed run).
        every: least seconds between two lines.
        enabled: False writes nothing.
        batches: batches the items are run in, when one item may take many batches (a long protein
            cut into windows): lines before the end then also say ``batch k/n``, so a single long
            protein shows it advancing instead of ``0/1 proteins`` for minutes.
        batches_done: batches already done (a resumed run).
    """

    def __init__(self, total: int, unit: str, desc: str = "", *, initial: int = 0, every: float = EVERY_SECONDS,
                 enabled: bool = True, batches: int | None = None, batches_done: int = 0):  # fmt: skip
        self.total, self.unit, self.desc, self.every, self.enabled = int(total), unit, desc, every, enabled
        self.batches, self.batches_done = batches, int(batches_done)
        self.done = int(initial)
        self.start = self.last = time.monotonic()
        self._ended = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None and not self._ended and self.done < self.total:
            self._write()  # a step that stopped short still says where it stopped

    def update(self, n: int = 1, *, batches: int = 0) -> None:
        """Count ``n`` more finished items (and ``batches`` more batches); write a line when due or at the end."""
        self.done += int(n)
        self.batches_done += int(batches)
        now = time.monotonic()
        if self.done >= self.total and not self._ended:
            self._ended = True
            self._write()
        elif now - self.last >= self.every:
            self._write()

    def _write(self) -> None:
        self.last = time.monotonic()
        if not self.enabled:
            return
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        what = f"{self.desc} " if self.desc else ""
        batch = f", batch {self.batches_done}/{self.batches}" if self.batches and self.done < self.total else ""
        note(f"{what}{self.done}/{self.total} {self.unit}{share}{batch}, {elapsed(self.last - self.start)} elapsed")
