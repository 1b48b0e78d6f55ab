"""Reader for TAPE-style LMDB datasets (ProteinNet, secondary structure, binding sites, PTMs)."""

from __future__ import annotations

import _compat_pickle
import io
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lmdb
import numpy as np

from plmscope.data.residues import clean_sequence
from plmscope.data.table import ProteinRecord
from plmscope.errors import located

SS8_CLASSES = "GHIBEST-"
"""DSSP letter of each TAPE ``ss8`` class index, in TAPE's order G H I B E S T C (coil -> ``-``)."""

_LABEL_FIELDS = {"sites": "sites", "modifications": "ptms"}


def read_tape_lmdb(path: str | Path) -> list[ProteinRecord]:
    """Read every record of a TAPE LMDB dataset.

    The dataset kind follows from the fields present in each pickled record:

    * ProteinNet: ``tertiary`` as ``(L, 3, 3)`` N/CA/C or ``(L, 3)`` CA coordinates in Å and
      ``valid_mask`` ``(L,)``; residues outside the mask get NaN coordinates.
    * secondary structure: ``ss8`` integer classes (TAPE order G H I B E S T C, coil stored as
      ``-``) or a DSSP letter string.
    * binding sites / PTMs: ``positions`` (PDB author residue number of each residue) and
      ``sites`` / ``modifications`` (author numbers that are labelled). Residue k is labelled
      iff ``positions[k]`` is in the label list, so when an author number repeats (insertion
      codes are not stored) every residue carrying it is labelled.

    The id is the record's ``id`` field (e.g. ``'4udx.X'``, kept unchanged), or
    ``<directory stem>_<key>`` when absent. A record whose id was already seen in this file is
    dropped when its content (sequence, coordinates and labels) is identical to the first one,
    and otherwise kept under ``<id>#<key>`` so no data is silently merged. (The real TAPE
    binding-site and PTM validation splits have no repeated ids.)

    Values are pickles, read with :class:`RestrictedUnpickler`: only builtin containers and
    scalars and numpy arrays, dtypes and scalars can be built, so a crafted value cannot run
    code; any other global is refused before anything is called.

    Args:
        path: the ``.lmdb`` directory (holding ``data.mdb``).

    Returns:
        One :class:`ProteinRecord` per distinct record, in key order ``0..n-1``.

    Raises:
        PlmscopeError: the directory is missing or not an LMDB, ``num_examples`` or a record
            key is missing, a value cannot be unpickled or refers to a forbidden global, or a
            field has the wrong shape.
    """
    path = Path(path)
    if not path.exists():
        raise located(path, "LMDB directory not found")
    if not path.is_dir():
        raise located(path, "expected a TAPE .lmdb directory (holding data.mdb), got a file")
    try:
        env = lmdb.open(str(path), readonly=True, lock=False, readahead=False, subdir=True)
    except lmdb.Error as exc:
        raise located(path, f"not a readable LMDB database ({exc})") from None
    try:
        with env.begin(buffers=False) as txn:
            raw = txn.get(b"num_examples")
            if raw is None:
                raise located(path, "LMDB has no 'num_examples' key (not a TAPE dataset?)")
            count = _unpickle(path, "num_examples", raw)
            if isinstance(count, (bool, np.bool_)) or not isinstance(count, (int, np.integer)) or count < 0:
                raise located(path, f"'num_examples' is {count!r}, expected a non-negative integer")
            if count == 0:
                raise located(path, "LMDB dataset has no records (num_examples = 0)")
            records: list[ProteinRecord] = []
            by_id: dict[str, ProteinRecord] = {}
            for k in range(int(count)):
                key = str(k)
                raw = txn.get(key.encode())
                if raw is None:
                    raise located(path, f"record key {key!r} is missing (num_examples = {count})")
                rec = _record(path, key, _unpickle(path, key, raw))
                first = by_id.get(rec.id)
                if first is not None:
                    if _same_content(first, rec):
                        continue
                    rec.id = f"{rec.id}#{key}"
                by_id[rec.id] = rec
                records.append(rec)
    finally:
        env.close()
    return records


def _unpickle(path: Path, key: str, raw: bytes) -> Any:
    """Unpickle one LMDB value with the restricted unpickler; any failure is a one-line error."""
    try:
        return RestrictedUnpickler(io.BytesIO(raw)).load()
    except ForbiddenGlobal as exc:
        raise located(
            path,
            f"value of key {key!r} refers to forbidden global {exc.qualname!r}; refused without running it"
            f" (TAPE LMDB values may hold only builtin containers and scalars and numpy arrays)",
        ) from None
    except Exception as exc:  # pickle raises many exception types on corrupt input
        raise located(path, f"value of key {key!r} cannot be unpickled ({type(exc).__name__}: {exc})") from None


class ForbiddenGlobal(pickle.UnpicklingError):
    """A pickle refers to a global outside :data:`ALLOWED_GLOBALS`."""

    def __init__(self, qualname: str):
        super().__init__(f"forbidden global {qualname!r}")
        self.qualname = qualname


def _numpy_core(module: str) -> Any:
    """``numpy._core.<module>`` (numpy >= 2), else ``numpy.core.<module>`` (numpy 1.x)."""
    import importlib

    try:
        return importlib.import_module(f"numpy._core.{module}")
    except ImportError:
        return importlib.import_module(f"numpy.core.{module}")


def _latin1_encode(text: Any, encoding: str = "latin1", errors: str = "strict") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes: latin-1 text only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1") or errors != "strict":
        raise pickle.UnpicklingError("_codecs.encode is allowed only as encode(<str>, 'latin1')")
    return text.encode("latin1")


_RESOLVERS: dict[str, Callable[[], Any]] = {
    "builtins.set": lambda: set,
    "builtins.frozenset": lambda: frozenset,
    "builtins.bytearray": lambda: bytearray,
    "builtins.complex": lambda: complex,
    "_codecs.encode": lambda: _latin1_encode,
    "numpy.ndarray": lambda: np.ndarray,
    "numpy.dtype": lambda: np.dtype,
    "numpy.core.multiarray._reconstruct": lambda: _numpy_core("multiarray")._reconstruct,
    "numpy._core.multiarray._reconstruct": lambda: _numpy_core("multiarray")._reconstruct,
    "numpy.core.multiarray.scalar": lambda: _numpy_core("multiarray").scalar,
    "numpy._core.multiarray.scalar": lambda: _numpy_core("multiarray").scalar,
    "numpy.core.numeric._frombuffer": lambda: _numpy_core("numeric")._frombuffer,
    "numpy._core.numeric._frombuffer": lambda: _numpy_core("numeric")._frombuffer,
}

ALLOWED_GLOBALS: frozenset[str] = frozenset(_RESOLVERS)
"""Every global a TAPE / provis LMDB value may name (``module.name``, Python 3 spelling).

Builtin containers and scalars need none (protocol 2 names ``set``, ``frozenset``,
``bytearray``, ``complex`` and, for bytes, ``_codecs.encode`` with latin-1); numpy arrays,
dtypes and scalars need the array reconstructors of numpy 1.x (``numpy.core``) and 2.x
(``numpy._core``). Nothing here imports a module by name, evaluates text or touches files.
"""


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds only the globals in :data:`ALLOWED_GLOBALS`.

    Any other global (``os.system``, ``builtins.eval``, ``subprocess.Popen``, ``numpy.load``,
    ...) raises :class:`ForbiddenGlobal` when the pickle names it, before it can be called.
    Persistent ids and out-of-band buffers are refused too (pickle's defaults).
    """

    def find_class(self, module: str, name: str) -> Any:
        """Resolve ``module.name`` if it is allowed; raise :class:`ForbiddenGlobal` otherwise."""
        # Python 2 spellings (``__builtin__.set``, as protocols 0-2 write them) -> Python 3
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        qualname = f"{module}.{name}"
        resolve = _RESOLVERS.get(qualname)
        if resolve is None:
            raise ForbiddenGlobal(qualname)
        return resolve()


def _record(path: Path, key: str, item: Any) -> ProteinRecord:
    """Convert one unpickled TAPE item into a ProteinRecord."""
    if not isinstance(item, dict):
        raise located(path, f"record {key!r} is a {type(item).__name__}, expected a dict")
    if "primary" not in item:
        raise located(path, f"record {key!r} has no 'primary' sequence field")
    rid = item.get("id")
    if isinstance(rid, bytes):
        rid = rid.decode()
    rid = f"{path.stem}_{key}" if rid is None or str(rid) == "" else str(rid)
    primary = item["primary"]
    if isinstance(primary, bytes):
        primary = primary.decode()
    sequence = clean_sequence(str(primary), where=path, record_id=rid)
    n = len(sequence)
    fields: dict[str, Any] = {}
    if "tertiary" in item:
        fields["ca"], fields["valid"] = _coordinates(path, rid, item, n)
    if "ss8" in item:
        fields["ss8"] = _ss8(path, rid, item["ss8"], n)
    for field, attr in _LABEL_FIELDS.items():
        if field in item:
            fields[attr] = _labelled(path, rid, item, field, n)
    return ProteinRecord(id=rid, sequence=sequence, source=f"{path}:{key}", **fields)


def _coordinates(path: Path, rid: str, item: dict, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(L, 3)`` float64 CA coordinates (NaN outside the mask) and the ``(L,)`` mask."""
    try:
        xyz = np.asarray(item["tertiary"], dtype=np.float64)
    except (TypeError, ValueError):
        raise located(path, f"record {rid!r}: 'tertiary' is not a numeric array") from None
    if xyz.shape == (n, 3, 3):
        xyz = xyz[:, 1, :]
    elif xyz.shape != (n, 3):
        raise located(path, f"record {rid!r}: 'tertiary' has shape {xyz.shape}, expected ({n}, 3) or ({n}, 3, 3)")
    if "valid_mask" in item:
        valid = np.asarray(item["valid_mask"]).astype(bool).reshape(-1)
        if len(valid) != n:
            raise located(path, f"record {rid!r}: 'valid_mask' has length {len(valid)}, sequence has {n} residues")
    else:
        valid = np.ones(n, dtype=bool)
    valid &= np.isfinite(xyz).all(axis=1)
    ca = xyz.copy()  # float64: ProteinRecord converts to float32 and refuses a value that overflows it
    ca[~valid] = np.nan
    return ca, valid


def _ss8(path: Path, rid: str, value: Any, n: int) -> str:
    """Map TAPE ``ss8`` class indices (or a letter string) to a DSSP string of length n."""
    if isinstance(value, (str, bytes)):
        text = value.decode() if isinstance(value, bytes) else value
        text = text.replace(" ", "-").replace("C", "-")
        bad = set(text) - set(SS8_CLASSES)
        if bad:
            raise located(path, f"record {rid!r}: 'ss8' has unknown labels {sorted(bad)}")
    else:
        classes = np.asarray(value).reshape(-1)
        out_of_range = classes.size > 0 and (classes.min() < 0 or classes.max() >= len(SS8_CLASSES))
        if classes.dtype.kind not in "iu" or out_of_range:
            raise located(path, f"record {rid!r}: 'ss8' must hold integer classes 0..{len(SS8_CLASSES) - 1}")
        text = "".join(SS8_CLASSES[c] for c in classes)
    if len(text) != n:
        raise located(path, f"record {rid!r}: 'ss8' has {len(text)} labels for {n} residues")
    return text


def _labelled(path: Path, rid: str, item: dict, field: str, n: int) -> list[int]:
    """0-based indices k with ``positions[k]`` in ``item[field]`` (author residue numbers)."""
    if "positions" not in item:
        raise located(path, f"record {rid!r} has {field!r} but no 'positions' to locate them")
    positions = [int(p) for p in np.asarray(item["positions"]).reshape(-1)]
    if len(positions) != n:
        raise located(path, f"record {rid!r}: 'positions' has length {len(positions)}, sequence has {n} residues")
    wanted = {int(s) for s in np.asarray(item[field]).reshape(-1)}
    return [k for k, p in enumerate(positions) if p in wanted]


def _same_content(a: ProteinRecord, b: ProteinRecord) -> bool:
    """True when two records carry the same sequence, coordinates and labels."""
    if (a.sequence, a.ss8, a.sites, a.ptms) != (b.sequence, b.ss8, b.sites, b.ptms):
        return False
    if (a.ca is None) != (b.ca is None):
        return False
    return a.ca is None or (np.array_equal(a.ca, b.ca, equal_nan=True) and np.array_equal(a.valid, b.valid))
