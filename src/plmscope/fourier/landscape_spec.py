"""Mutational landscapes of a protein: wild type, n sites and an alphabet mapping Z_q^n to mutant sequences."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from plmscope.errors import PlmscopeError, located

ALPHABET = "ACDEFGHIKLMNPQRSTVWY"
"""The 20 amino acids in the order used by q = 20 landscapes (x_i = 1..19 walk it, skipping the wild type)."""

_MUTATION = re.compile(r"^([A-Z])(\d+)([A-Z])$")


@dataclass(frozen=True)
class LandscapeSpec:
    """A protein, ``n`` sites and the residue each value of ``x_i`` stands for.

    ``x_i = 0`` is always the wild-type residue at site ``i``. With ``q = 20``, ``x_i = 1..19``
    are the other 19 amino acids in :data:`ALPHABET` order; with ``q = 2``, ``x_i = 1`` is the
    one chosen substitution of site ``i``.

    Attributes:
        protein_id: name of the protein (for outputs and cache file names).
        sequence: wild-type one-letter sequence, length L.
        sites: 0-based residue positions of the n sites, in landscape order.
        q: alphabet size, 20 or 2.
        substitutions: the mutant letter of each site (``q = 2``), else None.
    """

    protein_id: str
    sequence: str
    sites: tuple[int, ...]
    q: int
    substitutions: tuple[str, ...] | None = None

    def __post_init__(self):
        where = f"landscape {self.protein_id!r}"
        if self.q not in (2, 20):
            raise PlmscopeError(
                f"{where}: q must be 20 (all amino acids) or 2 (one substitution per site), got {self.q!r}"
            )
        if not self.sites:
            raise PlmscopeError(f"{where}: needs at least one site")
        if len(set(self.sites)) != len(self.sites):
            raise PlmscopeError(f"{where}: sites must be distinct")
        for s in self.sites:
            if not 0 <= s < len(self.sequence):
                raise PlmscopeError(f"{where}: site {s + 1} is outside the sequence (1..{len(self.sequence)})")
            if self.sequence[s] not in ALPHABET:
                raise PlmscopeError(
                    f"{where}: site {s + 1} holds {self.sequence[s]!r}, not one of the 20 standard amino acids"
                )
        if self.q == 2:
            if self.substitutions is None or len(self.substitutions) != len(self.sites):
                raise PlmscopeError(f"{where}: q = 2 needs one substitution per site")
            for s, mut in zip(self.sites, self.substitutions):
                if mut not in ALPHABET or mut == self.sequence[s]:
                    raise PlmscopeError(
                        f"{where}: substitution {mut!r} at site {s + 1} must be a standard amino acid other than "
                        f"the wild type {self.sequence[s]!r}"
                    )
        elif self.substitutions is not None:
            raise PlmscopeError(f"{where}: substitutions are only used with q = 2")

    @property
    def n(self) -> int:
        """Number of sites."""
        return len(self.sites)

    @property
    def wild_type(self) -> str:
        """Wild-type residues at the sites, in landscape order."""
        return "".join(self.sequence[s] for s in self.sites)

    @property
    def letters(self) -> np.ndarray:
        """``(n, q)`` array of one-letter strings: ``letters[i, v]`` is the residue of ``x_i = v``."""
        rows = []
        for i, s in enumerate(self.sites):
            wt = self.sequence[s]
            if self.q == 2:
                rows.append([wt, self.substitutions[i]])
            else:
                rows.append([wt] + [a for a in ALPHABET if a != wt])
        return np.array(rows, dtype="<U1")

    def site_labels(self) -> list[str]:
        """Wild-type letter and 1-based position of each site, e.g. ``["K10", "E15"]``."""
        return [f"{self.sequence[s]}{s + 1}" for s in self.sites]

    def to_sequences(self, X: np.ndarray) -> list[str]:
        """Mutant sequences of points X.

        Args:
            X: ``(m, n)`` int array with entries in ``0..q-1``.

        Returns:
            ``m`` one-letter sequences of length L.

        Raises:
            PlmscopeError: X has the wrong shape or entries outside ``0..q-1``.
        """
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n:
            raise PlmscopeError(f"landscape {self.protein_id!r}: points must have shape (m, {self.n}), got {X.shape}")
        if X.size and (X.dtype.kind not in "iu" or X.min() < 0 or X.max() >= self.q):
            raise PlmscopeError(f"landscape {self.protein_id!r}: points must be integers in 0..{self.q - 1}")
        length = len(self.sequence)
        codes = np.frombuffer(self.letters.astype("S1").tobytes(), dtype=np.uint8).reshape(self.n, self.q)
        rows = np.tile(np.frombuffer(self.sequence.encode("ascii"), dtype=np.uint8), (X.shape[0], 1))
        rows[:, list(self.sites)] = codes[np.arange(self.n), X]
        return [s.decode("ascii") for s in np.ascontiguousarray(rows).view(f"S{length}").ravel()]

    def mutations(self, x: Sequence[int]) -> list[str]:
        """The substitutions of one point as ``["K10A", ...]`` (empty for the wild type)."""
        letters = self.letters
        return [
            f"{self.sequence[s]}{s + 1}{letters[i, int(v)]}" for i, (s, v) in enumerate(zip(self.sites, x)) if int(v)
        ]

    def describe(self) -> dict[str, Any]:
        """JSON-ready description (protein, 1-based sites, q, substitutions, sequence hash)."""
        return {
            "protein_id": self.protein_id,
            "length": len(self.sequence),
            "sequence_sha256": hashlib.sha256(self.sequence.encode()).hexdigest(),
            "sites": [s + 1 for s in self.sites],
            "wild_type": self.wild_type,
            "q": self.q,
            "substitutions": None if self.substitutions is None else list(self.substitutions),
        }

    def fingerprint(self, **extra: Any) -> str:
        """A 16-hex-digit hash of sequence, sites, q, substitutions and ``extra`` (model, score, ...)."""
        payload = {**self.describe(), **{k: extra[k] for k in sorted(extra)}}
        payload.pop("protein_id")  # the same sequence under another name is the same landscape
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------------------- parsing
def load_protein(config: Mapping[str, Any], *, key: str = "protein") -> tuple[str, str]:
    """The (id, wild-type sequence) a ``protein`` config block names.

    Accepted forms: ``{id, sequence}`` (inline), ``{fasta, id?}`` (a FASTA file; ``id`` picks a
    record, needed when the file has several) or ``{table, id}`` (a plmscope protein table).

    Raises:
        PlmscopeError: naming ``key`` or the file, for a missing/ambiguous source, an unknown id or
            an invalid sequence.
    """
    from plmscope.data.residues import clean_sequence

    if not isinstance(config, Mapping):
        raise PlmscopeError(f"config key {key!r}: expected a mapping with 'sequence', 'fasta' or 'table'")
    unknown = sorted(set(config) - {"id", "sequence", "fasta", "table"})
    if unknown:
        raise PlmscopeError(f"config key {key!r}: unknown entries {unknown} (use id, sequence, fasta or table)")
    sources = [s for s in ("sequence", "fasta", "table") if config.get(s) is not None]
    if len(sources) != 1:
        raise PlmscopeError(f"config key {key!r}: give exactly one of 'sequence', 'fasta' or 'table', got {sources}")
    pid = config.get("id")
    if pid is not None and not isinstance(pid, str):
        raise PlmscopeError(f"config key {key}.id: expected a string, got {pid!r}")
    if sources == ["sequence"]:
        if not isinstance(config["sequence"], str):
            raise PlmscopeError(f"config key {key}.sequence: expected a string")
        pid = pid or "protein"
        return pid, clean_sequence(config["sequence"], where=f"config key {key}.sequence", record_id=pid)
    path = Path(config[sources[0]])
    if sources == ["fasta"]:
        from plmscope.data.fasta import read_fasta

        records = read_fasta(path)
    else:
        from plmscope.data.table import read_proteins

        records = read_proteins(path)
        if pid is None:
            raise PlmscopeError(f"config key {key}.id: needed to pick a protein from the table {path}")
    if pid is None:
        if len(records) != 1:
            raise located(path, f"holds {len(records)} records; set {key}.id to pick one")
        return records[0].id, records[0].sequence
    for record in records:
        if record.id == pid:
            return record.id, record.sequence
    raise located(path, f"no record with id {pid!r} (config key {key}.id)")


def _as_items(value: Any, key: str) -> list:
    if isinstance(value, str):
        return value.replace(",", " ").split()
    if isinstance(value, (list, tuple)):
        return list(value)
    raise PlmscopeError(f"config key {key!r}: expected a list or a whitespace-separated string, got {value!r}")


def parse_sites(value: Any, *, length: int, key: str = "sites") -> tuple[int, ...]:
    """1-based site numbers (a list or a string such as ``"12 15 6"``) as 0-based positions.

    Raises:
        PlmscopeError: naming ``key``, for an empty list, a non-integer, a duplicate or a site
            outside ``1..length``.
    """
    items = _as_items(value, key)
    if not items:
        raise PlmscopeError(f"config key {key!r}: needs at least one site")
    sites = []
    for item in items:
        if isinstance(item, str) and item.strip().lstrip("+-").isdigit():
            item = int(item)
        if isinstance(item, float) and item.is_integer():
            item = int(item)
        if isinstance(item, bool) or not isinstance(item, (int, np.integer)):
            raise PlmscopeError(f"config key {key!r}: site {item!r} is not an integer (sites are 1-based positions)")
        if not 1 <= item <= length:
            raise PlmscopeError(f"config key {key!r}: site {item} is outside the sequence (1..{length})")
        if item - 1 in sites:
            raise PlmscopeError(f"config key {key!r}: site {item} is listed twice")
        sites.append(int(item) - 1)
    return tuple(sites)


def parse_substitutions(
    value: Any, *, sequence: str, sites: Sequence[int] | None, key: str = "substitutions"
) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Substitutions of a q = 2 landscape: letters per site, or mutations such as ``"K10A"``.

    Args:
        value: a list (or whitespace-separated string) of one-letter codes, one per site of
            ``sites``; or of mutations ``<wt><1-based position><mutant>``, which also give the
            sites (they must match ``sites`` when both are given).
        sequence: the wild type.
        sites: 0-based sites, or None when ``value`` holds mutations.
        key: config key named in errors.

    Returns:
        ``(sites (0-based), mutant letters)``.

    Raises:
        PlmscopeError: naming ``key``, for a letter outside :data:`ALPHABET`, a mutation whose
            wild-type letter does not match the sequence, a count that does not match the sites, or
            a substitution equal to the wild type.
    """
    items = [str(v).strip().upper() for v in _as_items(value, key)]
    if items and all(_MUTATION.match(v) for v in items):
        letters, parsed = [], []
        for item in items:
            wt, pos, mut = _MUTATION.match(item).groups()
            pos = int(pos)
            if not 1 <= pos <= len(sequence):
                raise PlmscopeError(f"config key {key!r}: mutation {item} is outside the sequence (1..{len(sequence)})")
            if sequence[pos - 1] != wt:
                raise PlmscopeError(
                    f"config key {key!r}: mutation {item} names wild type {wt!r} but position {pos} holds "
                    f"{sequence[pos - 1]!r}"
                )
            parsed.append(pos - 1)
            letters.append(mut)
        if sites is not None and tuple(parsed) != tuple(sites):
            positions = [p + 1 for p in parsed]
            raise PlmscopeError(f"config key {key!r}: mutation positions {positions} do not match the sites")
        sites = tuple(parsed)
        if len(set(sites)) != len(sites):
            raise PlmscopeError(f"config key {key!r}: a position is mutated twice")
    else:
        letters = items
        if sites is None:
            raise PlmscopeError(f"config key {key!r}: one-letter substitutions need a list of sites")
        if len(letters) != len(sites):
            raise PlmscopeError(f"config key {key!r}: {len(letters)} substitutions for {len(sites)} sites")
    for site, mut in zip(sites, letters):
        if len(mut) != 1 or mut not in ALPHABET:
            raise PlmscopeError(
                f"config key {key!r}: substitution {mut!r} is not one of the 20 amino acids {ALPHABET}"
            )
        if mut == sequence[site]:
            raise PlmscopeError(f"config key {key!r}: substitution {mut} at site {site + 1} equals the wild type")
    return tuple(sites), tuple(letters)


def _all_mutations(value: Any, key: str) -> bool:
    items = _as_items(value, key)
    return bool(items) and all(isinstance(v, str) and _MUTATION.match(v.strip().upper()) for v in items)


def build_spec(
    protein_id: str, sequence: str, site_set: Any, *, q: int, key: str = "site_sets[0]"
) -> LandscapeSpec:
    """A :class:`LandscapeSpec` from one configured site set.

    Args:
        protein_id, sequence: the wild type (see :func:`load_protein`).
        site_set: 1-based sites (list or string ``"12 15 6"``); for ``q = 2`` also mutations
            (``["K10A", "E15G"]`` or ``"K10A E15G"``) or a mapping ``{sites, substitutions}``
            with one-letter substitutions.
        q: 20 or 2.
        key: config key named in errors.

    Raises:
        PlmscopeError: a one-line message naming ``key`` for any invalid entry.
    """
    if isinstance(q, bool) or q not in (2, 20):
        raise PlmscopeError(f"config key 'q': must be 20 or 2, got {q!r}")
    substitutions = None
    if isinstance(site_set, Mapping):
        unknown = sorted(set(site_set) - {"sites", "substitutions"})
        if unknown or "sites" not in site_set and "substitutions" not in site_set:
            raise PlmscopeError(f"config key {key!r}: expected entries 'sites' and (q = 2) 'substitutions'")
        sites = None
        if "substitutions" not in site_set and _all_mutations(site_set["sites"], key):  # {name, sites: "K10A E15G"}
            return build_spec(protein_id, sequence, site_set["sites"], q=q, key=f"{key}.sites")
        if "sites" in site_set:
            sites = parse_sites(site_set["sites"], length=len(sequence), key=f"{key}.sites")
        if q == 2:
            if "substitutions" not in site_set:
                raise PlmscopeError(f"config key {key!r}: q = 2 needs 'substitutions' (e.g. [A, G] or K10A E15G)")
            sites, substitutions = parse_substitutions(
                site_set["substitutions"], sequence=sequence, sites=sites, key=f"{key}.substitutions"
            )
        elif "substitutions" in site_set:
            raise PlmscopeError(f"config key {key}.substitutions: only used with q = 2")
    else:
        items = _as_items(site_set, key)
        if _all_mutations(items, key):
            if q != 2:
                raise PlmscopeError(
                    f"config key {key!r}: mutations like {items[0]!r} define a q = 2 landscape, not q = {q}"
                )
            sites, substitutions = parse_substitutions(items, sequence=sequence, sites=None, key=key)
        else:
            sites = parse_sites(items, length=len(sequence), key=key)
            if q == 2:
                raise PlmscopeError(
                    f"config key {key!r}: q = 2 needs one substitution per site (e.g. K10A E15G, or "
                    "{sites: [...], substitutions: [...]})"
                )
    for s in sites:
        if sequence[s] not in ALPHABET:
            raise PlmscopeError(
                f"config key {key!r}: site {s + 1} holds {sequence[s]!r}, not one of the 20 standard amino acids"
            )
    return LandscapeSpec(protein_id=protein_id, sequence=sequence, sites=tuple(sites), q=q, substitutions=substitutions)
