"""TAPE LMDB values are pickles: only builtin containers/scalars and numpy arrays may be built."""

import os
import pickle
import pickletools
import subprocess
import sys
from pathlib import Path

import lmdb
import numpy as np
import pytest

from plmscope.data.prepare import prepare
from plmscope.data.tape_lmdb import ALLOWED_GLOBALS, read_tape_lmdb
from plmscope.errors import PlmscopeError

RECORD = {"id": "A", "primary": "MKV", "positions": [1, 2, 3], "sites": [2]}


class _Shell:
    """A pickle that runs ``os.system(command)`` when an unrestricted unpickler loads it."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _Call:
    """A pickle that calls ``func(*args)`` on load."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def _make_lmdb(path: Path, values: dict[str, bytes]) -> Path:
    """Write an LMDB holding the given raw (already pickled) values."""
    env = lmdb.open(str(path), map_size=1 << 24, subdir=True)
    with env.begin(write=True) as txn:
        for key, value in values.items():
            txn.put(key.encode(), value)
    env.close()
    return path


def _touch(tmp_path: Path) -> tuple[_Shell, Path]:
    marker = tmp_path / "pwned"
    return _Shell(f"touch {marker}"), marker


def _malicious(tmp_path: Path, where: str) -> tuple[Path, Path, str]:
    """An LMDB whose ``num_examples`` or record '0' runs ``touch pwned``; returns (lmdb, marker, global)."""
    shell, marker = _touch(tmp_path)
    good = {"num_examples": pickle.dumps(1), "0": pickle.dumps(RECORD)}
    if where == "num_examples":
        good["num_examples"] = pickle.dumps(shell)
    else:
        good["0"] = pickle.dumps({**RECORD, "id": shell})
    return _make_lmdb(tmp_path / f"evil_{where}.lmdb", good), marker, f"{os.system.__module__}.system"


@pytest.mark.parametrize("where", ["num_examples", "record"])
def test_os_system_in_a_value_is_refused_and_never_runs(tmp_path, where):
    path, marker, forbidden = _malicious(tmp_path, where)
    out = tmp_path / "out" / "proteins.parquet"
    with pytest.raises(PlmscopeError) as info:
        prepare([path], fmt="tape-lmdb", output=out)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert f"forbidden global {forbidden!r}" in message
    assert not marker.exists()
    assert not out.exists() and not out.parent.exists()


@pytest.mark.parametrize(
    ("payload", "forbidden"),
    [
        (_Call(eval, "print('ran')"), "builtins.eval"),
        (_Call(exec, "print('ran')"), "builtins.exec"),
        (_Call(getattr, "text", "upper"), "builtins.getattr"),
        (_Call(subprocess.Popen, ["true"]), "subprocess.Popen"),
        (_Call(np.load, "x.npy"), "numpy.load"),
        (_Call(pickle.loads, b"."), "_pickle.loads"),
    ],
)
def test_other_dangerous_globals_are_refused(tmp_path, payload, forbidden):
    path = _make_lmdb(tmp_path / "evil.lmdb", {"num_examples": pickle.dumps(1), "0": pickle.dumps([payload])})
    with pytest.raises(PlmscopeError) as info:
        read_tape_lmdb(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: value of key '0'")
    assert f"forbidden global {forbidden!r}" in message


@pytest.mark.parametrize("protocol", [0, 2])
def test_python2_style_global_names_are_checked_after_mapping(tmp_path, protocol):
    # protocol 0-2 pickles spell builtins as __builtin__; eval must still be refused
    path = _make_lmdb(tmp_path / "evil.lmdb", {
        "num_examples": pickle.dumps(1),
        "0": pickle.dumps(_Call(eval, "1"), protocol=protocol),
    })
    with pytest.raises(PlmscopeError, match="forbidden global 'builtins.eval'"):
        read_tape_lmdb(path)


def test_protocol_2_bytes_decoder_accepts_only_latin1(tmp_path):
    # bytes pickled with protocol 2 call _codecs.encode(text, 'latin1'); nothing else is accepted
    evil = pickle.dumps(_Call(__import__("codecs").encode, "eA==", "base64"), protocol=2)
    path = _make_lmdb(tmp_path / "codec.lmdb", {"num_examples": pickle.dumps(1), "0": evil})
    with pytest.raises(PlmscopeError, match="value of key '0' cannot be unpickled"):
        read_tape_lmdb(path)


def test_cli_refuses_a_malicious_record_exits_1_and_writes_nothing(tmp_path):
    path, marker, forbidden = _malicious(tmp_path, "record")
    out = tmp_path / "out.parquet"
    result = subprocess.run(
        [sys.executable, "-m", "plmscope.cli", "prepare", "--format", "tape-lmdb", str(path), "-o", str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert str(path) in lines[0] and f"forbidden global {forbidden!r}" in lines[0]
    assert not marker.exists()
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_numpy_records_still_load(tmp_path, protocol):
    ca = np.arange(12, dtype=np.float32).reshape(4, 3)
    items = {
        "0": {
            "id": "P1", "primary": "MKVL", "tertiary": np.stack([ca - 1, ca, ca + 1], axis=1),
            "valid_mask": np.array([1, 1, 0, 1], dtype=bool), "evolutionary": np.zeros((4, 21), np.float64),
            "protein_length": np.int64(4), "resolution": np.float32(2.5), "tags": {"a", frozenset({1})},
            "raw": b"bytes", "buf": bytearray(b"x"), "z": 1j, "nested": (np.array(["x"]), [None, True]),
        },
        "1": {"id": b"S1", "primary": b"ACD", "ss8": np.array([0, 7, 4], dtype=np.int8)},
    }
    values = {"num_examples": pickle.dumps(np.int64(2), protocol=protocol)}
    values.update({key: pickle.dumps(item, protocol=protocol) for key, item in items.items()})
    one, two = read_tape_lmdb(_make_lmdb(tmp_path / f"p{protocol}.lmdb", values))
    np.testing.assert_array_equal(one.ca[[0, 1, 3]], ca[[0, 1, 3]])
    assert one.valid.tolist() == [True, True, False, True]
    assert two.id == "S1" and two.ss8 == "G-E"


def test_allow_list_is_exactly_the_safe_constructors():
    assert ALLOWED_GLOBALS == {
        "builtins.set", "builtins.frozenset", "builtins.bytearray", "builtins.complex", "_codecs.encode",
        "numpy.ndarray", "numpy.dtype",
        "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
        "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
        "numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer",
    }


def test_real_shared_lmdbs_need_no_globals_and_still_parse(shared_data):
    for name in ("binding_site_valid.lmdb", "protein_modification_valid.lmdb"):
        path = shared_data / "tape_lmdb" / name
        env = lmdb.open(str(path), readonly=True, lock=False)
        with env.begin() as txn:
            opcodes = {op.name for _, value in txn.cursor() for op, _, _ in pickletools.genops(value)}
        env.close()
        assert not opcodes & {"GLOBAL", "STACK_GLOBAL", "INST", "OBJ", "REDUCE"}, name
        assert len(read_tape_lmdb(path)) == 1418
