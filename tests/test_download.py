"""Downloads against a local HTTP server on 127.0.0.1: retries, checksums, atomicity, safe unpacking."""

from __future__ import annotations

import collections
import hashlib
import http.server
import io
import os
import re
import socket
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest
import yaml

from plmscope.data import download as dl
from plmscope.data.download import download, extract_tar, fetch, load_manifest, run_download
from plmscope.errors import PlmscopeError

REPO = Path(__file__).resolve().parents[1]
FAST = {"timeout": 2.0, "backoff": 0.001}


# --- a local server whose routes each test plants ------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server API)
        self.server.hits[self.path] += 1
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        route(self, self.server.hits[self.path])

    def log_message(self, *args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that time out leave broken pipes behind; not the test's concern


def send(handler, body: bytes, *, status: int = 200, length: int | None = None) -> None:
    """Answer with ``body``, announcing ``length`` bytes (default: the true length)."""
    handler.send_response(status)
    handler.send_header("Content-Length", str(len(body) if length is None else length))
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()


@pytest.fixture
def server():
    """A server on 127.0.0.1 (random port) with ``routes`` {path: fn(handler, hit)} and ``hits``."""
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.routes, srv.hits = {}, collections.Counter()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def make_tar(path: Path, files: dict[str, bytes]) -> bytes:
    """Write a tar.gz holding ``files`` (member name -> content); return its bytes."""
    with tarfile.open(path, "w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return path.read_bytes()


@pytest.fixture
def archive(tmp_path) -> bytes:
    """Bytes of a small tar.gz in the layout of TAPE's data archives (one top-level folder)."""
    return make_tar(
        tmp_path / "built.tar.gz",
        {"payload/a.txt": b"alpha\n", "payload/sub/b.txt": b"beta\n" * 1000},
    )


@pytest.fixture
def out(tmp_path) -> Path:
    """An empty destination folder: after any failure it must still be empty."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assert_one_line_naming(exc: PlmscopeError, url: str, dest: Path) -> None:
    message = str(exc)
    assert "\n" not in message
    assert f"could not download {url} (" in message
    assert f"place it at {dest}" in message


# --- download ------------------------------------------------------------------------------


def test_download_writes_the_file_and_records_an_unpinned_digest(server, archive, out):
    server.routes["/data.tar.gz"] = lambda h, hit: send(h, archive)
    dest = out / "data.tar.gz"
    assert download(f"{server.url}/data.tar.gz", dest, **FAST) == dest
    assert dest.read_bytes() == archive
    assert (out / "data.tar.gz.sha256").read_text() == f"{sha(archive)}  data.tar.gz\n"
    assert sorted(p.name for p in out.iterdir()) == ["data.tar.gz", "data.tar.gz.sha256"]


def test_download_checks_pinned_sha256_and_md5_and_creates_missing_folders(server, archive, out):
    server.routes["/f"] = lambda h, hit: send(h, archive)
    dest = out / "deep" / "er" / "f.bin"
    md5 = hashlib.md5(archive).hexdigest()
    download(f"{server.url}/f", dest, sha256=sha(archive).upper(), md5=md5, **FAST)
    assert dest.read_bytes() == archive
    assert not dest.with_name("f.bin.sha256").exists()  # pinned: nothing to record


def test_existing_file_with_the_right_checksum_is_not_fetched_again(server, archive, out):
    server.routes["/f"] = lambda h, hit: send(h, b"something else")
    dest = out / "f"
    dest.write_bytes(archive)
    download(f"{server.url}/f", dest, sha256=sha(archive), **FAST)
    assert server.hits["/f"] == 0
    assert dest.read_bytes() == archive


def test_existing_file_with_a_wrong_checksum_is_replaced(server, archive, out):
    server.routes["/f"] = lambda h, hit: send(h, archive)
    dest = out / "f"
    dest.write_bytes(b"stale half download")
    download(f"{server.url}/f", dest, sha256=sha(archive), **FAST)
    assert server.hits["/f"] == 1
    assert dest.read_bytes() == archive


def test_checksum_mismatch_fails_at_once_and_leaves_nothing(server, archive, out):
    server.routes["/f"] = lambda h, hit: send(h, archive + b"tampered")
    url, dest, want = f"{server.url}/f", out / "f", sha(archive)
    with pytest.raises(PlmscopeError) as err:
        download(url, dest, sha256=want, retries=3, **FAST)
    assert_one_line_naming(err.value, url, dest)
    assert f"sha256 mismatch: got {sha(archive + b'tampered')}, expected {want}" in str(err.value)
    assert str(err.value).endswith(f"place it at {dest} (sha256 {want})")
    assert server.hits["/f"] == 1
    assert list(out.iterdir()) == []


def test_md5_mismatch_fails(server, archive, out):
    server.routes["/f"] = lambda h, hit: send(h, archive)
    with pytest.raises(PlmscopeError, match="md5 mismatch"):
        download(f"{server.url}/f", out / "f", md5="0" * 32, **FAST)
    assert list(out.iterdir()) == []


def test_truncated_transfer_is_retried_then_fails_leaving_nothing(server, archive, out):
    server.routes["/f"] = lambda h, hit: send(h, archive[:100], length=len(archive))
    url, dest = f"{server.url}/f", out / "f"
    with pytest.raises(PlmscopeError) as err:
        download(url, dest, retries=2, **FAST)
    assert_one_line_naming(err.value, url, dest)
    assert f"truncated transfer: got 100 of {len(archive)} bytes; gave up after 2 attempts" in str(err.value)
    assert server.hits["/f"] == 2
    assert list(out.iterdir()) == []


def test_server_errors_are_retried_until_success(server, archive, out):
    def flaky(handler, hit):
        if hit <= 2:
            send(handler, b"busy", status=500)
        else:
            send(handler, archive)

    server.routes["/f"] = flaky
    dest = download(f"{server.url}/f", out / "f", retries=3, **FAST)
    assert server.hits["/f"] == 3
    assert dest.read_bytes() == archive


def test_retries_wait_with_doubling_backoff(server, out, monkeypatch):
    server.routes["/f"] = lambda h, hit: send(h, b"down", status=503)
    waits = []
    monkeypatch.setattr(dl.time, "sleep", waits.append)
    with pytest.raises(PlmscopeError, match="HTTP 503"):
        download(f"{server.url}/f", out / "f", retries=4, timeout=2.0, backoff=0.5)
    assert server.hits["/f"] == 4
    assert waits == [0.5, 1.0, 2.0]


def test_not_found_is_not_retried(server, out):
    url, dest = f"{server.url}/missing.tar.gz", out / "missing.tar.gz"
    with pytest.raises(PlmscopeError) as err:
        download(url, dest, retries=3, **FAST)
    assert_one_line_naming(err.value, url, dest)
    assert "HTTP 404" in str(err.value)
    assert server.hits["/missing.tar.gz"] == 1
    assert list(out.iterdir()) == []


def test_timeouts_are_retried(server, out):
    def slow(handler, hit):
        time.sleep(0.6)
        send(handler, b"too late")

    server.routes["/f"] = slow
    url, dest = f"{server.url}/f", out / "f"
    with pytest.raises(PlmscopeError) as err:
        download(url, dest, retries=2, timeout=0.15, backoff=0.001)
    assert_one_line_naming(err.value, url, dest)
    assert "timed out" in str(err.value)
    assert server.hits["/f"] == 2
    assert list(out.iterdir()) == []


def test_no_server_gives_one_clear_line_and_leaves_nothing(out):
    with socket.socket() as sock:  # a port nobody listens on any more
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url, dest = f"http://127.0.0.1:{port}/proteinnet.tar.gz", out / "proteinnet.tar.gz"
    with pytest.raises(PlmscopeError) as err:
        download(url, dest, retries=2, **FAST)
    assert_one_line_naming(err.value, url, dest)
    assert "refused" in str(err.value).lower()
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"url": "ftp://127.0.0.1/x"}, "not an http(s) URL"),
        ({"sha256": "abc"}, "sha256 must be 64 hex digits"),
        ({"retries": 0}, "retries must be at least 1"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(server, out, kwargs, problem):
    args = {"url": f"{server.url}/f", "dest": out / "f", **kwargs}
    with pytest.raises(PlmscopeError, match=re.escape(problem)):
        download(args.pop("url"), args.pop("dest"), **args)
    assert sum(server.hits.values()) == 0


# --- extract_tar -----------------------------------------------------------------------------


def test_extract_unpacks_and_strips_leading_folder(tmp_path, archive):
    path = tmp_path / "a.tar.gz"
    path.write_bytes(archive)
    kept = extract_tar(path, tmp_path / "kept")
    assert (kept / "payload" / "sub" / "b.txt").read_bytes() == b"beta\n" * 1000
    stripped = extract_tar(path, tmp_path / "stripped", strip_components=1)
    assert sorted(p.relative_to(stripped).as_posix() for p in stripped.rglob("*")) == [
        ".plmscope-output", "a.txt", "sub", "sub/b.txt",
    ]  # fmt: skip
    assert (stripped / "a.txt").read_bytes() == b"alpha\n"


def test_extract_replaces_its_own_output_but_not_a_user_directory(tmp_path, archive):
    path = tmp_path / "a.tar.gz"
    path.write_bytes(archive)
    dest = tmp_path / "dest"
    extract_tar(path, dest, strip_components=1)
    (dest / "old.txt").write_text("old")
    extract_tar(path, dest, strip_components=1)  # a directory plmscope unpacked is replaced as a whole
    assert sorted(p.name for p in dest.iterdir()) == [".plmscope-output", "a.txt", "sub"]
    user = tmp_path / "user"
    user.mkdir()
    (user / "old.txt").write_text("old")
    with pytest.raises(PlmscopeError, match=r"^refusing to replace .*/user: not a plmscope output$"):
        extract_tar(path, user, strip_components=1)
    assert [p.name for p in user.iterdir()] == ["old.txt"]


def test_strip_skips_top_level_files_with_a_warning(tmp_path, caplog):
    path = tmp_path / "a.tar.gz"
    make_tar(path, {"._junk": b"mac", "data/x.txt": b"x"})
    dest = extract_tar(path, tmp_path / "dest", strip_components=1)
    assert sorted(p.name for p in dest.iterdir()) == [".plmscope-output", "x.txt"]
    assert "skipping '._junk'" in caplog.text


def _symlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


@pytest.mark.parametrize(
    ("member", "problem"),
    [
        ("../evil.txt", "'..' in path"),
        ("payload/../../evil.txt", "'..' in path"),
        ("/tmp/evil.txt", "absolute path"),
        (_symlink("payload/link", "/etc/passwd"), "unsafe archive member 'payload/link'"),
        (_symlink("payload/link", "../../evil.txt"), "unsafe archive member 'payload/link'"),
    ],
)
def test_extract_rejects_malicious_members_and_creates_nothing(tmp_path, member, problem):
    work = tmp_path / "work"
    work.mkdir()
    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        good = tarfile.TarInfo("payload/good.txt")
        good.size = 4
        tar.addfile(good, io.BytesIO(b"good"))
        if isinstance(member, tarfile.TarInfo):
            tar.addfile(member)
        else:
            evil = tarfile.TarInfo(member)
            evil.size = 4
            tar.addfile(evil, io.BytesIO(b"evil"))
    with pytest.raises(PlmscopeError) as err:
        extract_tar(path, work / "dest")
    assert str(err.value).startswith(f"{path}: ")
    assert problem in str(err.value)
    assert list(work.iterdir()) == []  # no dest, no temporary directory
    assert not (tmp_path / "evil.txt").exists()


def test_extract_of_a_corrupt_archive_names_it_and_creates_nothing(tmp_path, archive):
    path = tmp_path / "cut.tar.gz"
    path.write_bytes(archive[: len(archive) // 2])
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(PlmscopeError, match=f"^{path}: could not unpack"):
        extract_tar(path, work / "dest")
    assert list(work.iterdir()) == []


# --- manifest and fetch ----------------------------------------------------------------------


def write_manifest(path: Path, entries: dict) -> Path:
    path.write_text(yaml.safe_dump(entries, sort_keys=False))
    return path


def test_fetch_downloads_unpacks_and_then_reuses_the_cache(server, archive, tmp_path):
    lmdb_bytes, weights = b"\x00lmdb" * 50, b"weights" * 10
    server.routes.update({
        "/proteinnet.tar.gz": lambda h, hit: send(h, archive),
        "/data.mdb": lambda h, hit: send(h, lmdb_bytes),
        "/model.bin": lambda h, hit: send(h, weights),
    })
    manifest = write_manifest(tmp_path / "downloads.yaml", {
        "tape_proteinnet": {
            "url": f"{server.url}/proteinnet.tar.gz", "dest": "archives/proteinnet.tar.gz",
            "sha256": sha(archive), "extract": "tar.gz", "extract_dir": "tape/proteinnet",
            "strip_components": 1,
        },
        "sites_valid": {"url": f"{server.url}/data.mdb", "dest": "provis/sites_valid.lmdb/data.mdb"},
        "weights": {"url": f"{server.url}/model.bin", "dest": "models/m/pytorch_model.bin", "sha256": sha(weights)},
    })
    cache = tmp_path / "cache"
    assert fetch("tape_proteinnet", manifest=manifest, cache_dir=cache, **FAST) == cache / "tape/proteinnet"
    assert (cache / "tape/proteinnet/sub/b.txt").read_bytes() == b"beta\n" * 1000
    assert (cache / "archives/proteinnet.tar.gz").read_bytes() == archive
    assert fetch("sites_valid", manifest=manifest, cache_dir=cache, **FAST) == cache / "provis/sites_valid.lmdb"
    assert (cache / "provis/sites_valid.lmdb/data.mdb").read_bytes() == lmdb_bytes
    assert not (cache / "provis/sites_valid.lmdb/data.mdb.sha256").exists()  # the lock file records it
    assert dl.read_lock(tmp_path / "downloads.lock.yaml") == {"sites_valid": sha(lmdb_bytes)}
    assert fetch("weights", manifest=manifest, cache_dir=cache, **FAST) == cache / "models/m/pytorch_model.bin"

    for name in ("tape_proteinnet", "sites_valid", "weights"):
        fetch(name, manifest=manifest, cache_dir=cache, **FAST)
    assert dict(server.hits) == {"/proteinnet.tar.gz": 1, "/data.mdb": 1, "/model.bin": 1}


def test_fetch_of_an_unknown_name_lists_the_known_ones(tmp_path):
    manifest = write_manifest(tmp_path / "m.yaml", {"a": {"url": "http://127.0.0.1/a", "dest": "a"}})
    with pytest.raises(PlmscopeError, match=r"m\.yaml: no download named 'b' \(known: a\)"):
        fetch("b", manifest=manifest, cache_dir=tmp_path / "cache")


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"dest": "a"}, "url must be an http(s) address"),
        ({"url": "http://example.org/a", "dest": "a"}, "url must use https (plain http only for a local server)"),
        ({"url": "http://127.0.0.1/a", "dest": "/etc/a"}, "dest must be relative"),
        ({"url": "http://127.0.0.1/a", "dest": "../a"}, "dest must be relative"),
        ({"url": "http://127.0.0.1/a", "dest": "a", "sha256": "xyz"}, "sha256 must be null or 64 hex digits"),
        ({"url": "http://127.0.0.1/a", "dest": "a", "shasum": "0"}, "unknown key 'shasum'"),
        ({"url": "http://127.0.0.1/a", "dest": "a", "extract": "zip", "extract_dir": "d"}, "extract must be one of"),
        ({"url": "http://127.0.0.1/a", "dest": "a", "extract": "tar.gz"}, "extract_dir must be a relative path"),
        ({"url": "http://127.0.0.1/a", "dest": "a", "extract_dir": "d"}, "need extract"),
    ],
)
def test_invalid_manifest_entries_are_named(tmp_path, entry, problem):
    manifest = write_manifest(tmp_path / "m.yaml", {"entry_x": entry})
    with pytest.raises(PlmscopeError) as err:
        load_manifest(manifest)
    assert str(err.value).startswith(f"{manifest}: entry 'entry_x': ")
    assert problem in str(err.value)


def test_manifest_entries_may_not_overlap(tmp_path):
    manifest = write_manifest(tmp_path / "m.yaml", {
        "archive": {"url": "http://127.0.0.1/a", "dest": "a.tar.gz", "extract": "tar.gz", "extract_dir": "d"},
        "inside": {"url": "http://127.0.0.1/b", "dest": "d/b.txt"},
    })
    with pytest.raises(PlmscopeError, match="entries 'archive' and 'inside' both write to d"):
        load_manifest(manifest)


def test_repository_manifest_lists_the_paper_downloads():
    entries = load_manifest(REPO / "resources" / "downloads.yaml")
    assert {name: entry.target for name, entry in entries.items()} == {
        "tape_proteinnet": "tape/proteinnet",
        "tape_secondary_structure": "tape/secondary_structure",
        "provis_binding_site_train": "provis/binding_sites/binding_site_train.lmdb",
        "provis_binding_site_valid": "provis/binding_sites/binding_site_valid.lmdb",
        "provis_protein_modification_train": "provis/protein_modifications/protein_modification_train.lmdb",
        "provis_protein_modification_valid": "provis/protein_modifications/protein_modification_valid.lmdb",
        "tape_bert_base_config": "models/tape_bert-base/config.json",
        "tape_bert_base_weights": "models/tape_bert-base/pytorch_model.bin",
    }
    assert entries["tape_proteinnet"].url.endswith("/data_pytorch/proteinnet.tar.gz")
    assert all(entry.note for entry in entries.values())
    assert all(entry.url.startswith("https://") for entry in entries.values())


# --- the lock file: trust on first use, enforced afterwards ------------------------------------


def test_first_unpinned_download_warns_loudly_and_records_the_digest_in_the_lock(server, tmp_path, caplog):
    body = b"first version" * 100
    server.routes["/f.bin"] = lambda h, hit: send(h, body)
    manifest = write_manifest(tmp_path / "downloads.yaml", {"thing": {"url": f"{server.url}/f.bin", "dest": "f.bin"}})
    path = fetch("thing", manifest=manifest, cache_dir=tmp_path / "cache", **FAST)
    assert path.read_bytes() == body
    lock = tmp_path / "downloads.lock.yaml"
    assert dl.lock_path(manifest) == lock
    assert dl.read_lock(lock) == {"thing": sha(body)}
    assert lock.read_text().startswith("# SHA-256 of downloads that have no sha256 pinned in downloads.yaml")
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("'thing' has no sha256 pinned" in w and "WITHOUT verification" in w and sha(body) in w
               for w in warnings), warnings  # fmt: skip


def test_the_lock_is_enforced_on_later_downloads_and_a_mismatch_keeps_nothing(server, tmp_path):
    versions = {1: b"first version" * 100, 2: b"tampered version" * 100}
    server.routes["/f.bin"] = lambda h, hit: send(h, versions[min(hit, 2)])
    manifest = write_manifest(tmp_path / "downloads.yaml", {"thing": {"url": f"{server.url}/f.bin", "dest": "f.bin"}})
    fetch("thing", manifest=manifest, cache_dir=tmp_path / "first", **FAST)
    lock = tmp_path / "downloads.lock.yaml"
    recorded = lock.read_text()

    second = tmp_path / "second"  # a fresh cache (another machine): the server now sends other bytes
    with pytest.raises(PlmscopeError) as err:
        fetch("thing", manifest=manifest, cache_dir=second, retries=3, **FAST)
    message = str(err.value)
    assert "\n" not in message
    assert f"could not download {server.url}/f.bin (sha256 mismatch: got {sha(versions[2])}" in message
    assert f"expected {sha(versions[1])} (recorded in {lock} on the first download)" in message
    assert server.hits["/f.bin"] == 2  # a mismatch is not retried
    assert not second.exists() or [p for p in second.rglob("*") if p.is_file()] == []
    assert lock.read_text() == recorded  # the record is never overwritten


def test_a_pinned_sha256_wins_over_the_lock_and_is_enforced(server, tmp_path):
    body = b"payload" * 10
    server.routes["/f.bin"] = lambda h, hit: send(h, body)
    manifest = write_manifest(tmp_path / "downloads.yaml", {
        "thing": {"url": f"{server.url}/f.bin", "dest": "f.bin", "sha256": "0" * 64},
    })
    with pytest.raises(PlmscopeError) as err:
        fetch("thing", manifest=manifest, cache_dir=tmp_path / "cache", **FAST)
    assert f"expected {'0' * 64} (pinned in {manifest})" in str(err.value)
    assert not (tmp_path / "cache" / "f.bin").exists()
    assert not (tmp_path / "downloads.lock.yaml").exists()


def test_an_unpinned_file_already_in_the_cache_is_recorded_and_then_checked(server, tmp_path):
    server.routes["/f.bin"] = lambda h, hit: send(h, b"server copy")
    manifest = write_manifest(tmp_path / "downloads.yaml", {"thing": {"url": f"{server.url}/f.bin", "dest": "f.bin"}})
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "f.bin").write_bytes(b"placed by hand")
    fetch("thing", manifest=manifest, cache_dir=cache, **FAST)
    assert server.hits["/f.bin"] == 0
    assert dl.read_lock(tmp_path / "downloads.lock.yaml") == {"thing": sha(b"placed by hand")}
    (cache / "f.bin").write_bytes(b"changed later")  # no longer what was recorded: fetched again, refused
    with pytest.raises(PlmscopeError, match="sha256 mismatch"):
        fetch("thing", manifest=manifest, cache_dir=cache, **FAST)
    assert server.hits["/f.bin"] == 1


def test_url_mode_of_a_manifest_url_uses_the_lock_as_the_snakemake_rules_do(server, tmp_path):
    versions = {1: b"v1", 2: b"v2"}
    server.routes["/f.bin"] = lambda h, hit: send(h, versions[min(hit, 2)])
    url = f"{server.url}/f.bin"
    manifest = write_manifest(tmp_path / "downloads.yaml", {"thing": {"url": url, "dest": "f.bin"}})
    run_download(url=url, output=tmp_path / "a" / "f.bin", sha256="", md5="", manifest=manifest, timeout=2.0)
    assert dl.read_lock(tmp_path / "downloads.lock.yaml") == {"thing": sha(b"v1")}
    assert not (tmp_path / "a" / "f.bin.sha256").exists()
    with pytest.raises(PlmscopeError, match="recorded in .*downloads.lock.yaml"):
        run_download(url=url, output=tmp_path / "b" / "f.bin", sha256="", md5="", manifest=manifest, timeout=2.0)
    assert not (tmp_path / "b" / "f.bin").exists()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- a\n", "expected a mapping of download names to sha256 digests"),
        ("thing: abc\n", "entry 'thing': sha256 must be 64 hex digits"),
        ("thing: [unclosed\n", "cannot read the download lock file"),
    ],
)
def test_a_broken_lock_file_is_named(server, tmp_path, text, problem):
    manifest = write_manifest(tmp_path / "downloads.yaml", {"thing": {"url": f"{server.url}/f", "dest": "f"}})
    (tmp_path / "downloads.lock.yaml").write_text(text)
    with pytest.raises(PlmscopeError) as err:
        fetch("thing", manifest=manifest, cache_dir=tmp_path / "cache", **FAST)
    assert str(err.value).startswith(f"{tmp_path / 'downloads.lock.yaml'}: {problem}")
    assert sum(server.hits.values()) == 0


def test_plain_http_to_a_remote_host_is_warned_about(monkeypatch, tmp_path, caplog):
    monkeypatch.setattr(dl, "_fetch_once", lambda url, dest, **kw: dest.write_bytes(b"x") or sha(b"x"))
    download("http://example.org/f", tmp_path / "f", sha256=sha(b"x"), **FAST)
    assert "http://example.org/f is plain http" in caplog.text


# --- the CLI entry point -----------------------------------------------------------------------


def test_run_download_modes(server, archive, tmp_path):
    server.routes["/a.tar.gz"] = lambda h, hit: send(h, archive)
    path = run_download(url=f"{server.url}/a.tar.gz", output=tmp_path / "a.tar.gz", sha256="", md5="")
    assert path.read_bytes() == archive
    unpacked = run_download(extract=path, output=tmp_path / "unpacked", strip_components=1)
    assert (unpacked / "a.txt").read_bytes() == b"alpha\n"


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({}, "give exactly one of --name, --url, --extract, got none"),
        ({"name": "a", "url": "http://127.0.0.1/a"}, "got --name, --url"),
        ({"url": "http://127.0.0.1/a"}, "--url needs --output"),
        ({"name": "a", "output": "x"}, "--output is not used with --name"),
    ],
)
def test_run_download_refuses_ambiguous_requests(kwargs, problem):
    with pytest.raises(PlmscopeError, match=re.escape(problem)):
        run_download(**kwargs)


# --- the Snakemake rules ---------------------------------------------------------------------


@pytest.fixture
def download_workflow(tmp_path) -> Path:
    """A Snakefile including only common.smk (the DOWNLOAD_* tables) and downloads.smk, cache under tmp_path."""
    rules = REPO / "workflow" / "rules"
    (tmp_path / "Snakefile").write_text(
        f'configfile: "{os.path.relpath(REPO / "config.yaml", tmp_path)}"\n\n\n'
        'config["downloads"] = {"cache_dir": "cache"}\n\n\n'
        f'include: "{os.path.relpath(rules / "common.smk", tmp_path)}"\n'
        f'include: "{os.path.relpath(rules / "downloads.smk", tmp_path)}"\n'
    )
    return tmp_path


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", "Snakefile", "--cores", "1", *args],
        cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
    )


def test_download_rules_lint_clean_and_plan_every_manifest_target(download_workflow):
    lint = snakemake(download_workflow, "--lint")
    assert lint.returncode == 0 and "Lints for" not in lint.stdout, lint.stdout

    plan = snakemake(download_workflow, "-n", "-p", "download_all")
    assert plan.returncode == 0, plan.stdout
    entries = load_manifest(REPO / "resources" / "downloads.yaml")
    for entry in entries.values():
        assert f"output: cache/{entry.target}\n" in plan.stdout, entry.name
        assert f"--url {entry.url} " in plan.stdout, entry.name
    # a pinned md5 reaches the command line; unpinned digests are passed empty
    assert "--md5=2f61e8e09c215c032ef5bc8b910c8e97" in plan.stdout
    assert "--strip-components 1 -o cache/tape/proteinnet" in plan.stdout
    assert "-o cache/provis/binding_sites/binding_site_valid.lmdb/data.mdb" in plan.stdout
