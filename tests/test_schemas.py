"""Output schemas: every written table matches its registered schema, layer/head are 1-based on disk, the doc is generated."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from plmscope import schemas
from plmscope.analysis.comparison import COMPARISON_COLUMNS
from plmscope.attention.dataset import ATTENTION_SCHEMA, COUNTS_SCHEMA, PROTEINS_SCHEMA
from plmscope.data.table import PROTEIN_SCHEMA
from plmscope.errors import PlmscopeError
from plmscope.outputs import write_tables

_ARROW_KINDS = {"string": pa.types.is_string, "integer": pa.types.is_integer, "float": pa.types.is_floating,
                "boolean": pa.types.is_boolean, "list": pa.types.is_list}  # fmt: skip


def test_no_column_is_named_after_an_sql_keyword():
    names = {c.name for t in schemas.ALL_TABLES.values() for c in t.columns}
    names |= {c.name for _, _, cols in schemas.OTHER_FILES.values() for c in cols} | set(COMPARISON_COLUMNS)
    assert not names & schemas.SQL_RESERVED
    try:
        import duckdb
    except ImportError:
        return
    reserved = {r[0] for r in duckdb.sql("SELECT keyword_name FROM duckdb_keywords() WHERE keyword_category = 'reserved'").fetchall()}
    assert not names & reserved


def test_every_layer_and_head_column_of_a_readable_table_is_one_based():
    for table in schemas.ALL_TABLES.values():
        for column in table.columns:
            if column.name in ("layer", "head") and table.name != "probing":
                assert column.one_based and column.base == schemas.LAYER_HEAD, (table.name, column.name)
            if column.base is None:
                assert column.name not in ("layer", "head", "sites", "site_i", "site_j"), (table.name, column.name)


@pytest.mark.parametrize(("path", "arrow"), [("attention/part-*.parquet", ATTENTION_SCHEMA), ("counts.parquet", COUNTS_SCHEMA),
                                             ("proteins.parquet", PROTEINS_SCHEMA), ("proteins table (prepare -o)", PROTEIN_SCHEMA)])
def test_documented_arrow_files_match_their_writers(path, arrow):
    columns = schemas.OTHER_FILES[path][2]
    assert [c.name for c in columns] == arrow.names
    for column, field in zip(columns, arrow):
        assert _ARROW_KINDS[column.kind](field.type), (column.name, field.type)


def test_write_tables_rejects_drift(tmp_path):
    with pytest.raises(PlmscopeError, match="has no schema"):
        write_tables(tmp_path, {"unregistered": pd.DataFrame({"a": [1]})})
    good = pd.DataFrame({"feature": ["contact"], "n_eligible": [10], "n_feature": [2], "background": [0.2]})
    write_tables(tmp_path, {"backgrounds": good})
    with pytest.raises(PlmscopeError, match="extra columns \\['x'\\]"):
        write_tables(tmp_path, {"backgrounds": good.assign(x=1)})
    with pytest.raises(PlmscopeError, match="missing \\['background'\\]"):
        write_tables(tmp_path, {"backgrounds": good.drop(columns="background")})
    with pytest.raises(PlmscopeError, match="holds string values"):
        write_tables(tmp_path, {"backgrounds": good.assign(n_eligible=["ten"])})


def test_layer_and_head_are_written_one_based_and_read_back_zero_based(tmp_path):
    frame = pd.DataFrame({"layer": [0, 2], "head": [1, 0], "label": ["1-2", "3-1"], "train_precision_L_all": [0.5, 0.1],
                          "coefficient": [0.1, 0.0], "best": [True, False]})  # fmt: skip
    write_tables(tmp_path, {"head_selection": frame})
    for disk in (pd.read_parquet(tmp_path / "head_selection.parquet"), pd.read_csv(tmp_path / "head_selection.csv")):
        assert disk["layer"].tolist() == [1, 3] and disk["head"].tolist() == [2, 1]
        assert (disk["label"] == disk["layer"].astype(str) + "-" + disk["head"].astype(str)).all()
        pd.testing.assert_frame_equal(schemas.from_disk("head_selection", disk), frame)
    assert frame["layer"].tolist() == [0, 2]  # the caller's frame is untouched


def test_markdown_documents_every_table_and_column():
    text = schemas.render_markdown()
    for table in schemas.ALL_TABLES.values():
        assert f"`{table.name}.parquet`" in text
        for column in table.columns:
            assert f"| `{column.name}` |" in text
    assert "1-based" in text


def test_cli_writes_the_document(tmp_path):
    from plmscope.cli import main

    out = tmp_path / "results" / "README.md"
    assert main(["schemas", "-o", str(out)]) == 0
    assert out.read_text() == schemas.render_markdown()


def test_best_heads_of_a_condition_without_any_qualifying_head_validate():
    """A null model with no thresholded weight has no best head: label/layer/head are NA, not an error."""
    row = {"condition": "random_weights", "threshold": 0.3, "feature": "contact", "label": None,
           "layer": pd.NA, "head": pd.NA, "n_attention": pd.NA}  # fmt: skip
    frame = pd.DataFrame([row]).astype({"layer": "Int64", "head": "Int64", "n_attention": "Int64"})
    fill = {"integer": 0, "string": "x", "boolean": False, "float": float("nan")}
    columns = schemas.schema("best_heads").columns
    for column in columns:
        if column.name not in frame:
            frame[column.name] = fill[column.kind]
    schemas.validate("best_heads", frame[[c.name for c in columns]])
