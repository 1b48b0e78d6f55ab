"""The paper's contact definition (CA-CA < 8 Å, |i - j| >= 6) pinned at every place a default lives:
config.yaml, the rule's shell command (Snakemake dry run), the CLI's argparse defaults and the
library functions. Issue #15: changing 8 to 9 in config.yaml or the CLI passed the whole suite."""

from __future__ import annotations

import argparse
import inspect
import subprocess
import sys
from pathlib import Path

import yaml

from plmscope.cli import build_parser
from plmscope.data import contacts

REPO = Path(__file__).resolve().parents[1]
CUTOFF, MIN_SEPARATION = 8.0, 6


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _defaults(option: str) -> dict[str, object]:
    """``{verb: default}`` of ``option`` for every CLI verb that has it."""
    out = {}
    for verb, sub in _subparsers(build_parser()).items():
        for action in sub._actions:
            if option in action.option_strings:
                out[verb] = action.default
    return out


def test_config_yaml_contact_definition():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    assert config["enrichment"]["contact_cutoff"] == CUTOFF
    assert config["enrichment"]["contact_min_separation"] == MIN_SEPARATION


def test_cli_contact_defaults():
    cutoffs = _defaults("--contact-cutoff")
    assert cutoffs and set(cutoffs.values()) == {CUTOFF}, cutoffs
    separations = _defaults("--contact-min-separation")
    assert separations and set(separations.values()) == {MIN_SEPARATION}, separations


def test_library_contact_defaults():
    for func in (contacts.pair_contacts, contacts.contact_pairs):
        params = inspect.signature(func).parameters
        assert params["cutoff"].default == CUTOFF, func.__name__
        assert params["min_separation"].default == MIN_SEPARATION, func.__name__


def test_enrichment_rule_passes_the_config_contact_definition():
    """`snakemake -n -p` prints the shell command enrichment_compute would run."""
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "-p", "--forceall", "results/enrichment/antiberty/demo"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    commands = [line for line in result.stdout.splitlines() if " enrichment --attention " in line]
    assert commands, result.stdout[-2000:]
    for command in commands:
        words = command.split()
        assert words[words.index("--contact-cutoff") + 1] == str(CUTOFF), command
        assert words[words.index("--contact-min-separation") + 1] == str(MIN_SEPARATION), command
