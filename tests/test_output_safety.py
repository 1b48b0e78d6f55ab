"""Output safety (issue #9): plmscope replaces only what it wrote, and OS errors are one line without temp files.

Refused outputs leave every file in place (sentinels are checked after each refusal); OS errors
on the write path (read-only, immutable, full disk, a directory where a file goes) give one line
and exit 1; temporary files of killed runs are removed by the next run.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from plmscope.cli import main
from plmscope.data.table import ProteinRecord, read_proteins, write_proteins
from plmscope.errors import PlmscopeError
from plmscope.io import MARKER, atomic_path, check_output, is_plmscope_output, remove_stale_temps
from plmscope.models.tiny import save_tiny_model

DATA = Path(__file__).parent / "data"
AA = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
TINY_ATTENTION = ["--theta", "0.3", "--max-residues", "25", "--max-tokens", "40", "--device", "cpu"]


# ---- helpers ---------------------------------------------------------------------------------
def run_cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    """``plmscope ARGV`` in a subprocess (the package under test via PYTHONPATH)."""
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = os.environ | {"PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "plmscope.cli", *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def error_line(stderr: str) -> str:
    """The one error line (the last line of stderr); no traceback before it."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines and " error: " in lines[-1], stderr
    return lines[-1]


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (hidden ones too) with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def temps(root: Path) -> list[str]:
    """Temporary paths of atomic writes (``.<name>.tmp-*``) anywhere under ``root``."""
    return sorted(str(p.relative_to(root)) for p in root.rglob(".*.tmp-*"))


def read_proteins_of(fasta: Path) -> list:
    from plmscope.data.fasta import read_fasta

    return read_fasta(fasta)


def dead_pid() -> int:
    """The pid of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return save_tiny_model("bert", tmp_path_factory.mktemp("model") / "bert", layers=2, heads=2, max_positions=64)


@pytest.fixture
def work(tmp_path, monkeypatch, model) -> Path:
    """A working directory ``tmp/a/b/work`` with a protein table, user files and sentinels in its ancestors."""
    work = tmp_path / "a" / "b" / "work"
    (work / "data").mkdir(parents=True)
    (work / ".git").mkdir()
    (work / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (work / "config.yaml").write_text("models: [tiny]\n")
    (work / "results" / "attention").mkdir(parents=True)
    (tmp_path / "a" / "sentinel.txt").write_text("ancestor\n")
    (tmp_path / "a" / "b" / "sentinel.txt").write_text("parent\n")
    records = [ProteinRecord(id="p1", sequence="MKTAYIAKQRQISFVKSHFSRQLEERLG"), ProteinRecord(id="p2", sequence="EVQLV")]
    write_proteins(records, work / "data" / "proteins.parquet")
    (work / "model").symlink_to(model)
    monkeypatch.chdir(work)
    return work


def attention(*extra: str, output: str) -> list[str]:
    return ["attention", "--proteins", "data/proteins.parquet", "--model", "model", "-o", output, *TINY_ATTENTION,
            *extra]  # fmt: skip


# ---- refused outputs: nothing deleted --------------------------------------------------------
@pytest.mark.parametrize(
    ("output", "why"),
    [
        (".", "it is the current directory"),
        ("..", "it holds the current directory"),
        ("results/attention/../..", "it is the current directory"),  # a model and a dataset both named ".."
        ("results/attention/../../..", "it holds the current directory"),
        ("ANCESTOR", "it holds the current directory"),
        ("/", "it holds the current directory"),
    ],
)
def test_attention_refuses_cwd_and_its_ancestors(work, capsys, output, why):
    output = str(work.parents[1]) if output == "ANCESTOR" else output
    before = snapshot(work.parents[2])
    assert main(attention(output=output)) == 1
    line = error_line(capsys.readouterr().err)
    assert line.startswith(f"plmscope attention: error: refusing to replace {output}") and line.endswith(why)
    assert snapshot(work.parents[2]) == before  # every file, input and sentinel included, still there
    assert not list(work.parent.glob("*.partial")) and not list(work.glob("**/*.partial"))


def test_attention_subprocess_refuses_dotdot_path_and_keeps_the_working_directory(work):
    before = snapshot(work.parents[2])
    proc = run_cli(*attention(output="results/attention/../.."), cwd=work)
    assert proc.returncode == 1
    assert error_line(proc.stderr) == (f"plmscope attention: error: refusing to replace results/attention/../.. "
                                       f"({work}): it is the current directory")  # fmt: skip
    assert snapshot(work.parents[2]) == before


def test_existing_user_directory_is_refused_with_contents_intact(work, capsys):
    (work / "mine").mkdir()
    (work / "mine" / "notes.txt").write_text("do not delete\n")
    (work / "mine" / "sub").mkdir()
    (work / "mine" / "sub" / "x.bin").write_bytes(b"\x00\x01")
    before = snapshot(work)
    assert main(attention(output="mine")) == 1
    assert error_line(capsys.readouterr().err) == (
        "plmscope attention: error: refusing to replace mine: not a plmscope output"
    )
    assert snapshot(work) == before and not (work / "mine.partial").exists()


def test_output_that_is_or_holds_an_input_is_refused(work, capsys, model):
    before = snapshot(work)
    assert main(attention(output="data")) == 1  # holds the protein table
    assert error_line(capsys.readouterr().err).endswith(
        "refusing to replace data: it holds the input data/proteins.parquet"
    )
    assert main(attention(output="model")) == 1  # is the model directory (through a link)
    assert error_line(capsys.readouterr().err).endswith("refusing to replace model: it is the input model")
    assert snapshot(work) == before and model.joinpath("config.json").is_file()


def test_rerun_into_a_plmscope_output_replaces_it(work, capsys):
    assert main(attention(output="results/attention/tiny")) == 0
    out = work / "results" / "attention" / "tiny"
    assert is_plmscope_output(out)
    marker = json.loads((out / MARKER).read_text())
    assert marker["written_by"] == "plmscope" and marker["format"] == "plmscope-output/1"
    first = snapshot(out)
    (out / "stale-extra.txt").write_text("from an earlier run\n")  # replaced as a whole
    assert main(attention(output="results/attention/tiny")) == 0
    assert snapshot(out) == first
    assert temps(work) == [] and not (work / "results" / "attention" / "tiny.partial").exists()


def test_another_verbs_output_is_refused(work, capsys):
    """`plmscope enrichment -o <an attention dataset>` would replace hours of attention: both are plmscope outputs."""
    assert main(attention(output="results/attention/tiny")) == 0
    out = work / "results" / "attention" / "tiny"
    assert json.loads((out / MARKER).read_text())["verb"] == "attention"
    before = snapshot(out)
    other = work / "results" / "attention" / "other"
    assert main(attention(output="results/attention/other")) == 0
    assert main(["enrichment", "--attention", str(other), "--proteins", "data/proteins.parquet",
                 "-o", "results/attention/tiny", "--min-count", "1"]) == 1  # fmt: skip
    assert error_line(capsys.readouterr().err).endswith(
        "refusing to replace results/attention/tiny: it is the output of plmscope attention, not of plmscope enrichment")
    assert snapshot(out) == before and temps(work) == []
    assert main(attention(output="results/attention/tiny")) == 0  # the same verb still replaces it


def test_an_existing_empty_directory_may_be_written(work):
    (work / "empty").mkdir()
    assert main(attention(output="empty")) == 0
    assert is_plmscope_output(work / "empty")


def test_partial_directory_of_user_files_is_refused(work, capsys):
    (work / "att.partial").mkdir()
    (work / "att.partial" / "keep.txt").write_text("mine\n")
    assert main(attention(output="att")) == 1
    assert error_line(capsys.readouterr().err).endswith(f"refusing to replace {work / 'att.partial'}: "
                                                        "not a plmscope output")  # fmt: skip
    assert (work / "att.partial" / "keep.txt").read_text() == "mine\n" and not (work / "att").exists()


def test_symlink_and_file_in_place_of_a_directory_output_are_refused(work, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / MARKER).write_text(json.dumps({"written_by": "plmscope"}))
    (work / "link").symlink_to(elsewhere)
    (work / "afile").write_text("x\n")
    for name in ("link", "afile"):
        with pytest.raises(PlmscopeError, match=f"^refusing to replace {name}: not a plmscope output$"):
            with atomic_path(name, directory=True):
                pass
    assert (elsewhere / MARKER).exists() and (work / "afile").read_text() == "x\n"


# ---- prepare (a file output) -----------------------------------------------------------------
def test_prepare_subprocess_refusals_and_a_normal_write(work):
    fasta = DATA / "tiny.fasta"
    (work / "adir").mkdir()
    (work / "adir" / "f.txt").write_text("mine\n")
    before = snapshot(work.parents[2])
    for output, why in (
        (".", "it is the current directory"),
        ("..", "it holds the current directory"),
        ("adir", "it is a directory, and the output is a file"),  # an existing directory where a file goes
        (str(fasta), f"it is the input {fasta}"),
    ):
        proc = run_cli("prepare", "--format", "fasta", str(fasta), "-o", output, cwd=work)
        assert proc.returncode == 1, proc.stderr
        line = error_line(proc.stderr)
        assert line.startswith(f"plmscope prepare: error: refusing to replace {output}") and line.endswith(why)
        assert snapshot(work.parents[2]) == before
    # an existing regular file is replaced, like any tool's -o
    (work / "t.parquet").write_text("old\n")
    proc = run_cli("prepare", "--format", "fasta", str(fasta), "-o", "t.parquet", cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert len(read_proteins(work / "t.parquet")) == len(read_proteins_of(DATA / "tiny.fasta"))
    assert temps(work) == []


def test_prepare_into_a_special_file_is_refused(work, capsys):
    assert main(["prepare", "--format", "fasta", str(DATA / "tiny.fasta"), "-o", "/dev/null"]) == 1
    assert error_line(capsys.readouterr().err).endswith("refusing to replace /dev/null: not a regular file")
    assert Path("/dev/null").is_char_device()


# ---- OS errors: one line, exit 1, no temp files ----------------------------------------------
@pytest.fixture
def tmpfs(tmp_path):
    """Mount a small tmpfs at ``tmp/mnt`` (skipped where mounting is not allowed); yields (dir, remount)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mnt)], capture_output=True,
                          text=True)  # fmt: skip
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip() or proc.returncode}): needs root/CAP_SYS_ADMIN")

    def remount(option: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{option}", str(mnt)], check=True)

    try:
        yield mnt, remount
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def big_fasta(path: Path, n: int = 120, length: int = 400) -> Path:
    rng = np.random.default_rng(0)
    path.write_text("".join(f">q{k}\n{''.join(rng.choice(AA, length))}\n" for k in range(n)))
    return path


def test_read_only_output_directory(work, tmpfs, capsys):
    mnt, remount = tmpfs
    (mnt / "existing.parquet").write_text("old\n")
    remount("ro")
    for output in (mnt / "t.parquet", mnt / "existing.parquet", mnt / "sub" / "t.parquet"):
        assert main(["prepare", "--format", "fasta", str(DATA / "tiny.fasta"), "-o", str(output)]) == 1
        assert error_line(capsys.readouterr().err) == f"plmscope prepare: error: {output}: cannot write: " \
                                                      "Read-only file system"  # fmt: skip
    assert main(attention(output=str(mnt / "att"))) == 1
    assert error_line(capsys.readouterr().err).endswith("cannot write: Read-only file system")
    assert sorted(p.name for p in mnt.iterdir()) == ["existing.parquet"]


def test_immutable_output_directory(work, capsys):
    target = work / "frozen"
    target.mkdir()
    proc = subprocess.run(["chattr", "+i", str(target)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"chattr +i not supported here: {proc.stderr.strip()}")
    try:
        assert main(["prepare", "--format", "fasta", str(DATA / "tiny.fasta"), "-o", "frozen/t.parquet"]) == 1
        assert error_line(capsys.readouterr().err) == (
            "plmscope prepare: error: frozen/t.parquet: cannot write: Operation not permitted"
        )
        assert main(attention(output="frozen/att")) == 1
        assert error_line(capsys.readouterr().err).endswith("cannot write: Operation not permitted")
        assert list(target.iterdir()) == []
    finally:
        subprocess.run(["chattr", "-i", str(target)], check=False)


def test_disk_full(work, tmpfs, capsys, tmp_path):
    mnt, _ = tmpfs
    fasta = big_fasta(tmp_path / "big.fasta")
    assert main(["prepare", "--format", "fasta", str(fasta), "-o", str(mnt / "t.parquet")]) == 1
    assert error_line(capsys.readouterr().err) == (
        f"plmscope prepare: error: {mnt / 't.parquet'}: cannot write: No space left on device"
    )
    assert list(mnt.iterdir()) == []
    # a directory output filled inside the block
    with pytest.raises(PlmscopeError, match=r"/out: cannot write: No space left on device$"):
        with atomic_path(mnt / "out", directory=True) as tmp:
            (tmp / "big.bin").write_bytes(b"\x01" * 100_000)
    assert list(mnt.iterdir()) == []


def test_parent_is_a_file(work, capsys):
    (work / "plain").write_text("x\n")
    assert main(["prepare", "--format", "fasta", str(DATA / "tiny.fasta"), "-o", "plain/t.parquet"]) == 1
    line = error_line(capsys.readouterr().err)
    assert line.startswith("plmscope prepare: error: plain/t.parquet: cannot write: ")
    assert (work / "plain").read_text() == "x\n"


def test_other_os_errors_are_one_line(work, capsys, monkeypatch):
    import plmscope.data.prepare as prepare_module

    def broken(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error", "data/broken.fasta")

    monkeypatch.setattr(prepare_module, "prepare", broken)
    assert main(["prepare", "--format", "fasta", "x.fasta", "-o", "t.parquet"]) == 1
    assert error_line(capsys.readouterr().err) == "plmscope prepare: error: data/broken.fasta: Input/output error"


# ---- temporary files of killed runs ----------------------------------------------------------
def test_stale_temps_of_dead_processes_are_removed_on_rerun(work):
    dead, alive = dead_pid(), os.getppid()
    stale_file = work / f".t.parquet.tmp-{dead}-abcd1234"
    stale_file.write_bytes(b"half")
    stale_dir = work / f".t.parquet.tmp-{dead}-oldx9y8z7w6"
    stale_dir.mkdir()
    (stale_dir / "x").write_text("x")
    live = work / f".t.parquet.tmp-{alive}-abcd1234"  # a run still writing
    live.write_bytes(b"busy")
    other = work / f".other.parquet.tmp-{dead}-abcd1234"  # another target's temp file is left alone
    other.write_bytes(b"other")
    proc = run_cli("prepare", "--format", "fasta", str(DATA / "tiny.fasta"), "-o", "t.parquet", cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert not stale_file.exists() and not stale_dir.exists()
    assert live.exists() and other.exists()
    assert len(read_proteins(work / "t.parquet")) >= 1


def test_a_killed_writer_leaves_a_temp_that_the_next_run_removes(work):
    code = ("import os, sys; from plmscope.io import atomic_path\n"
            "with atomic_path('t.parquet') as tmp:\n"
            "    tmp.write_bytes(b'partial'); os._exit(9)\n")  # fmt: skip
    src = str(Path(__file__).resolve().parents[1] / "src")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=work, env=os.environ | {"PYTHONPATH": src})
    assert proc.wait(timeout=120) == 9
    assert len(temps(work)) == 1 and temps(work)[0].startswith(f".t.parquet.tmp-{proc.pid}-")
    assert main(["prepare", "--format", "fasta", str(DATA / "tiny.fasta"), "-o", "t.parquet"]) == 0
    assert temps(work) == []


def test_remove_stale_temps_only_touches_its_target(tmp_path):
    dead = dead_pid()
    names = [f".a[1].tmp-{dead}-abcdefgh", f".a.tmp-{dead}-abcdefgh", f".a[1].tmp-{os.getpid()}-abcdefgh"]
    for name in names:
        (tmp_path / name).write_text("x")
    removed = remove_stale_temps(tmp_path, "a[1]")
    assert [p.name for p in removed] == [names[0]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[1:])


def test_check_output_returns_the_resolved_location(work):
    assert check_output("results/attention/x", directory=True) == work / "results" / "attention" / "x"
    assert check_output("results/attention/../x.parquet", directory=False) == work / "results" / "x.parquet"
