"""Resumable, deterministic attention runs: interrupted runs (exceptions and SIGKILL) resume to identical output."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from plmscope.attention.dataset import read_analysed, read_attention, read_counts, read_meta
from plmscope.attention.partial import MANIFEST, PartialRun, partial_dir
from plmscope.data.table import ProteinRecord, read_proteins, write_proteins
from plmscope.errors import PlmscopeError
from plmscope.io import MARKER
from plmscope.models.tiny import save_tiny_model
from plmscope.runs.attention import run_attention

REPO = Path(__file__).resolve().parents[1]
AA = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
OPTIONS = dict(theta=0.2, max_residues=30, max_tokens=96, long_sequences="window", window_stride=12,
               proteins_per_part=2, progress=False)  # fmt: skip


def content_hash(out: Path) -> str:
    """SHA-256 of the rows sorted by every column (independent of part layout and row order)."""
    table = read_attention(out).sort_by([(c, "ascending") for c in ("protein_id", "layer", "head", "i", "j", "weight")])
    h = hashlib.sha256()
    h.update("\n".join(table["protein_id"].to_pylist()).encode())
    for column in ("layer", "head", "i", "j", "weight"):
        h.update(np.ascontiguousarray(table[column].to_numpy()).tobytes())
    return h.hexdigest()


def files(out: Path) -> dict[str, bytes]:
    """Every file of a dataset directory by relative path, with its bytes."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A tiny BERT, 14 proteins (3 longer than 30 residues: windows), and an uninterrupted reference run."""
    root = tmp_path_factory.mktemp("resume")
    model = save_tiny_model("bert", root / "bert", layers=2, heads=2, max_positions=64, init_scale=1.0)
    rng = np.random.default_rng(11)
    lengths = [5, 12, 33, 8, 29, 17, 45, 3, 22, 30, 11, 70, 9, 26]
    records = [ProteinRecord(id=f"p{k:02d}", sequence="".join(rng.choice(AA, n))) for k, n in enumerate(lengths)]
    table = root / "proteins.parquet"
    write_proteins(records, table)
    reference = root / "reference"
    summary = run_attention(table, reference, model=str(model), **OPTIONS)
    assert summary["n_parts"] >= 4 and summary["n_windowed"] == 3
    return model, table, reference


class Interrupt:
    """Make PartialRun.add raise KeyboardInterrupt after ``after`` batches (a crash mid-run)."""

    def __init__(self, monkeypatch, after: int):
        self.calls = 0
        original = PartialRun.add

        def add(run, *args, **kwargs):
            if self.calls == after:
                raise KeyboardInterrupt
            self.calls += 1
            return original(run, *args, **kwargs)

        monkeypatch.setattr(PartialRun, "add", add)


def _interrupt(setup, out: Path, monkeypatch, after: int) -> dict:
    model, table, _ = setup
    with monkeypatch.context() as m:
        Interrupt(m, after)
        with pytest.raises(KeyboardInterrupt):
            run_attention(table, out, model=str(model), **OPTIONS)
    assert not out.exists()  # nothing half-written at the output path
    manifest = json.loads((partial_dir(out) / MANIFEST).read_text())
    assert manifest["parts"], "at least one finished part was kept"
    return manifest


def test_two_runs_are_byte_identical(setup, tmp_path):
    model, table, reference = setup
    run_attention(table, tmp_path / "again", model=str(model), **OPTIONS)
    assert files(tmp_path / "again") == files(reference)
    assert content_hash(tmp_path / "again") == content_hash(reference)
    assert not partial_dir(tmp_path / "again").exists()  # removed once the output is complete


def test_interrupted_run_resumes_to_identical_output(setup, tmp_path, monkeypatch, caplog):
    model, table, reference = setup
    out = tmp_path / "att"
    manifest = _interrupt(setup, out, monkeypatch, after=3)  # batch 3 is the second of a part
    done = manifest["parts"][-1]["end_batch"]
    finished = [p["id"] for part in manifest["parts"] for p in part["proteins"]]
    assert 0 < done < 3 and finished
    assert list(partial_dir(out).glob("*.parquet.tmp")), "the part being written was left half-done"
    with caplog.at_level(logging.INFO, logger="plmscope"):
        summary = run_attention(table, out, model=str(model), **OPTIONS)
    assert summary["n_batches_resumed"] == done
    assert f"{done} of {summary['n_batches']} batches ({len(finished)} proteins) already done" in caplog.text
    assert files(out) == files(reference)
    assert content_hash(out) == content_hash(reference)
    assert not partial_dir(out).exists()


def test_changed_config_discards_the_partial_run(setup, tmp_path, monkeypatch, caplog):
    model, table, _ = setup
    out = tmp_path / "att"
    _interrupt(setup, out, monkeypatch, after=4)
    with caplog.at_level(logging.INFO, logger="plmscope"):
        summary = run_attention(table, out, model=str(model), **(OPTIONS | {"theta": 0.25}))
    assert "written with a different configuration (changed: theta)" in caplog.text
    assert summary["n_batches_resumed"] == 0
    fresh = tmp_path / "fresh"
    run_attention(table, fresh, model=str(model), **(OPTIONS | {"theta": 0.25}))
    assert files(out) == files(fresh)


def test_restart_discards_and_changed_table_discards(setup, tmp_path, monkeypatch, caplog):
    model, table, reference = setup
    out = tmp_path / "att"
    _interrupt(setup, out, monkeypatch, after=4)
    with caplog.at_level(logging.INFO, logger="plmscope"):
        summary = run_attention(table, out, model=str(model), resume=False, **OPTIONS)
    assert "discarding the partial results" in caplog.text and "restart requested" in caplog.text
    assert summary["n_batches_resumed"] == 0 and files(out) == files(reference)

    # same options, one sequence changed: the protein table hash differs
    records = read_proteins(table)
    records[0].sequence = "W" + records[0].sequence[1:]
    changed = tmp_path / "changed.parquet"
    write_proteins(records, changed)
    other = tmp_path / "other"
    _interrupt((model, changed, None), other, monkeypatch, after=4)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="plmscope"):
        run_attention(table, other, model=str(model), **OPTIONS)
    assert "changed: proteins_sha256" in caplog.text


def test_damaged_part_and_later_parts_are_rerun(setup, tmp_path, monkeypatch, caplog):
    model, table, reference = setup
    out = tmp_path / "att"
    manifest = _interrupt(setup, out, monkeypatch, after=5)
    assert len(manifest["parts"]) >= 2
    second = partial_dir(out) / manifest["parts"][1]["file"]
    second.write_bytes(second.read_bytes()[:-10])  # e.g. a disk that lost the tail of the file
    with caplog.at_level(logging.INFO, logger="plmscope"):
        summary = run_attention(table, out, model=str(model), **OPTIONS)
    assert "is missing or damaged" in caplog.text
    assert summary["n_batches_resumed"] == manifest["parts"][0]["end_batch"]
    assert files(out) == files(reference)


def test_damaged_part_of_the_right_size_is_recomputed(setup, tmp_path, monkeypatch, caplog):
    """A part whose bytes changed but not its size (bit rot, a torn write) fails its SHA-256 and is rerun."""
    model, table, reference = setup
    out = tmp_path / "att"
    manifest = _interrupt(setup, out, monkeypatch, after=5)
    assert len(manifest["parts"]) >= 2 and all(len(p["sha256"]) == 64 for p in manifest["parts"])
    second = partial_dir(out) / manifest["parts"][1]["file"]
    data = bytearray(second.read_bytes())
    middle = len(data) // 2
    data[middle] ^= 0xFF
    second.write_bytes(bytes(data))
    assert second.stat().st_size == manifest["parts"][1]["n_bytes"]
    with caplog.at_level(logging.INFO, logger="plmscope"):
        summary = run_attention(table, out, model=str(model), **OPTIONS)
    assert f"part '{second.name}' is missing or damaged" in caplog.text
    assert summary["n_batches_resumed"] == manifest["parts"][0]["end_batch"]
    assert files(out) == files(reference)
    assert content_hash(out) == content_hash(reference)


def test_input_error_mid_run_leaves_no_output_and_no_partial(setup, tmp_path):
    model, table, _ = setup
    records = read_proteins(table) + [ProteinRecord(id="bad", sequence="MKTAYJAK")]
    bad_table = tmp_path / "bad.parquet"
    write_proteins(records, bad_table)
    out = tmp_path / "att"
    with pytest.raises(PlmscopeError, match="protein 'bad' has residue 'J' at position 6"):
        run_attention(bad_table, out, model=str(model), **OPTIONS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.parquet"]


def test_a_second_run_on_the_same_output_is_refused(tmp_path):
    out = tmp_path / "att"
    with PartialRun(out, fingerprint={"a": 1}, num_layers=1, num_heads=1):
        with pytest.raises(PlmscopeError, match=r"att\.partial: another plmscope attention run is writing"):
            PartialRun(out, fingerprint={"a": 1}, num_layers=1, num_heads=1)
    PartialRun(out, fingerprint={"a": 1}, num_layers=1, num_heads=1).remove()  # the lock was released
    assert not partial_dir(out).exists()


def test_sigkill_mid_run_then_rerun_gives_the_uninterrupted_output(tmp_path):
    """`plmscope attention` killed with SIGKILL after its first part; the rerun resumes; same rows as one clean run."""
    demo = sorted(read_proteins(REPO / "resources/demo/proteins.parquet"), key=lambda r: len(r.sequence))[:6]
    table = tmp_path / "six.parquet"
    write_proteins(demo, table)
    out = tmp_path / "att"
    options = ["--max-tokens", "256", "--proteins-per-part", "1"]  # one protein per batch and per part
    command = [sys.executable, "-m", "plmscope.cli", "attention", "--proteins", str(table), "--model", "antiberty",
               "-o", str(out), "--device", "cpu", *options]  # fmt: skip
    manifest = partial_dir(out) / MANIFEST
    import torch

    env = os.environ | {"OMP_NUM_THREADS": str(torch.get_num_threads())}  # same thread count as the rerun here
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if json.loads(manifest.read_text())["parts"]:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
    assert not out.exists()
    parts = json.loads(manifest.read_text())["parts"]
    assert 1 <= len(parts) < 6

    # the rerun (same options) resumes after the finished parts
    summary = run_attention(table, out, model="antiberty", device="cpu", max_tokens=256, proteins_per_part=1,
                            progress=False)  # fmt: skip
    assert summary["n_batches_resumed"] == parts[-1]["end_batch"] and summary["n_proteins"] == 6
    clean = tmp_path / "clean"
    run_attention(table, clean, model="antiberty", device="cpu", max_tokens=256, proteins_per_part=1,
                  progress=False)  # fmt: skip
    assert content_hash(out) == content_hash(clean)
    assert read_analysed(out).equals(read_analysed(clean))
    np.testing.assert_array_equal(read_counts(out), read_counts(clean))
    assert read_meta(out) == read_meta(clean)
    assert [pq.ParquetFile(p).metadata.num_rows for p in sorted((out / "attention").iterdir())] == [
        pq.ParquetFile(p).metadata.num_rows for p in sorted((clean / "attention").iterdir())
    ]
    assert not partial_dir(out).exists()


def test_leftovers_of_a_killed_run_are_cleaned_when_a_run_starts(tmp_path):
    out = tmp_path / "att"
    stale = tmp_path / ".att.tmp-x1y2"  # an output directory being assembled when the run was killed
    (stale / "attention").mkdir(parents=True)
    partial_dir(out).mkdir()
    (partial_dir(out) / "part-00000.parquet.tmp").write_bytes(b"half a part")
    (partial_dir(out) / MANIFEST).write_text("{not json")
    other = tmp_path / ".other.tmp-x1y2"  # another output's temporary directory is left alone
    other.mkdir()
    with PartialRun(out, fingerprint={"a": 1}, num_layers=1, num_heads=1) as run:
        assert not run.resumed and run.next_batch == 0
    assert not stale.exists() and other.exists()
    assert sorted(p.name for p in partial_dir(out).iterdir()) == [MARKER, "lock", MANIFEST]
