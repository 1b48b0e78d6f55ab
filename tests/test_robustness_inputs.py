"""The bad-input corpus (tests/data/bad): one-line errors naming the file and problem, and no output left behind."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from plmscope.data.prepare import prepare
from plmscope.data.table import ProteinRecord, read_proteins, write_proteins
from plmscope.errors import PlmscopeError
from plmscope.models.tiny import save_tiny_model
from plmscope.runs.attention import run_attention

REPO = Path(__file__).resolve().parents[1]
BAD = REPO / "tests" / "data" / "bad"

# file -> (prepare format, fragments the one-line message must hold)
PARSE_ERRORS = {
    "empty.fasta": ("fasta", ["file is empty"]),
    "empty.proteinnet": ("proteinnet", ["file is empty"]),
    "empty.pdb": ("pdb", ["file is empty"]),
    "empty.parquet": ("table", ["not a readable Parquet protein table", "0 bytes"]),
    "empty_sequence.fasta": ("fasta", ["record 'E1' has an empty sequence"]),
    "internal_stop.fasta": ("fasta", ["record 'S1' has an internal stop '*' at position 4"]),
    "letter_j.fasta": ("fasta", ["record 'J1' has unknown residue 'J' at position 5"]),
    "not_fasta.fasta": ("fasta", ["not a FASTA file"]),
    "truncated.proteinnet": ("proteinnet", ["record 'TINY_1'", "[TERTIARY] has 1 rows, expected 3", "truncated"]),
    "wrong_coords.proteinnet": ("proteinnet", ["'TINY_1'", "y row", "has 11 values, expected 12"]),
    "mask_length.proteinnet": ("proteinnet", ["'TINY_1'", "[MASK]", "length 3, sequence has 4 residues"]),
    "non_numeric.proteinnet": ("proteinnet", ["'TINY_1'", "non-numeric coordinate '1O2.5'"]),
    "missing_primary.proteinnet": ("proteinnet", ["record 'NOSEQ' has no [PRIMARY] section"]),
    "no_ca.pdb": ("pdb", ["no amino-acid CA atoms found"]),
    "no_num_examples.lmdb": ("tape-lmdb", ["LMDB has no 'num_examples' key"]),
    "truncated_table.parquet": ("table", ["not a readable Parquet protein table"]),
}
OTHER_CASES = {"README.md", "misspelled_key.config.yaml", "nonstandard.fasta"}  # tested below


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``python -m plmscope.cli ...`` in ``cwd``; stdout and stderr captured separately."""
    return subprocess.run([sys.executable, "-m", "plmscope.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def assert_one_line_error(result: subprocess.CompletedProcess, verb: str, *fragments: str) -> str:
    """Exit code 1 and stderr that is exactly one line ``plmscope <verb>: error: ...`` holding the fragments."""
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"plmscope {verb}: error: ") and "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_every_corpus_file_has_a_case():
    assert {p.name for p in BAD.iterdir()} == set(PARSE_ERRORS) | OTHER_CASES


@pytest.mark.parametrize("name", sorted(PARSE_ERRORS))
def test_prepare_stops_with_one_line_naming_file_and_problem(name, tmp_path):
    fmt, fragments = PARSE_ERRORS[name]
    out = tmp_path / "out" / "proteins.parquet"
    with pytest.raises(PlmscopeError) as info:
        prepare([BAD / name], fmt=fmt, output=out)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(BAD / name))
    for fragment in fragments:
        assert fragment in message, message
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


@pytest.mark.parametrize(
    "name", ["truncated.proteinnet", "no_num_examples.lmdb", "no_ca.pdb", "internal_stop.fasta"]
)
def test_prepare_cli_prints_one_line_and_writes_nothing(name, tmp_path):
    fmt, fragments = PARSE_ERRORS[name]
    result = cli("prepare", "--format", fmt, str(BAD / name), "-o", "out/proteins.parquet", cwd=tmp_path)
    assert_one_line_error(result, "prepare", str(BAD / name), *fragments)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["truncated_table.parquet", "missing.parquet"])
def test_attention_cli_on_a_bad_or_missing_table(name, tmp_path):
    problem = "file not found" if name == "missing.parquet" else "not a readable Parquet protein table"
    result = cli("attention", "--proteins", str(BAD / name), "--model", "antiberty", "-o", "att", cwd=tmp_path)
    assert_one_line_error(result, "attention", str(BAD / name), problem)
    assert list(tmp_path.iterdir()) == []


def test_sequence_over_the_limit_with_error_policy_stops_before_the_model_loads(tmp_path):
    table = tmp_path / "t.parquet"
    write_proteins([ProteinRecord(id="short", sequence="MKTAY"), ProteinRecord(id="long1", sequence="M" * 31)], table)
    result = cli("attention", "--proteins", "t.parquet", "--model", "no-such-model-dir", "-o", "att",
                 "--max-residues", "30", "--long-sequences", "error", cwd=tmp_path)  # fmt: skip
    assert_one_line_error(result, "attention", "t.parquet: protein 'long1' has 31 residues, over the limit of 30",
                          "set long_sequences to truncate, window or skip")  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet"]


def test_misspelled_config_key_is_named_by_the_schema_check():
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    fragment = yaml.safe_load((BAD / "misspelled_key.config.yaml").read_text())
    del config["attention"]["theta"]
    config["attention"].update(fragment["attention"])
    with pytest.raises(WorkflowError) as info:
        validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    first = str(info.value).splitlines()[:2]
    assert any("'thetta' was unexpected" in line for line in first), first


def test_model_that_does_not_exist_and_offline_hub(tmp_path, monkeypatch):
    import huggingface_hub.constants

    table = tmp_path / "t.parquet"
    write_proteins([ProteinRecord(id="a", sequence="MKTAY")], table)
    out = tmp_path / "att"

    def fails(model: str) -> str:
        with pytest.raises(PlmscopeError) as info:
            run_attention(table, out, model=model, progress=False)
        assert "\n" not in str(info.value) and not out.exists()
        return str(info.value)

    assert "is neither a local directory nor a valid Hugging Face hub name" in fails("./models/missing")
    # a well-formed hub name: offline flag set / hub unreachable
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert fails("no-such-org/no-such-model") == (
        "model 'no-such-org/no-such-model' could not be loaded: not in the local Hugging Face cache and "
        "HF_HUB_OFFLINE is set"
    )
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    message = fails("Rostlab/prot_bert_xyz")
    assert message.startswith("model 'Rostlab/prot_bert_xyz' could not be loaded: not in the local Hugging Face "
                              "cache and the hub cannot be reached (http://127.0.0.1:9")  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet"]


@pytest.mark.parametrize(
    "family, nonstandard, unknown",
    [("antiberty", 5, 5), ("esm", 5, 0)],  # AntiBERTy has no X: all five become [UNK]; ESM-2 has every code
)
def test_nonstandard_fasta_is_accepted_and_counted_in_the_attention_log(family, nonstandard, unknown, tmp_path,
                                                                        caplog):  # fmt: skip
    table = tmp_path / "ns.parquet"
    assert prepare([BAD / "nonstandard.fasta"], fmt="fasta", output=table) == 2
    ns1, ns2 = read_proteins(table)
    assert ns1.sequence == "MKTAYUIAKQRQISFVKSXHFSRQLEERLG"  # upper case, trailing '*' removed
    assert ns2.sequence == "EVQLVESGGGBLVQPGZSLRLOCAASGFNIK"
    model = "antiberty" if family == "antiberty" else str(save_tiny_model(family, tmp_path / family))
    with caplog.at_level(logging.INFO, logger="plmscope"):
        summary = run_attention(table, tmp_path / "att", model=model, max_residues=40, device="cpu", progress=False)
    assert (summary["n_nonstandard"], summary["n_unknown"]) == (nonstandard, unknown)
    assert f"{nonstandard} non-standard residues analysed ({unknown} encoded as the unknown token)" in caplog.text
