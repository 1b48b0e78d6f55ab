"""Model directories are untrusted: a pickled ``pytorch_model.bin`` whose ``__reduce__`` runs code, and a
``config.json`` asking for remote code (``auto_map``), must never run it.

Each planted payload would create a marker file; the test checks the marker is absent and that the
one-line refusal does not advise loading the file unsafely (torch's own message suggests
``weights_only=False``).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sys
from pathlib import Path

import pytest
import torch

from plmscope.cli import main
from plmscope.data.table import ProteinRecord, write_proteins
from plmscope.models.tiny import save_tiny_model

sys.path.insert(0, str(Path(__file__).parent))
from test_models_tape import tape_config  # noqa: E402


class _Payload:
    """Unpickling it calls ``os.system(touch <marker>)``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return save_tiny_model("bert", tmp_path_factory.mktemp("models") / "bert", layers=2, heads=2, max_positions=64)


@pytest.fixture
def table(tmp_path) -> Path:
    path = tmp_path / "p.parquet"
    write_proteins([ProteinRecord("a", "MKVLAEVQLV")], path)
    return path


def _evil_model(tiny: Path, where: Path, marker: Path, *, legacy: bool) -> Path:
    shutil.copytree(tiny, where)
    for weights in where.glob("*.safetensors"):
        weights.unlink()
    payload = {"bert.embeddings.word_embeddings.weight": _Payload(marker)}
    if legacy:  # a bare pickle stream, as torch.save(..., _use_new_zipfile_serialization=False) or pickle.dump
        with open(where / "pytorch_model.bin", "wb") as handle:
            pickle.dump(payload, handle)
    else:
        torch.save(payload, where / "pytorch_model.bin")
    return where


@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.parametrize("verb", ["attention", "epistasis-score"])
def test_pickled_weights_with_code_are_refused_and_never_run(tiny, table, tmp_path, capsys, legacy, verb):
    marker = tmp_path / "PWNED"
    model = _evil_model(tiny, tmp_path / "evil", marker, legacy=legacy)
    if verb == "attention":
        out = tmp_path / "att"
        code = main(["attention", "--proteins", str(table), "--model", str(model), "-o", str(out),
                     "--device", "cpu", "--max-residues", "60"])  # fmt: skip
        assert code == 1 and not out.exists()
        err = capsys.readouterr().err.strip().splitlines()[-1]
    else:
        from plmscope.errors import PlmscopeError
        from plmscope.models.scoring import load_masked_lm

        with pytest.raises(PlmscopeError) as info:
            load_masked_lm(str(model), device="cpu")
        err = str(info.value)
    assert not marker.exists()
    assert "pickle holding more than tensors" in err and "weights_only=False" not in err, err
    assert str(model) in err


def test_pickled_tape_weights_with_code_are_refused(tmp_path, capsys):
    marker = tmp_path / "PWNED"
    src = tmp_path / "tape"
    src.mkdir()
    (src / "config.json").write_text(json.dumps(tape_config()))
    torch.save({"bert.embeddings.word_embeddings.weight": _Payload(marker)}, src / "pytorch_model.bin")
    assert main(["convert-tape", str(src), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert not marker.exists() and not (tmp_path / "out").exists()
    assert "pytorch_model.bin" in err and "pickle holding more than tensors" in err, err


def test_config_asking_for_remote_code_runs_none(tiny, table, tmp_path):
    marker = tmp_path / "PWNED"
    model = tmp_path / "remote"
    shutil.copytree(tiny, model)
    config = json.loads((model / "config.json").read_text())
    config |= {"auto_map": {"AutoConfig": "evil.Config", "AutoModel": "evil.Model",
                            "AutoTokenizer": ["evil.Tokenizer", None]}, "trust_remote_code": True}  # fmt: skip
    (model / "config.json").write_text(json.dumps(config))
    (model / "evil.py").write_text(f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n"
                                   "from transformers import BertConfig as Config, BertModel as Model\n")  # fmt: skip
    main(["attention", "--proteins", str(table), "--model", str(model), "-o", str(tmp_path / "att"),
          "--device", "cpu", "--max-residues", "60"])  # fmt: skip
    assert not marker.exists()
