"""Safe, atomic file and directory writes: outputs appear complete or not at all, and only outputs are replaced.

The rule for what plmscope may replace (:func:`check_output`, applied by :func:`atomic_path`):

* A path that does not exist may always be written.
* Never replaced, whatever it holds: the current directory or one of its ancestors, ``/``, the
  home directory or one of its ancestors, and any input of the run or a directory holding one
  (``inputs=``). These are checked on the fully resolved path (``..`` and symbolic links
  followed), so ``-o results/attention/../..`` is the current directory and is refused.
* A directory output replaces an existing directory only if plmscope wrote it (it holds the
  marker file :data:`MARKER`, which every directory output gets) or it is empty; run from the
  command line (:func:`writing_for`), only if the same verb wrote it, so ``figures -o`` an
  attention dataset is refused. Anything else
  -- a directory of user files, a file, a symbolic link -- is refused with one line:
  ``refusing to replace X: not a plmscope output``.
* A file output (a Parquet table, an HTML page, a CSV) replaces an existing regular file or a
  symbolic link (the link itself, not its target), like any Unix tool's ``-o``; plmscope cannot
  mark HTML or CSV files, so files are not checked for authorship. It never replaces a
  directory or a special file (``-o /dev/null``, a FIFO).

Every OS error on the write path (read-only or immutable directory, disk full, permission
denied, a parent that is a file) becomes a :class:`~plmscope.errors.PlmscopeError` of one line
``"<path>: cannot write: <cause>"`` and leaves no temporary files. Temporary paths are named
``.<name>.tmp-<pid>-<random>`` beside the target; those of a process that no longer runs (a
killed run) are removed by the next write of the same target.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator

from plmscope.errors import PlmscopeError

log = logging.getLogger(__name__)

MARKER = ".plmscope-output"
"""File in every directory plmscope writes; only directories holding it are replaced."""

MARKER_FORMAT = "plmscope-output/1"

LEGACY_TEMP_AGE = 24 * 3600
"""Seconds after which a temporary path without a process id (older plmscope versions) is stale."""

# errors that mean "the output location cannot take the write", whoever raised them
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}


_verb: dict[str, str | None] = {"current": None}


@contextlib.contextmanager
def writing_for(verb: str) -> Iterator[None]:
    """Within the block, directory outputs are written by the CLI verb ``verb`` (set by ``plmscope.cli.main``).

    Their :data:`MARKER` names the verb, and an existing output directory that another verb
    wrote is refused (``plmscope figures -o results/attention/...`` would otherwise replace
    hours of attention with figures: both are plmscope outputs).
    """
    previous, _verb["current"] = _verb["current"], verb
    try:
        yield
    finally:
        _verb["current"] = previous


def marker_text() -> str:
    """The content of :data:`MARKER`: which program (and CLI verb) wrote the directory (deterministic per version)."""
    from plmscope import __version__

    doc = {"format": MARKER_FORMAT, "written_by": "plmscope", "version": __version__}
    if _verb["current"]:
        doc["verb"] = _verb["current"]
    return json.dumps(doc) + "\n"


def output_path(target: str | os.PathLike) -> Path:
    """Where ``target`` is written: its parent directory resolved, its own name kept.

    A final ``..`` or ``.`` (or an empty name) is resolved too, so ``results/attention/../..``
    names the directory it really is. A final symbolic link is kept as a link (see :func:`check_output`).
    """
    raw = os.fspath(target)
    if not raw:
        raise PlmscopeError("output path is empty")
    head, tail = os.path.split(raw.rstrip(os.sep) or raw)
    if tail in ("", ".", ".."):
        return Path(os.path.realpath(raw))
    return Path(os.path.realpath(head or os.curdir)) / tail


def _shown(target: str | os.PathLike, located: Path) -> str:
    """The path as the user gave it, plus what it resolves to when that is not obvious."""
    given = os.fspath(target)
    if ".." in Path(given).parts or Path(given).name in ("", ".") or given.rstrip(os.sep) in (".", ""):
        return f"{given} ({located})"
    return given


def _refuse(target, located: Path, why: str) -> PlmscopeError:
    return PlmscopeError(f"refusing to replace {_shown(target, located)}: {why}")


def _marker(directory: Path) -> dict | None:
    """The marker of ``directory`` if it holds a plmscope output marker (a regular file naming plmscope)."""
    marker = directory / MARKER
    try:
        if not stat.S_ISREG(marker.lstat().st_mode):
            return None
        doc = json.loads(marker.read_text())
        return doc if doc.get("written_by") == "plmscope" else None
    except (OSError, ValueError, AttributeError):
        return None


def _is_marked(directory: Path) -> bool:
    """True if ``directory`` holds a plmscope output marker."""
    return _marker(directory) is not None


def _other_verb(directory: Path) -> str | None:
    """The verb that wrote ``directory`` when it is not the one writing now (both known), else None."""
    doc = _marker(directory)
    wrote = doc.get("verb") if doc else None
    current = _verb["current"]
    return wrote if isinstance(wrote, str) and current and wrote != current else None


def _is_empty(directory: Path) -> bool:
    try:
        return not any(directory.iterdir())
    except OSError:
        return False


def is_plmscope_output(directory: str | os.PathLike) -> bool:
    """True if ``directory`` is a directory that plmscope wrote (it holds :data:`MARKER`)."""
    return Path(directory).is_dir() and _is_marked(Path(directory))


def check_output(
    target: str | os.PathLike,
    *,
    directory: bool,
    inputs: Iterable[str | os.PathLike | None] = (),
    owned: Callable[[Path], bool] | None = None,
) -> Path:
    """Refuse an output path plmscope must not replace; return where it will be written.

    Call it at the start of a stage so a bad ``-o`` fails before any work; :func:`atomic_path`
    calls it again just before it replaces anything. The rule is in the module docstring.

    Args:
        target: the output file or directory.
        directory: the output is a directory (False: a file).
        inputs: the run's input files and directories (None entries and paths that do not
            exist are ignored); the output may be neither one of them nor a directory holding one.
        owned: for directories, another test that plmscope wrote an existing directory besides
            the marker (e.g. the files of a work-in-progress directory of an older version).

    Returns:
        :func:`output_path` of ``target``.

    Raises:
        PlmscopeError: ``"refusing to replace X: <reason>"``.
    """
    located = output_path(target)
    resolved = Path(os.path.realpath(located))
    try:
        cwd = Path(os.path.realpath(os.getcwd()))
    except OSError:  # the working directory was removed: nothing there to protect
        cwd = None
    if cwd is not None and (resolved == cwd or resolved in cwd.parents):
        why = "it is the current directory" if resolved == cwd else "it holds the current directory"
        raise _refuse(target, located, why)
    home = Path(os.path.realpath(Path.home()))
    if resolved == home or resolved in home.parents or resolved == Path(resolved.anchor):
        raise _refuse(target, located, "it is the home directory, / or a directory holding the home directory")
    for item in inputs:
        if item is None or not os.path.lexists(item):
            continue
        for source in {Path(os.path.realpath(item)), output_path(item)}:  # where it points, and a link itself
            if resolved == source or located == source:
                raise _refuse(target, located, f"it is the input {os.fspath(item)}")
            if resolved in source.parents:
                raise _refuse(target, located, f"it holds the input {os.fspath(item)}")
    try:
        mode = located.lstat().st_mode
    except FileNotFoundError:
        return located
    except OSError as exc:
        raise cannot_write(target, exc) from None
    if directory:
        if stat.S_ISDIR(mode) and _other_verb(located):
            raise _refuse(target, located, f"it is the output of plmscope {_other_verb(located)}, "
                                           f"not of plmscope {_verb['current']}")  # fmt: skip
        if stat.S_ISDIR(mode) and (
            _is_marked(located) or _is_empty(located) or (owned is not None and owned(located))
        ):
            return located
        raise _refuse(target, located, "not a plmscope output")
    if stat.S_ISDIR(mode) or (stat.S_ISLNK(mode) and resolved.is_dir()):
        raise _refuse(target, located, "it is a directory, and the output is a file")
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise _refuse(target, located, "not a regular file")
    return located


def cannot_write(path: str | os.PathLike, exc: OSError) -> PlmscopeError:
    """``"<path>: cannot write: <cause>"`` for an OS error met while writing ``path``."""
    code = exc.errno
    if code is None:  # libraries (pyarrow) put the OS error number only in the message
        found = re.search(r"\[errno (\d+)\]", str(exc), re.IGNORECASE)
        code = int(found.group(1)) if found else None
    try:
        cause = os.strerror(code) if code else ""
    except ValueError:
        cause = ""
    cause = cause or exc.strerror or " ".join(str(exc).split()) or type(exc).__name__
    return PlmscopeError(f"{os.fspath(path)}: cannot write: {cause}")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def _temp_prefix(name: str) -> str:
    return f".{name}.tmp-{os.getpid()}-"


def remove_stale_temps(parent: Path, name: str) -> list[Path]:
    """Remove temporary paths of ``parent / name`` left by killed runs; return what was removed.

    A temporary path ``.<name>.tmp-<pid>-<random>`` is stale when no process ``<pid>`` runs on
    this machine; one without a pid (older plmscope versions) when it is older than
    :data:`LEGACY_TEMP_AGE`. Temporary paths of other targets are never touched.
    """
    with_pid = re.compile(rf"\.{re.escape(name)}\.tmp-(\d+)-[A-Za-z0-9_]+")
    legacy = re.compile(rf"\.{re.escape(name)}\.tmp-[a-z0-9_]{{8}}")
    removed = []
    try:
        entries = list(parent.glob(f".{glob_escape(name)}.tmp-*"))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = with_pid.fullmatch(entry.name)
        try:
            if match:
                stale = not _pid_alive(int(match.group(1)))
            else:
                stale = bool(legacy.fullmatch(entry.name)) and now - entry.lstat().st_mtime > LEGACY_TEMP_AGE
            if not stale:
                continue
            log.info("removing %s, left by an interrupted run", entry)
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry)
        except OSError:
            continue
    return removed


def glob_escape(name: str) -> str:
    """``name`` with glob metacharacters escaped (``[`` ``*`` ``?``)."""
    return re.sub(r"([\[\]*?])", r"[\1]", name)


def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _is_write_error(exc: OSError, tmp: Path) -> bool:
    """An OS error raised inside the block is about the output if it names the temporary path or the disk."""
    if exc.errno in _WRITE_ERRNOS:
        return True
    for name in (exc.filename, getattr(exc, "filename2", None)):
        if name is not None:
            with contextlib.suppress(TypeError, ValueError):
                if os.path.commonpath([os.path.abspath(os.fsdecode(name)), str(tmp)]) == str(tmp):
                    return True
    return "No space left on device" in str(exc)


@contextlib.contextmanager
def atomic_path(
    target: str | os.PathLike,
    *,
    directory: bool = False,
    inputs: Iterable[str | os.PathLike | None] = (),
) -> Iterator[Path]:
    """Yield a temporary sibling path; rename it onto ``target`` only if the block succeeds.

    Args:
        target: final file or directory path.
        directory: create the temporary path as an empty directory (for Parquet datasets); it
            gets the :data:`MARKER` file when the block succeeds.
        inputs: input paths of the run; ``target`` may not be one of them or hold one.

    The target is checked with :func:`check_output` before anything is created and again before
    it is replaced (see the module docstring for what may be replaced). The temporary path lives
    in the same folder as ``target`` so the final ``os.replace`` is atomic on POSIX file systems;
    an existing output directory is first renamed aside, then removed after the new one is in
    place. On any exception the temporary path is removed and nothing exists at ``target`` that
    was not there before. Temporary paths of killed earlier runs of the same target are removed.

    Raises:
        PlmscopeError: a target plmscope must not replace, or an OS error while writing it
            (``"<target>: cannot write: <cause>"``).
    """
    inputs = list(inputs)
    given = target
    target = check_output(given, directory=directory, inputs=inputs)
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cannot_write(given, exc) from None
    remove_stale_temps(parent, target.name)
    prefix = _temp_prefix(target.name)
    try:
        if directory:
            tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        else:
            fd, name = tempfile.mkstemp(prefix=prefix, dir=parent)
            os.close(fd)
            tmp = Path(name)
    except OSError as exc:
        raise cannot_write(given, exc) from None
    try:
        try:
            # mkstemp/mkdtemp create owner-only paths; give outputs the usual umask-based modes.
            umask = os.umask(0)
            os.umask(umask)
            tmp.chmod((0o777 if directory else 0o666) & ~umask)
        except OSError as exc:
            raise cannot_write(given, exc) from None
        try:
            yield tmp
        except OSError as exc:  # raised by the caller's writes (or reads: those are left alone)
            if _is_write_error(exc, tmp):
                raise cannot_write(given, exc) from None
            raise
        try:
            if directory:
                (tmp / MARKER).write_text(marker_text())
            check_output(given, directory=directory, inputs=inputs)
            _replace(tmp, target, directory=directory)
        except OSError as exc:
            raise cannot_write(given, exc) from None
    except BaseException:
        _discard(tmp)
        raise


def _replace(tmp: Path, target: Path, *, directory: bool) -> None:
    """Move ``tmp`` onto ``target``; an existing (checked) directory is renamed aside first, then removed."""
    if not (directory and os.path.lexists(target)):
        os.replace(tmp, target)
        return
    old = target.with_name(f"{_temp_prefix(target.name)}old{secrets.token_hex(4)}")
    os.rename(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.rename(old, target)
        raise
    _discard(old)


FILE_STEM_MAX = 80
"""Longest file-name stem made from a protein id (file systems allow 255 bytes per name)."""


def file_names(ids: Iterable[str], *, prefix: str = "", suffix: str = "", reserved: Iterable[str] = ()) -> list[str]:
    """One distinct, file-system-safe name ``<prefix><stem><suffix>`` per id, in order.

    Protein ids are user data (``a/b``, ``..``, non-ASCII, 300 characters): the stem keeps
    ``A-Za-z0-9._-``, turns runs of anything else into ``_``, drops leading and trailing dots,
    is cut to :data:`FILE_STEM_MAX` characters, and gets ``-2``, ``-3``, ... when two ids give
    the same name (compared case-insensitively, for case-insensitive file systems) or one of
    ``reserved`` (e.g. ``index.html``).
    """
    names: list[str] = []
    used = {name.lower() for name in reserved}
    for item in ids:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", str(item)).strip(".")[:FILE_STEM_MAX] or "protein"
        name, k = f"{prefix}{stem}{suffix}", 1
        while name.lower() in used:
            k += 1
            name = f"{prefix}{stem}-{k}{suffix}"
        used.add(name.lower())
        names.append(name)
    return names
