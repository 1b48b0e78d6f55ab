"""AttentionWriter round trip, part rolling, atomicity; the readers."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from plmscope.attention.dataset import AttentionWriter, read_analysed, read_attention, read_counts, read_meta
from plmscope.attention.dataset import ATTENTION_SCHEMA
from plmscope.errors import PlmscopeError

META = {
    "model": "tiny", "family": "bert", "num_layers": 2, "num_heads": 3, "theta": 0.3,
    "max_residues": 50, "long_sequences": "truncate",
}


def rows(pid: str, n: int, layer: int, seed: int) -> pa.RecordBatch:
    rng = np.random.default_rng(seed)
    return pa.RecordBatch.from_arrays(
        [
            pa.array([pid] * n, pa.string()),
            pa.array(np.full(n, layer), pa.int16()),
            pa.array(rng.integers(0, 3, n), pa.int16()),
            pa.array(rng.integers(0, 50, n), pa.int32()),
            pa.array(rng.integers(0, 50, n), pa.int32()),
            pa.array(rng.uniform(0.3, 1, n), pa.float32()),
        ],
        schema=ATTENTION_SCHEMA,
    )


def test_round_trip(tmp_path):
    out = tmp_path / "att"
    batches = [rows("p1", 7, 0, 1), rows("p2", 5, 1, 2), rows("p3", 0, 0, 3)]
    counts = [np.arange(6).reshape(2, 3), np.ones((2, 3), dtype=np.int64), np.zeros((2, 3), dtype=np.int64)]
    with AttentionWriter(out, meta=META, rows_per_part=6, row_group_rows=4) as writer:
        for batch, c in zip(batches, counts):
            writer.write(batch, c)
        writer.add_proteins(["p1", "p2"], [50, 20], [80, 20], n_nonstandard=[1, 0], n_unknown=[1, 0])
        writer.add_proteins(["p3"], [9], [9])
        writer.add_skipped(["p4"])
        assert not out.exists()  # nothing visible before close
    table = read_attention(out)
    expected = pa.Table.from_batches(batches, schema=ATTENTION_SCHEMA)
    key = [(c, "ascending") for c in ("protein_id", "layer", "head", "i", "j", "weight")]
    assert table.sort_by(key).equals(expected.sort_by(key))
    parts = sorted(p.name for p in (out / "attention").iterdir())
    assert parts == ["part-00000.parquet", "part-00001.parquet"]  # rolled after 6 rows
    np.testing.assert_array_equal(read_counts(out), counts[0] + counts[1])
    analysed = read_analysed(out).to_pydict()
    assert analysed["protein_id"] == ["p1", "p2", "p3"]
    assert analysed["truncated"] == [True, False, False]
    assert analysed["n_residues_original"] == [80, 20, 9]
    meta = read_meta(out)
    assert meta == json.loads((out / "meta.json").read_text())
    for key, value in META.items():
        assert meta[key] == value
    assert (meta["n_proteins"], meta["n_truncated"], meta["n_skipped"], meta["skipped"]) == (3, 1, 1, ["p4"])
    assert (meta["n_nonstandard"], meta["n_unknown"], meta["n_rows"]) == (1, 1, 12)


def test_filters_and_columns(tmp_path):
    with AttentionWriter(tmp_path / "att", meta=META) as writer:
        writer.write(rows("p1", 10, 0, 1), np.zeros((2, 3), dtype=np.int64))
        writer.write(rows("p2", 4, 1, 2), np.zeros((2, 3), dtype=np.int64))
    only = read_attention(tmp_path / "att", columns=["i", "j"], filter=ds.field("protein_id") == "p2")
    assert only.column_names == ["i", "j"] and only.num_rows == 4
    assert read_attention(tmp_path / "att", filter=ds.field("layer") == 0).num_rows == 10


def test_empty_dataset_is_readable(tmp_path):
    with AttentionWriter(tmp_path / "att", meta=META):
        pass
    assert read_attention(tmp_path / "att").num_rows == 0
    assert read_attention(tmp_path / "att").schema == ATTENTION_SCHEMA
    np.testing.assert_array_equal(read_counts(tmp_path / "att"), np.zeros((2, 3)))


def test_failure_leaves_nothing_and_keeps_a_previous_dataset(tmp_path):
    out = tmp_path / "att"
    with pytest.raises(RuntimeError, match="boom"):
        with AttentionWriter(out, meta=META) as writer:
            writer.write(rows("p1", 3, 0, 1), np.zeros((2, 3), dtype=np.int64))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with AttentionWriter(out, meta=META) as writer:
        writer.add_proteins(["old"], [5], [5])
    with pytest.raises(PlmscopeError):
        with AttentionWriter(out, meta=META) as writer:
            writer.write(rows("p1", 3, 0, 1), np.zeros((3, 3), dtype=np.int64))  # wrong counts shape
    assert read_analysed(out).column("protein_id").to_pylist() == ["old"]
    assert [p.name for p in tmp_path.iterdir()] == ["att"]


def test_writer_and_readers_reject_bad_input(tmp_path):
    with pytest.raises(PlmscopeError, match="meta lacks"):
        AttentionWriter(tmp_path / "x", meta={"model": "m"})
    with AttentionWriter(tmp_path / "att", meta=META) as writer:
        writer.add_proteins(["a"], [3], [3])
        with pytest.raises(PlmscopeError, match="written twice"):
            writer.add_proteins(["a"], [3], [3])
        with pytest.raises(PlmscopeError, match=r"attention rows have columns \[.x.\]"):
            writer.write(pa.record_batch({"x": [1]}), np.zeros((2, 3)))
    with pytest.raises(PlmscopeError, match="meta.json missing"):
        read_attention(tmp_path)


def test_adopted_part_files_and_windowed_proteins(tmp_path):
    import pyarrow.parquet as pq

    from plmscope.attention.dataset import open_part_writer

    done = tmp_path / "done.parquet"
    writer = open_part_writer(done)
    batch = rows("p1", 9, 1, 4)
    writer.write_table(pa.Table.from_batches([batch]))
    writer.close()
    counts = np.zeros((2, 3), dtype=np.int64)
    np.add.at(counts, (1, batch.column("head").to_numpy()), 1)
    out = tmp_path / "att"
    with AttentionWriter(out, meta=META) as w:
        w.write(rows("p0", 4, 0, 5), np.array([[4, 0, 0], [0, 0, 0]]))
        w.add_part_file(done, n_rows=9, counts=counts)
        with pytest.raises(PlmscopeError, match="12 rows"):
            w.add_part_file(done, n_rows=12, counts=counts)
        with pytest.raises(PlmscopeError, match="counts of shape"):
            w.add_part_file(done, n_rows=9, counts=counts[:1])
        w.add_proteins(["p0", "p1"], [40, 120], [40, 120], n_windows=[1, 3])
    parts = sorted(p.name for p in (out / "attention").iterdir())
    assert parts == ["part-00000.parquet", "part-00001.parquet"]
    assert (out / "attention" / "part-00001.parquet").read_bytes() == done.read_bytes()
    assert pq.read_table(out / "attention" / "part-00001.parquet").equals(pa.Table.from_batches([batch]))
    assert read_attention(out).num_rows == 13
    np.testing.assert_array_equal(read_counts(out), counts + np.array([[4, 0, 0], [0, 0, 0]]))
    analysed = read_analysed(out).to_pydict()
    assert analysed["n_windows"] == [1, 3] and analysed["truncated"] == [False, False]
    meta = read_meta(out)
    assert (meta["n_rows"], meta["n_windowed"], meta["n_windows"], meta["n_parts"]) == (13, 1, 3, 2)
    # the float column uses BYTE_STREAM_SPLIT (smaller zstd parts); readers see plain float32
    encodings = pq.ParquetFile(done).metadata.row_group(0).column(5).encodings
    assert "BYTE_STREAM_SPLIT" in encodings
