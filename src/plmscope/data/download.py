"""Checked, retried, atomic downloads of datasets and weights, and safe tar extraction.

Every named download is verified by SHA-256: against the digest pinned in the manifest
(``resources/downloads.yaml``) or, for an entry not pinned yet, against the digest recorded in
the lock file beside it (``resources/downloads.lock.yaml``) on its first download (trust on
first use, announced with a loud warning). A mismatch is an error and the file is not kept.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import http.client
import logging
import os
import re
import socket
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Literal, get_args
from urllib.parse import urlsplit

import yaml

from plmscope.errors import PlmscopeError, located
from plmscope.io import atomic_path

logger = logging.getLogger(__name__)

DEFAULT_MANIFEST = Path("resources/downloads.yaml")
"""The manifest of named downloads, relative to the working directory (the repository root)."""

DEFAULT_CACHE_DIR = Path("resources/downloads")
"""Where named downloads land unless a cache directory is given."""

_LOCK_HEADER = """\
# SHA-256 of downloads that have no sha256 pinned in {manifest}, recorded by plmscope on their
# first download (trust on first use) and enforced on every later download: a file whose digest
# differs is refused. Check these digests against a trusted source, then pin them in {manifest}.
# Delete a line only when the upstream file changed on purpose.
"""
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}

ArchiveFormat = Literal["tar.gz"]
ARCHIVE_FORMATS: tuple[str, ...] = get_args(ArchiveFormat)

_CHUNK = 1 << 20
_USER_AGENT = "plmscope (Python urllib)"
_ENTRY_KEYS = {"url", "dest", "sha256", "md5", "extract", "extract_dir", "strip_components", "note"}
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MD5 = re.compile(r"^[0-9a-f]{32}$")
_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")
_HEX_LENGTH = {"sha256": 64, "md5": 32}


class _Transient(Exception):
    """A failure worth retrying: connection trouble, timeout, 5xx, truncated body."""


class _Permanent(Exception):
    """A failure that retrying cannot fix: 4xx, checksum mismatch, local write error."""


@dataclasses.dataclass(frozen=True)
class DownloadEntry:
    """One named download of the manifest.

    Attributes:
        name: manifest key, e.g. ``'tape_proteinnet'``.
        url: http(s) address of the file.
        dest: where the file goes, relative to the cache directory.
        sha256: expected lowercase hex SHA-256, or None when not yet pinned (then the lock file
            records it on the first download and enforces it afterwards).
        md5: expected lowercase hex MD5 (an extra check where only an MD5 is published), or None.
        extract: archive format to unpack after download, or None.
        extract_dir: directory (relative to the cache) the archive is unpacked into.
        strip_components: leading path components removed from archive members (as ``tar``).
        note: free text: provenance, what was assumed.
    """

    name: str
    url: str
    dest: str
    sha256: str | None = None
    md5: str | None = None
    extract: ArchiveFormat | None = None
    extract_dir: str | None = None
    strip_components: int = 0
    note: str = ""

    @property
    def target(self) -> str:
        """What the entry stands for, relative to the cache directory.

        The unpacked directory for an archive; the ``*.lmdb`` directory for a file inside one
        (LMDB readers open the directory); otherwise the downloaded file itself.
        """
        if self.extract is not None:
            return str(self.extract_dir)
        parent = Path(self.dest).parent
        if parent.suffix == ".lmdb":
            return parent.as_posix()
        return self.dest


def sha256_of(path: str | os.PathLike) -> str:
    """Lowercase hex SHA-256 of a file, read in 1 MiB chunks."""
    return _digest_of(Path(path), "sha256")


def download(
    url: str,
    dest: str | os.PathLike,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    retries: int = 3,
    timeout: float = 60.0,
    backoff: float = 2.0,
    record: bool = True,
    sha256_source: str | None = None,
) -> Path:
    """Download ``url`` to ``dest``, checked and atomically, retrying transient failures.

    The body streams into a temporary file beside ``dest``; it is renamed onto ``dest`` only
    when the byte count matches ``Content-Length`` (when sent) and the digests match (when
    given). Connection errors, timeouts, HTTP 408/429/5xx and truncated bodies are retried up
    to ``retries`` attempts in all, waiting ``backoff * 2**k`` seconds after the k-th failure;
    other HTTP errors (404, 403, ...) and checksum mismatches fail at once (the downloaded bytes
    are removed). When ``sha256`` is None a warning says the file is unverified, and (with
    ``record``) the computed digest is written to ``<dest>.sha256`` (``sha256sum`` format) so it
    can be pinned. A plain ``http://`` URL (other than a local server) is warned about.

    Args:
        url: http(s) address.
        dest: final file path; its folder is created when missing.
        sha256: expected lowercase hex SHA-256, or None.
        md5: expected lowercase hex MD5, or None.
        retries: attempts in all (at least 1).
        timeout: seconds allowed for connecting and for each read.
        backoff: seconds waited after the first failed attempt; doubled after each further one.
        record: with no ``sha256``, write ``<dest>.sha256`` (callers that keep a lock file
            record the digest there instead).
        sha256_source: where the expected ``sha256`` comes from, e.g. ``"pinned in
            resources/downloads.yaml"``, added to the mismatch error.

    Returns:
        ``dest`` as a Path. When it already exists with the expected ``sha256`` (or exists and
        no ``sha256`` is given) nothing is downloaded.

    Raises:
        PlmscopeError: one line naming the URL and the reason, and saying where to place the
            file by hand. No partial or temporary file is left behind.
    """
    dest = Path(dest)
    if not _URL.match(url):
        raise PlmscopeError(f"{url!r}: not an http(s) URL")
    sha256 = _check_hex(sha256, _SHA256, "sha256")
    md5 = _check_hex(md5, _MD5, "md5")
    if retries < 1:
        raise PlmscopeError(f"retries must be at least 1, got {retries}")
    if dest.is_dir():
        raise located(dest, "is a directory; expected a file path to download to")
    if _is_plain_remote_http(url):
        logger.warning("%s is plain http: only a sha256 check protects it in transit; prefer https", url)
    if dest.is_file():
        if sha256 is None:
            logger.info("%s exists; not downloading %s again (no sha256 to check it)", dest, url)
            return dest
        found = sha256_of(dest)
        if found == sha256:
            logger.info("%s exists with the expected sha256; not downloading %s again", dest, url)
            return dest
        logger.warning("%s has sha256 %s, expected %s; downloading %s again", dest, found, sha256, url)

    reason = ""
    for attempt in range(1, retries + 1):
        try:
            digest = _fetch_once(url, dest, sha256=sha256, md5=md5, timeout=timeout, source=sha256_source)
        except _Permanent as exc:
            reason = str(exc)
            break
        except _Transient as exc:
            reason = str(exc)
            if attempt < retries:
                delay = backoff * 2 ** (attempt - 1)
                logger.warning(
                    "attempt %d/%d for %s failed (%s); retrying in %.3g s",
                    attempt, retries, url, reason, delay,
                )
                time.sleep(delay)
            else:
                reason = f"{reason}; gave up after {retries} attempts"
        else:
            if sha256 is None and record:
                _record_digest(dest, digest)
            logger.info("downloaded %s to %s (sha256 %s)", url, dest, digest)
            return dest

    known = f" (sha256 {sha256})" if sha256 else ""
    raise PlmscopeError(
        f"could not download {url} ({reason}); download it elsewhere and place it at {dest}{known}"
    )


def extract_tar(
    archive: str | os.PathLike,
    dest_dir: str | os.PathLike,
    *,
    strip_components: int = 0,
) -> Path:
    """Unpack a (compressed) tar archive into ``dest_dir``, safely and atomically.

    Members with absolute paths or ``..`` components are rejected, and every member passes
    tarfile's ``data`` filter (no links leaving the destination, no device files, no setuid
    bits). Members are unpacked into a temporary sibling directory that replaces ``dest_dir``
    only when the whole archive was unpacked.

    Args:
        archive: ``.tar``, ``.tar.gz``, ``.tar.bz2`` or ``.tar.xz`` file.
        dest_dir: directory to create (an existing one is replaced only if plmscope wrote it, see
            :mod:`plmscope.io`).
        strip_components: leading path components to drop from each member, as
            ``tar --strip-components``; files with no components left are skipped with a warning.

    Returns:
        ``dest_dir`` as a Path.

    Raises:
        PlmscopeError: the archive is unreadable or holds an unsafe member; nothing is created.
    """
    archive, dest_dir = Path(archive), Path(dest_dir)
    if not hasattr(tarfile, "data_filter"):
        raise PlmscopeError("safe tar extraction needs Python >= 3.11.4 (tarfile extraction filters)")
    if strip_components < 0:
        raise PlmscopeError(f"strip_components must be >= 0, got {strip_components}")
    if not archive.is_file():
        raise located(archive, "archive not found")

    def member_filter(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
        name = _strip(member.name, strip_components, archive)
        if name is None:
            if not member.isdir():
                logger.warning("%s: skipping %r (fewer than %d path components)",
                               archive, member.name, strip_components + 1)
            return None
        changes = {"name": name}
        if member.islnk():
            link = _strip(member.linkname, strip_components, archive)
            if link is None:
                problem = f"hard link {member.name!r} -> {member.linkname!r} is removed by strip_components"
                raise located(archive, problem)
            changes["linkname"] = link
        try:
            return tarfile.data_filter(member.replace(**changes, deep=False), path)
        except tarfile.FilterError as exc:
            raise located(archive, f"unsafe archive member {member.name!r} ({exc})") from None

    try:
        with tarfile.open(archive, "r:*") as tar, atomic_path(dest_dir, directory=True) as tmp:
            tar.extractall(tmp, filter=member_filter)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise located(archive, f"could not unpack into {dest_dir} ({_describe(exc)})") from None
    logger.info("unpacked %s into %s", archive, dest_dir)
    return dest_dir


def load_manifest(manifest: str | os.PathLike = DEFAULT_MANIFEST) -> dict[str, DownloadEntry]:
    """Read and validate the manifest of named downloads (YAML: name -> entry).

    Args:
        manifest: YAML file; see ``resources/downloads.yaml`` for the entry keys.

    Returns:
        Entries by name, in file order.

    Raises:
        PlmscopeError: naming the manifest, the entry and the problem.
    """
    manifest = Path(manifest)
    try:
        data = yaml.safe_load(manifest.read_text())
    except FileNotFoundError:
        raise located(manifest, "download manifest not found") from None
    except (OSError, yaml.YAMLError) as exc:
        raise located(manifest, f"cannot read the download manifest ({_describe(exc)})") from None
    if not isinstance(data, dict) or not data:
        raise located(manifest, "expected a mapping of download names to entries")
    entries: dict[str, DownloadEntry] = {}
    for name, raw in data.items():
        entries[str(name)] = _parse_entry(manifest, name, raw)
    _check_no_overlap(manifest, entries)
    return entries


def fetch(
    name: str,
    *,
    manifest: str | os.PathLike = DEFAULT_MANIFEST,
    cache_dir: str | os.PathLike = DEFAULT_CACHE_DIR,
    retries: int = 3,
    timeout: float = 60.0,
    backoff: float = 2.0,
) -> Path:
    """Download (and unpack) one named manifest entry into the cache directory.

    The file is verified as :func:`download_entry` describes (pinned sha256, else the lock file).

    Args:
        name: manifest key, e.g. ``'tape_proteinnet'``.
        manifest: the YAML manifest.
        cache_dir: root of the download cache; entry paths are relative to it.
        retries: attempts in all per file.
        timeout: seconds allowed for connecting and for each read.
        backoff: seconds waited after the first failed attempt; doubled after each further one.

    Returns:
        The entry's target under ``cache_dir``: the unpacked directory of an archive (left
        alone when it exists), the ``*.lmdb`` directory of an LMDB file, otherwise the file.

    Raises:
        PlmscopeError: unknown name, invalid manifest, failed download or unsafe archive.
    """
    entries = load_manifest(manifest)
    if name not in entries:
        raise located(manifest, f"no download named {name!r} (known: {', '.join(entries)})")
    entry = entries[name]
    cache_dir = Path(cache_dir)
    path = download_entry(
        entry, cache_dir / entry.dest, manifest=manifest, retries=retries, timeout=timeout, backoff=backoff
    )
    if entry.extract is None:
        return cache_dir / entry.target
    unpacked = cache_dir / entry.target
    if unpacked.is_dir():
        logger.info("%s exists; not unpacking %s again", unpacked, path)
        return unpacked
    return extract_tar(path, unpacked, strip_components=entry.strip_components)


def lock_path(manifest: str | os.PathLike = DEFAULT_MANIFEST) -> Path:
    """The lock file beside a manifest: ``downloads.yaml`` -> ``downloads.lock.yaml``."""
    manifest = Path(manifest)
    stem = manifest.name
    for suffix in (".yaml", ".yml"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    return manifest.with_name(f"{stem}.lock.yaml")


def read_lock(lock: str | os.PathLike) -> dict[str, str]:
    """Read a lock file (YAML ``name: sha256``); a missing file is an empty lock.

    Raises:
        PlmscopeError: the file is unreadable or holds anything but names mapped to sha256 digests.
    """
    lock = Path(lock)
    try:
        data = yaml.safe_load(lock.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, yaml.YAMLError) as exc:
        raise located(lock, f"cannot read the download lock file ({_describe(exc)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise located(lock, "expected a mapping of download names to sha256 digests")
    locked = {}
    for name, digest in data.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise located(lock, f"invalid download name {name!r}")
        if not isinstance(digest, str) or not _SHA256.match(digest.lower()):
            raise located(lock, f"entry {name!r}: sha256 must be 64 hex digits, got {digest!r}")
        locked[name] = digest.lower()
    return locked


def download_entry(
    entry: DownloadEntry,
    dest: str | os.PathLike,
    *,
    manifest: str | os.PathLike = DEFAULT_MANIFEST,
    retries: int = 3,
    timeout: float = 60.0,
    backoff: float = 2.0,
) -> Path:
    """Download one manifest entry to ``dest``, verified by SHA-256 (trust on first use).

    The expected digest is the entry's ``sha256`` when pinned in the manifest, else the one the
    lock file (:func:`lock_path`) recorded for the entry's name. With neither, the file is
    downloaded (or an existing ``dest`` taken as it is), a loud warning says it was trusted
    unverified, and its digest is recorded in the lock file, so every later download must match.
    A mismatch is an error and the downloaded bytes are not kept.

    Returns:
        ``dest`` as a Path.

    Raises:
        PlmscopeError: the download failed or its digest differs from the pinned/recorded one.
    """
    dest, lock = Path(dest), lock_path(manifest)
    if entry.sha256 is not None:
        expected, source = entry.sha256, f"pinned in {manifest}"
    else:
        expected = read_lock(lock).get(entry.name)
        source = f"recorded in {lock} on the first download" if expected else None
    path = download(
        entry.url, dest, sha256=expected, md5=entry.md5, retries=retries, timeout=timeout, backoff=backoff,
        record=False, sha256_source=source,
    )  # fmt: skip
    if expected is None:
        _record_lock(Path(manifest), lock, entry.name, sha256_of(path), path)
    return path


def run_download(
    *,
    name: str | None = None,
    url: str | None = None,
    extract: str | os.PathLike | None = None,
    output: str | os.PathLike | None = None,
    sha256: str | None = None,
    md5: str | None = None,
    strip_components: int = 0,
    manifest: str | os.PathLike = DEFAULT_MANIFEST,
    cache_dir: str | os.PathLike = DEFAULT_CACHE_DIR,
    retries: int = 3,
    timeout: float = 60.0,
) -> Path:
    """The ``plmscope download`` verb: one of three modes, chosen by which source is given.

    * ``name``: fetch a manifest entry into ``cache_dir`` (see :func:`fetch`).
    * ``url`` and ``output``: download one file (see :func:`download`), checked against
      ``sha256`` / ``md5`` when given. Without ``sha256``, a URL that belongs to a manifest
      entry is verified like that entry (pinned sha256, else the lock file; see
      :func:`download_entry`); this is how the Snakemake download rules call it.
    * ``extract`` and ``output``: unpack the archive ``extract`` into the directory ``output``.

    Returns:
        The file or directory produced.

    Raises:
        PlmscopeError: not exactly one mode given, ``output`` missing or superfluous, or the
            download / extraction failed.
    """
    sources = (("--name", name), ("--url", url), ("--extract", extract))
    modes = [flag for flag, value in sources if value is not None]
    if len(modes) != 1:
        raise PlmscopeError(f"give exactly one of --name, --url, --extract, got {', '.join(modes) or 'none'}")
    if name is not None:
        if output is not None:
            raise PlmscopeError("--output is not used with --name (the manifest gives the destination)")
        return fetch(name, manifest=manifest, cache_dir=cache_dir, retries=retries, timeout=timeout)
    if output is None:
        raise PlmscopeError(f"{modes[0]} needs --output")
    if url is not None:
        entry = None if sha256 else _entry_for_url(url, manifest)
        if entry is not None:
            return download_entry(entry, output, manifest=manifest, retries=retries, timeout=timeout)
        return download(url, output, sha256=sha256, md5=md5, retries=retries, timeout=timeout)
    return extract_tar(extract, output, strip_components=strip_components)


def _fetch_once(
    url: str, dest: Path, *, sha256: str | None, md5: str | None, timeout: float, source: str | None = None
) -> str:
    """One attempt: stream into a temp file beside ``dest``, check it, rename. Returns the sha256."""
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (http(s) checked)
    except urllib.error.HTTPError as exc:
        exc.close()
        message = f"HTTP {exc.code} {exc.reason}"
        if exc.code in (408, 429) or exc.code >= 500:
            raise _Transient(message) from None
        raise _Permanent(message) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise _Transient(_describe(exc)) from None

    try:
        return _stream(response, dest, sha256=sha256, md5=md5, source=source)
    except OSError as exc:  # reading errors are already _Transient: this is the local file
        raise _Permanent(f"cannot write {dest}: {_describe(exc)}") from None
    finally:
        response.close()


def _stream(response, dest: Path, *, sha256: str | None, md5: str | None, source: str | None = None) -> str:
    """Copy the body into a temp file beside ``dest``; rename it there only when it checks out."""
    with atomic_path(dest) as tmp:
        expected = _content_length(response)
        hashers = {"sha256": hashlib.sha256(), "md5": hashlib.md5(usedforsecurity=False)}
        received = 0
        with open(tmp, "wb") as fh:
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except (http.client.IncompleteRead, http.client.HTTPException, OSError) as exc:
                    problem = f"transfer interrupted after {received} bytes: {_describe(exc)}"
                    raise _Transient(problem) from None
                if not chunk:
                    break
                received += len(chunk)
                for hasher in hashers.values():
                    hasher.update(chunk)
                fh.write(chunk)
        if expected is not None and received != expected:
            raise _Transient(f"truncated transfer: got {received} of {expected} bytes")
        digests = {kind: hasher.hexdigest() for kind, hasher in hashers.items()}
        for kind, want in (("sha256", sha256), ("md5", md5)):
            if want is not None and digests[kind] != want:
                origin = f" ({source})" if kind == "sha256" and source else ""
                raise _Permanent(f"{kind} mismatch: got {digests[kind]}, expected {want}{origin}")
    return digests["sha256"]


def _content_length(response) -> int | None:
    """The Content-Length header as an int, or None when absent or unusable."""
    value = response.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _record_digest(dest: Path, digest: str) -> None:
    """Write ``<dest>.sha256`` in ``sha256sum`` format and log the digest so it can be pinned."""
    sidecar = dest.with_name(dest.name + ".sha256")
    with atomic_path(sidecar) as tmp:
        tmp.write_text(f"{digest}  {dest.name}\n")
    logger.warning(
        "WARNING: no sha256 given for %s: it was NOT verified; its sha256 is %s (written to %s):"
        " check it and pass it with --sha256 from now on", dest, digest, sidecar,
    )


def _entry_for_url(url: str, manifest: str | os.PathLike) -> DownloadEntry | None:
    """The manifest entry downloading ``url``, or None (also when there is no manifest file)."""
    if not Path(manifest).is_file():
        return None
    return next((entry for entry in load_manifest(manifest).values() if entry.url == url), None)


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (the manifest) while the lock file is updated."""
    try:
        import fcntl
    except ImportError:  # not POSIX: parallel downloads may race on the lock file
        yield
        return
    with open(path, "rb") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _record_lock(manifest: Path, lock: Path, name: str, digest: str, path: Path) -> None:
    """Add ``name: digest`` to the lock file (atomically) and warn loudly that it was trusted."""
    with _exclusive(manifest):
        locked = read_lock(lock)
        if locked.get(name, digest) != digest:  # another process recorded it meanwhile
            raise located(lock, f"entry {name!r}: {path} has sha256 {digest}, but {locked[name]} was recorded")
        locked[name] = digest
        body = "".join(f'"{key}": "{value}"\n' for key, value in locked.items())
        fd, tmp = tempfile.mkstemp(prefix=f".{lock.name}.tmp-", dir=lock.parent)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(_LOCK_HEADER.format(manifest=manifest.name) + body)
            os.chmod(tmp, 0o644)
            os.replace(tmp, lock)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    logger.warning(
        "WARNING: %r has no sha256 pinned in %s: %s was trusted WITHOUT verification (first use);"
        " its sha256 %s is now recorded in %s and every later download must match it."
        " Check it against a trusted source and pin it in %s.",
        name, manifest, path, digest, lock, manifest,
    )


def _is_plain_remote_http(url: str) -> bool:
    """True for an ``http://`` URL to anything but a local server."""
    parts = urlsplit(url)
    return parts.scheme == "http" and (parts.hostname or "") not in _LOCAL_HOSTS


def _digest_of(path: Path, kind: str) -> str:
    """Lowercase hex digest (``kind``: a hashlib name) of a file."""
    hasher = hashlib.new(kind)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def _check_hex(value: str | None, pattern: re.Pattern, kind: str) -> str | None:
    """Normalise an expected digest to lowercase hex, or raise when it is malformed."""
    if value is None or value == "":
        return None
    value = str(value).strip().lower()
    if not pattern.match(value):
        raise PlmscopeError(f"{kind} must be {_HEX_LENGTH[kind]} hex digits, got {value!r}")
    return value


def _strip(name: str, count: int, archive: Path) -> str | None:
    """Member name without ``count`` leading components; None when nothing is left."""
    if name.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", name):
        raise located(archive, f"unsafe archive member {name!r} (absolute path)")
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise located(archive, f"unsafe archive member {name!r} ('..' in path)")
    parts = parts[count:]
    return "/".join(parts) if parts else None


def _parse_entry(manifest: Path, name, raw) -> DownloadEntry:
    """Validate one manifest entry."""
    where = f"entry {name!r}"
    if not isinstance(name, str) or not _NAME.match(name):
        raise located(manifest, f"{where}: names may hold only letters, digits, '_', '.', '-'")
    if not isinstance(raw, dict):
        raise located(manifest, f"{where}: expected a mapping with url and dest")
    unknown = sorted(set(raw) - _ENTRY_KEYS)
    if unknown:
        allowed = ", ".join(sorted(_ENTRY_KEYS))
        raise located(manifest, f"{where}: unknown key {unknown[0]!r} (allowed: {allowed})")
    url = raw.get("url")
    if not isinstance(url, str) or not _URL.match(url):
        raise located(manifest, f"{where}: url must be an http(s) address, got {url!r}")
    if _is_plain_remote_http(url):
        raise located(manifest, f"{where}: url must use https (plain http only for a local server), got {url!r}")
    dest = _relative_path(manifest, where, "dest", raw.get("dest"))
    digests = {}
    for kind, pattern in (("sha256", _SHA256), ("md5", _MD5)):
        value = raw.get(kind)
        if value is not None and (not isinstance(value, str) or not pattern.match(value.lower())):
            raise located(
                manifest, f"{where}: {kind} must be null or {_HEX_LENGTH[kind]} hex digits, got {value!r}"
            )
        digests[kind] = value.lower() if isinstance(value, str) else None
    extract = raw.get("extract")
    extract_dir = raw.get("extract_dir")
    strip = raw.get("strip_components", 0)
    if extract is not None:
        if extract not in ARCHIVE_FORMATS:
            choices = ", ".join(ARCHIVE_FORMATS)
            raise located(manifest, f"{where}: extract must be one of {choices}, got {extract!r}")
        extract_dir = _relative_path(manifest, where, "extract_dir", extract_dir)
        if not isinstance(strip, int) or isinstance(strip, bool) or strip < 0:
            raise located(manifest, f"{where}: strip_components must be an integer >= 0, got {strip!r}")
    elif extract_dir is not None or "strip_components" in raw:
        raise located(manifest, f"{where}: extract_dir and strip_components need extract")
    note = raw.get("note", "")
    return DownloadEntry(
        name=name,
        url=url,
        dest=dest,
        sha256=digests["sha256"],
        md5=digests["md5"],
        extract=extract,
        extract_dir=extract_dir,
        strip_components=strip,
        note=" ".join(str(note).split()),
    )


def _relative_path(manifest: Path, where: str, key: str, value) -> str:
    """A manifest path: relative, no '..', normalised to forward slashes."""
    if not isinstance(value, str) or not value.strip():
        raise located(manifest, f"{where}: {key} must be a relative path, got {value!r}")
    path = Path(value)
    if path.is_absolute() or ".." in path.parts:
        raise located(
            manifest, f"{where}: {key} must be relative to the cache directory, without '..', got {value!r}"
        )
    return path.as_posix()


def _check_no_overlap(manifest: Path, entries: dict[str, DownloadEntry]) -> None:
    """Refuse two entries writing the same path, or one writing inside the other's output."""
    written = [(e.name, PurePosixPath(p)) for e in entries.values() for p in {e.dest, e.target}]
    for i, (name_a, a) in enumerate(written):
        for name_b, b in written[i + 1 :]:
            if name_a != name_b and (a == b or a in b.parents or b in a.parents):
                shared = a if len(a.parts) <= len(b.parts) else b
                raise located(manifest, f"entries {name_a!r} and {name_b!r} both write to {shared}")


def _describe(exc: BaseException) -> str:
    """A short one-line description of a network or file error."""
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())
