"""Protein tables that are Parquet but not protein tables: one line naming the file, before any model runs."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from plmscope.data.table import read_sequences
from plmscope.errors import PlmscopeError


@pytest.mark.parametrize(
    "columns, problem",
    [
        ({"id": [1, 2], "sequence": ["MKV", "GSW"]}, "column 'id' holds int64, not text"),
        ({"id": ["a", "b"], "sequence": [3, 4]}, "column 'sequence' holds int64, not text"),
        ({"id": ["a"], "sequence": [["M", "K"]]}, "column 'sequence' holds list<"),
    ],
)
def test_columns_of_the_wrong_type_are_one_line(tmp_path, columns, problem):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table(columns), path)
    with pytest.raises(PlmscopeError) as info:
        read_sequences(path)
    message = str(info.value)
    assert message.startswith(f"{path}: protein table {problem}") and message.endswith(", not text"), message


def test_attention_cli_on_a_table_of_numbers_exits_1_without_traceback(tmp_path, capsys):
    from plmscope.cli import main

    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"id": [1], "sequence": [2]}), path)
    assert main(["attention", "--proteins", str(path), "--model", "antiberty", "-o", str(tmp_path / "att")]) == 1
    assert capsys.readouterr().err.strip().endswith("protein table column 'id' holds int64, not text")
    assert not (tmp_path / "att").exists()
