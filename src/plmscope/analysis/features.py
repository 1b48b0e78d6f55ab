"""Protein features compared with attention: evaluated on residue pairs, and their background frequencies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import numpy as np

from plmscope.data.residues import STANDARD_AA
from plmscope.data.table import ProteinRecord
from plmscope.errors import PlmscopeError
from plmscope.options import CONTACT_CUTOFF, CONTACT_MIN_SEPARATION

if TYPE_CHECKING:  # imported where a table is built: `plmscope attention` loads this module without needing pandas
    import pandas as pd

PAIR_FEATURES: tuple[str, ...] = ("contact",)
"""Features of a residue pair (i, j)."""

SS_GROUPS: dict[str, str] = {"helix": "HGI", "strand": "EB", "turn_bend": "TS"}
"""Secondary-structure features and the DSSP 8-state letters each one groups."""

AMINO_ACID_FEATURES: tuple[str, ...] = tuple(f"aa_{a}" for a in STANDARD_AA)
"""One feature per standard amino acid, true when the attended-to residue is that amino acid."""

TOKEN_FEATURES: tuple[str, ...] = ("binding_site", "ptm", *SS_GROUPS, *AMINO_ACID_FEATURES)
"""Features of the attended-to residue j alone (f(i, j) = g(j))."""

FEATURES: tuple[str, ...] = PAIR_FEATURES + TOKEN_FEATURES
"""Every feature name, in report order."""

TOKEN_GROUPS: dict[str, tuple[str, ...]] = {
    "binding_site": ("binding_site",),
    "ptm": ("ptm",),
    "ss": tuple(SS_GROUPS),
    "aa": AMINO_ACID_FEATURES,
}
"""Token features grouped by the per-residue code they are read from (member k has code k)."""


def check_features(features: Iterable[str] | None) -> tuple[str, ...]:
    """Validate feature names; ``None`` means all of :data:`FEATURES`.

    Returns:
        The names, de-duplicated, in the order given.

    Raises:
        PlmscopeError: an unknown name, or an empty selection.
    """
    if features is None:
        return FEATURES
    if isinstance(features, str):
        features = [features]
    chosen = tuple(dict.fromkeys(str(f) for f in features))
    unknown = [f for f in chosen if f not in FEATURES]
    if unknown:
        raise PlmscopeError(f"features: unknown feature(s) {unknown}; choose from {list(FEATURES)}")
    if not chosen:
        raise PlmscopeError("features: empty feature selection")
    return chosen


def check_contact_options(cutoff: float, min_separation: int) -> None:
    """Reject a non-positive contact cutoff or a minimum separation below 1 (no self-contacts).

    Raises:
        PlmscopeError: naming the option.
    """
    if not (isinstance(cutoff, (int, float)) and np.isfinite(cutoff) and cutoff > 0):
        raise PlmscopeError(f"contact_cutoff: must be a positive distance in Å, got {cutoff!r}")
    if isinstance(min_separation, bool) or int(min_separation) != min_separation or min_separation < 1:
        raise PlmscopeError(
            "contact_min_separation: must be an integer >= 1 (a residue is not its own contact), "
            f"got {min_separation!r}"
        )


@dataclass(frozen=True)
class FeatureArrays:
    """Per-residue feature codes of the analysed proteins, concatenated with offsets.

    Residue ``k`` of protein ``p`` sits at global position ``offsets[p] + k``; only the analysed
    prefix of each sequence (``lengths[p]`` residues) is stored.

    Attributes:
        ids: protein ids, ``(P,)``.
        lengths: analysed residues per protein, ``(P,)`` int64.
        offsets: start of each protein, ``(P + 1,)`` int64; ``offsets[-1]`` is the total N.
        ca: CA coordinates ``(N, 3)`` float32, NaN where missing or the protein has no structure.
        valid: ``(N,)`` bool, residue has coordinates.
        codes: token group (:data:`TOKEN_GROUPS`) -> ``(N,)`` int8, the index of the group's
            feature the residue has, -1 for none.
        annotated: token group or ``"contact"`` -> ``(P,)`` bool, the protein carries the
            annotation (structure, sites, PTMs, ss8; always true for amino acids).
    """

    ids: tuple[str, ...]
    lengths: np.ndarray
    offsets: np.ndarray
    ca: np.ndarray
    valid: np.ndarray
    codes: Mapping[str, np.ndarray]
    annotated: Mapping[str, np.ndarray]

    def has(self, feature: str) -> np.ndarray:
        """``(N,)`` bool: the residue has token feature ``feature``."""
        group, code = token_group(feature)
        return self.codes[group] == code

    def annotated_for(self, feature: str) -> np.ndarray:
        """``(P,)`` bool: the protein is annotated for ``feature``."""
        return self.annotated["contact" if feature in PAIR_FEATURES else token_group(feature)[0]]


def token_group(feature: str) -> tuple[str, int]:
    """The group of a token feature in :data:`TOKEN_GROUPS` and its code within the group."""
    for group, members in TOKEN_GROUPS.items():
        if feature in members:
            return group, members.index(feature)
    raise PlmscopeError(f"features: {feature!r} is not a token feature; choose from {list(TOKEN_FEATURES)}")


def feature_arrays(records: Sequence[ProteinRecord], analysed: Mapping[str, int]) -> FeatureArrays:
    """Build the concatenated feature arrays of the analysed proteins.

    Args:
        records: the protein table (extra proteins not in ``analysed`` are ignored).
        analysed: protein id -> number of residues analysed (the prefix kept after truncation),
            in the order the proteins should take.

    Returns:
        The :class:`FeatureArrays` of the proteins in ``analysed``.

    Raises:
        PlmscopeError: a protein of ``analysed`` is not in ``records``, or its analysed length is
            negative or longer than its sequence.
    """
    by_id = {r.id: r for r in records}
    missing = [pid for pid in analysed if pid not in by_id]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise PlmscopeError(f"{len(missing)} analysed protein(s) not in the protein table: {shown}")
    ids = tuple(analysed)
    lengths = np.array([int(analysed[pid]) for pid in ids], dtype=np.int64)
    for pid, n in zip(ids, lengths):
        if n < 0 or n > len(by_id[pid].sequence):
            raise PlmscopeError(
                f"protein {pid!r}: {n} residues analysed but the sequence has {len(by_id[pid].sequence)}"
            )
    offsets = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])

    ca_parts, valid_parts, seq_parts, ss_parts = [], [], [], []
    codes = {group: np.full(total, -1, dtype=np.int8) for group in ("binding_site", "ptm")}
    annotated = {name: np.zeros(len(ids), dtype=bool) for name in ("contact", *TOKEN_GROUPS)}
    annotated["aa"][:] = True
    for p, pid in enumerate(ids):
        rec, n, start = by_id[pid], int(lengths[p]), int(offsets[p])
        seq_parts.append(rec.sequence[:n])
        if rec.ca is not None:
            ca = np.asarray(rec.ca[:n], dtype=np.float32)
            valid = np.asarray(rec.valid[:n], dtype=bool) & ~np.isnan(ca).any(axis=1)
            annotated["contact"][p] = True
        else:
            ca = np.full((n, 3), np.nan, dtype=np.float32)
            valid = np.zeros(n, dtype=bool)
        ca_parts.append(ca)
        valid_parts.append(valid)
        ss_parts.append(rec.ss8[:n] if rec.ss8 is not None else "-" * n)
        annotated["ss"][p] = rec.ss8 is not None
        for group, idx in (("binding_site", rec.sites), ("ptm", rec.ptms)):
            if idx is not None:
                annotated[group][p] = True
                kept = np.asarray(idx, dtype=np.int64)
                codes[group][start + kept[kept < n]] = 0

    codes["ss"] = _letter_codes("".join(ss_parts), [SS_GROUPS[f] for f in TOKEN_GROUPS["ss"]])
    codes["aa"] = _letter_codes("".join(seq_parts), [f[-1] for f in TOKEN_GROUPS["aa"]])
    return FeatureArrays(
        ids=ids,
        lengths=lengths,
        offsets=offsets,
        ca=np.concatenate(ca_parts) if ca_parts else np.zeros((0, 3), dtype=np.float32),
        valid=np.concatenate(valid_parts) if valid_parts else np.zeros(0, dtype=bool),
        codes=codes,
        annotated=annotated,
    )


def _letter_codes(text: str, classes: Sequence[str]) -> np.ndarray:
    """``(len(text),)`` int8: index of the class (a string of letters) holding each letter, -1 for none."""
    lookup = np.full(256, -1, dtype=np.int8)
    for code, letters in enumerate(classes):
        lookup[np.frombuffer(letters.encode("ascii"), dtype=np.uint8)] = code
    return lookup[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]


def pair_values(
    arrays: FeatureArrays,
    feature: str,
    protein: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    *,
    cutoff: float = CONTACT_CUTOFF,
    min_separation: int = CONTACT_MIN_SEPARATION,
) -> tuple[np.ndarray, np.ndarray]:
    """Evaluate one feature on residue pairs (vectorised, no loop over pairs).

    Args:
        arrays: the analysed proteins.
        feature: a name from :data:`FEATURES`.
        protein: ``(R,)`` protein positions p in ``arrays``.
        i: ``(R,)`` attending residue (0-based, within the analysed prefix).
        j: ``(R,)`` attended-to residue.
        cutoff: contact CA-CA distance in Å (``contact`` only).
        min_separation: minimum ``|i - j|`` of a contact (``contact`` only).

    Returns:
        ``(eligible, value)``, two ``(R,)`` bool arrays: the pair counts for this feature at all
        (protein annotated; for ``contact`` both residues have coordinates), and f(i, j).
    """
    start = arrays.offsets[protein]
    if feature in PAIR_FEATURES:
        from plmscope.data.contacts import pair_contacts

        # Global positions keep |i - j| (both residues share the protein's offset), so one call
        # covers residues of many proteins at once.
        code = np.asarray(
            pair_contacts(
                arrays.ca, arrays.valid, start + i, start + j, cutoff=cutoff, min_separation=min_separation
            )
        )
        return code >= 0, code == 1
    group, code = token_group(feature)
    eligible = arrays.annotated[group][protein]
    return eligible, (arrays.codes[group][start + j] == code) & eligible


def backgrounds(
    arrays: FeatureArrays,
    *,
    features: Iterable[str] | None = None,
    cutoff: float = CONTACT_CUTOFF,
    min_separation: int = CONTACT_MIN_SEPARATION,
) -> pd.DataFrame:
    """Background (null) frequency of each feature over the analysed proteins.

    Pair features: the fraction of eligible ordered residue pairs (i, j), i = j included, that
    have the feature; this is the population the attention denominator ranges over, so it is the
    proportion a head spreading its attention uniformly over all pairs would show. Pairs with a
    residue lacking coordinates, and proteins without structure, are not eligible. Token
    features: the fraction of residues of annotated proteins that have the feature.

    Args:
        arrays: the analysed proteins.
        features: names from :data:`FEATURES`; None for all.
        cutoff: contact CA-CA distance in Å.
        min_separation: minimum ``|i - j|`` of a contact.

    Returns:
        A DataFrame with columns feature, n_eligible, n_feature, background (NaN when nothing is
        eligible), one row per feature.
    """
    check_contact_options(cutoff, min_separation)
    rows = []
    for feature in check_features(features):
        if feature in PAIR_FEATURES:
            n_eligible, n_feature = _contact_background(arrays, cutoff=cutoff, min_separation=min_separation)
        else:
            residues = np.repeat(arrays.annotated_for(feature), arrays.lengths)
            n_eligible = int(residues.sum())
            n_feature = int((arrays.has(feature) & residues).sum())
        rows.append(
            {
                "feature": feature,
                "n_eligible": n_eligible,
                "n_feature": n_feature,
                "background": n_feature / n_eligible if n_eligible else np.nan,
            }
        )
    import pandas as pd

    return pd.DataFrame(rows, columns=["feature", "n_eligible", "n_feature", "background"]).astype(
        {"n_eligible": "int64", "n_feature": "int64", "background": "float64"}
    )


def _contact_background(arrays: FeatureArrays, *, cutoff: float, min_separation: int) -> tuple[int, int]:
    """Count eligible ordered pairs and contact pairs protein by protein (k-d tree, no dense map)."""
    from plmscope.data.contacts import contact_pairs, count_valid_pairs

    n_eligible = n_feature = 0
    for p in np.flatnonzero(arrays.annotated["contact"]):
        part = slice(int(arrays.offsets[p]), int(arrays.offsets[p + 1]))
        ca, valid = arrays.ca[part], arrays.valid[part]
        n_eligible += count_valid_pairs(valid, min_separation=0)
        n_feature += len(contact_pairs(ca, valid, cutoff=cutoff, min_separation=min_separation)[0])
    return n_eligible, n_feature
