"""Landscape definition: alphabet mapping, site and substitution parsing with one-line errors, protein sources."""

import numpy as np
import pytest

from plmscope.data.table import ProteinRecord, write_proteins
from plmscope.errors import PlmscopeError
from plmscope.fourier.landscape_spec import ALPHABET, LandscapeSpec, build_spec, load_protein, parse_sites

SEQ = "MKTAYIAKQRQISFVKSHFSRQ"  # 22 residues: K2, Y5, Q9, ...


def one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


def test_alphabet_order_and_wild_type_at_zero():
    assert ALPHABET == "ACDEFGHIKLMNPQRSTVWY"
    spec = build_spec("p", SEQ, [2, 5], q=20)
    letters = spec.letters
    assert letters.shape == (2, 20)
    assert letters[0].tolist() == ["K"] + [a for a in ALPHABET if a != "K"]  # K2: wild type first
    assert letters[1, 0] == "Y" and letters[1, 1] == "A" and letters[1, 19] == "W"
    for row in letters:  # every row is a permutation of the alphabet
        assert sorted(row.tolist()) == sorted(ALPHABET)


def test_to_sequences_maps_points_to_mutants():
    spec = build_spec("p", SEQ, "2 5", q=20)
    X = np.array([[0, 0], [1, 0], [0, 19], [8, 2]])
    seqs = spec.to_sequences(X)
    assert seqs[0] == SEQ
    assert seqs[1] == "MATAYIAKQRQISFVKSHFSRQ"  # x_0 = 1 -> A (first letter that is not K)
    assert seqs[2] == "MKTAWIAKQRQISFVKSHFSRQ"  # x_1 = 19 -> W
    # x_0 = 8 -> the 8th letter other than K: A C D E F G H *I*; x_1 = 2 -> C (A C, no Y before it)
    assert seqs[3] == "MITACIAKQRQISFVKSHFSRQ"
    assert spec.mutations([8, 2]) == ["K2I", "Y5C"]
    assert spec.to_sequences(np.array([[9, 0]]))[0][1] == "L"  # K skipped: L is the 9th
    assert spec.mutations([0, 0]) == []
    rng = np.random.default_rng(0)
    Xr = rng.integers(0, 20, size=(50, 2))
    loop = []
    for x in Xr:
        s = list(SEQ)
        for i, site in enumerate(spec.sites):
            s[site] = spec.letters[i, x[i]]
        loop.append("".join(s))
    assert spec.to_sequences(Xr) == loop
    with pytest.raises(PlmscopeError):
        spec.to_sequences(np.array([[0, 20]]))
    with pytest.raises(PlmscopeError):
        spec.to_sequences(np.array([0, 1, 2]))


def test_sites_keep_their_configured_order():
    spec = build_spec("p", SEQ, [9, 2, 5], q=20)
    assert spec.sites == (8, 1, 4)
    assert spec.wild_type == "QKY"
    assert spec.site_labels() == ["Q9", "K2", "Y5"]
    assert spec.to_sequences(np.array([[1, 0, 0]]))[0][8] == "A"


@pytest.mark.parametrize(
    ("sites", "message"),
    [
        ([2, 5, 2], "site 2 is listed twice"),
        ([0, 5], "site 0 is outside the sequence \\(1..22\\)"),
        ([23], "site 23 is outside the sequence"),
        ([2, 3.5], "site 3.5 is not an integer"),
        (["2", "x"], "site 'x' is not an integer"),
        ([True], "site True is not an integer"),
        ([], "needs at least one site"),
    ],
)
def test_bad_sites_are_one_line_errors_naming_the_key(sites, message):
    with pytest.raises(PlmscopeError, match=message) as err:
        build_spec("p", SEQ, sites, q=20, key="landscapes.demo.site_sets[1]")
    assert "landscapes.demo.site_sets[1]" in one_line(err)


def test_sites_accept_strings_and_integral_floats():
    assert parse_sites("12 15, 6", length=56) == (11, 14, 5)
    assert parse_sites([12.0, 3], length=56) == (11, 2)


def test_q2_from_mutation_strings_and_letters():
    spec = build_spec("p", SEQ, ["K2A", "Y5G"], q=2)
    assert spec.sites == (1, 4) and spec.substitutions == ("A", "G")
    assert spec.letters.tolist() == [["K", "A"], ["Y", "G"]]
    assert spec.to_sequences(np.array([[1, 1], [0, 1]])) == ["MATAGIAKQRQISFVKSHFSRQ", "MKTAGIAKQRQISFVKSHFSRQ"]
    same = build_spec("p", SEQ, {"sites": [2, 5], "substitutions": "A G"}, q=2)
    assert same == spec
    also = build_spec("p", SEQ, "K2A Y5G", q=2)
    assert also == spec


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"sites": [2, 5], "substitutions": ["A", "J"]}, "substitution 'J' is not one of the 20 amino acids"),
        ({"sites": [2, 5], "substitutions": ["A", "X"]}, "substitution 'X' is not one of the 20 amino acids"),
        ({"sites": [2, 5], "substitutions": ["A"]}, "1 substitutions for 2 sites"),
        ({"sites": [2, 5], "substitutions": ["K", "G"]}, "equals the wild type"),
        (["T2A", "Y5G"], "names wild type 'T' but position 2 holds 'K'"),
        ({"sites": [2, 6], "substitutions": ["K2A", "Y5G"]}, "do not match the sites"),
        ([2, 5], "q = 2 needs one substitution per site"),
    ],
)
def test_bad_substitutions_are_one_line_errors(entry, message):
    with pytest.raises(PlmscopeError, match=message) as err:
        build_spec("p", SEQ, entry, q=2, key="site_sets[0]")
    assert "site_sets[0]" in one_line(err)


def test_mutations_need_q2_and_q_must_be_20_or_2():
    with pytest.raises(PlmscopeError, match="define a q = 2 landscape"):
        build_spec("p", SEQ, ["K2A"], q=20)
    with pytest.raises(PlmscopeError, match="must be 20 or 2"):
        build_spec("p", SEQ, [2], q=4)


def test_site_on_a_nonstandard_residue_is_refused():
    with pytest.raises(PlmscopeError, match="site 3 holds 'X'"):
        build_spec("p", "MKXA", [3], q=20)


def test_fingerprint_tracks_everything_that_changes_the_landscape():
    base = build_spec("p", SEQ, [2, 5], q=20)
    fp = base.fingerprint(model="m", score="pll_unmasked")
    assert fp == build_spec("renamed", SEQ, [2, 5], q=20).fingerprint(model="m", score="pll_unmasked")
    others = {
        build_spec("p", SEQ, [5, 2], q=20).fingerprint(model="m", score="pll_unmasked"),
        build_spec("p", SEQ, [2, 6], q=20).fingerprint(model="m", score="pll_unmasked"),
        build_spec("p", SEQ[:-1] + "A", [2, 5], q=20).fingerprint(model="m", score="pll_unmasked"),
        build_spec("p", SEQ, "K2A Y5G", q=2).fingerprint(model="m", score="pll_unmasked"),
        build_spec("p", SEQ, "K2A Y5C", q=2).fingerprint(model="m", score="pll_unmasked"),
        base.fingerprint(model="m2", score="pll_unmasked"),
        base.fingerprint(model="m", score="pll_masked"),
    }
    assert fp not in others and len(others) == 7


def test_spec_validates_direct_construction():
    with pytest.raises(PlmscopeError, match="q must be 20"):
        LandscapeSpec("p", SEQ, (1,), q=3)
    with pytest.raises(PlmscopeError, match="sites must be distinct"):
        LandscapeSpec("p", SEQ, (1, 1), q=20)


def test_protein_sources(tmp_path):
    assert load_protein({"id": "x", "sequence": "mkt a"}) == ("x", "MKTA")
    fasta = tmp_path / "two.fasta"
    fasta.write_text(">a desc\nMKTA\n>b\nGGHH\n")
    assert load_protein({"fasta": str(fasta), "id": "b"}) == ("b", "GGHH")
    with pytest.raises(PlmscopeError, match="holds 2 records; set protein.id"):
        load_protein({"fasta": str(fasta)})
    with pytest.raises(PlmscopeError, match="no record with id 'c'"):
        load_protein({"fasta": str(fasta), "id": "c"})
    table = tmp_path / "p.parquet"
    write_proteins([ProteinRecord(id="t1", sequence="MKV"), ProteinRecord(id="t2", sequence="AAW")], table)
    assert load_protein({"table": str(table), "id": "t2"}) == ("t2", "AAW")
    with pytest.raises(PlmscopeError, match="protein.id: needed"):
        load_protein({"table": str(table)})
    with pytest.raises(PlmscopeError, match="exactly one of"):
        load_protein({"sequence": "MK", "fasta": str(fasta)})
    with pytest.raises(PlmscopeError, match="unknown entries \\['seq'\\]"):
        load_protein({"seq": "MK"})
    with pytest.raises(PlmscopeError, match="unknown residue 'J' at position 2"):
        load_protein({"sequence": "MJ"})
