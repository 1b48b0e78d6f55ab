"""Amino-acid alphabet and sequence cleaning shared by every parser."""

from __future__ import annotations

from plmscope.errors import located

STANDARD_AA = "ACDEFGHIKLMNPQRSTVWY"
"""The 20 standard amino acids in one-letter code."""

EXTRA_AA = "XUZOB"
"""Accepted non-standard letters: unknown, selenocysteine, Glx, pyrrolysine, Asx."""

ALLOWED_AA = frozenset(STANDARD_AA + EXTRA_AA)


def clean_sequence(seq: str, *, where: object, record_id: str) -> str:
    """Return ``seq`` upper-cased, without whitespace and without one trailing stop ``*``.

    Args:
        seq: raw sequence text (may span lines, may be lower-case).
        where: the file (or other origin) named in error messages.
        record_id: the record named in error messages.

    Returns:
        The cleaned sequence, only letters from :data:`STANDARD_AA` and :data:`EXTRA_AA`.

    Raises:
        PlmscopeError: the sequence is empty, or holds any other character (an internal ``*``,
            a digit, ``J``, ...); the message names the letter and its 1-based position.
    """
    text = "".join(str(seq).split()).upper()
    if text.endswith("*"):
        text = text[:-1]
    if not text:
        raise located(where, f"record {record_id!r} has an empty sequence")
    for pos, letter in enumerate(text, start=1):
        if letter not in ALLOWED_AA:
            what = "an internal stop '*'" if letter == "*" else f"unknown residue {letter!r}"
            raise located(where, f"record {record_id!r} has {what} at position {pos}")
    return text
