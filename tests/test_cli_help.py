"""The command line a user can learn: verb descriptions, defaults and an example in each help, --version, close names."""

from __future__ import annotations

import pytest

from plmscope import __version__
from plmscope.cli import EXAMPLES, build_parser, main
from plmscope.errors import PlmscopeError
from plmscope.models.known import KNOWN_MODELS
from plmscope.models.resolve import close_model_names, resolve_model


def _verbs():
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "verb")
    return parser, action


def test_top_level_help_lists_every_verb_with_a_description(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    _, action = _verbs()
    described = {choice.dest for choice in action._choices_actions if choice.help}
    assert described == set(action.choices)
    for verb in action.choices:
        assert f"    {verb} " in out or f"    {verb}\n" in out


@pytest.mark.parametrize("verb", sorted(_verbs()[1].choices))
def test_each_verb_help_has_a_description_defaults_and_an_example(verb, capsys):
    with pytest.raises(SystemExit):
        main([verb, "--help"])
    out = capsys.readouterr().out
    flat = " ".join(out.split())
    parser = _verbs()[1].choices[verb]
    assert parser.description and " ".join(parser.description.split()) in flat
    assert f"example:\n  {EXAMPLES[verb]}" in out and EXAMPLES[verb].startswith(f"plmscope {verb}")
    for action in parser._actions:
        if action.option_strings and action.default not in (None, False, "==SUPPRESS==") and action.help != "==SUPPRESS==":
            assert f"default: {action.default}" in flat, f"{verb} {action.option_strings[-1]} help should show its default"


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"plmscope {__version__}"


@pytest.mark.parametrize(("typo", "expected"), [("antibert", "antiberty"), ("esm2_t6_8M", "facebook/esm2_t6_8M_UR50D"),
                                                ("Rostlab/protbert", "Rostlab/prot_bert"), ("tape-bert", "tape_bert")])
def test_close_names_of_a_misspelled_model(typo, expected):
    assert close_model_names(typo)[0] == expected
    assert set(close_model_names(typo)) <= set(KNOWN_MODELS)


def test_unknown_model_is_one_line_naming_the_closest_known_names(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PlmscopeError) as info:
        resolve_model("antibert")
    message = str(info.value)
    assert "\n" not in message and "did you mean 'antiberty'" in message and "plmscope models" in message
    with pytest.raises(PlmscopeError, match="did you mean 'Rostlab/prot_bert'"):
        resolve_model("Rostlab/protbert")  # a hub id: reported offline, with the suggestion
    assert close_model_names("completely-unrelated-name-xyz") == []


def test_prepare_refuses_a_csv_output_in_one_line(tmp_path, capsys):
    assert main(["prepare", "--format", "table", str(tmp_path / "in.parquet"), "-o", str(tmp_path / "x.csv")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Parquet" in err and "x.csv" in err
    assert not (tmp_path / "x.csv").exists()
