"""The per-rule conda envs hold dependencies only and cover every third-party module their rules' verbs import."""

from __future__ import annotations

import ast
import inspect
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml

from plmscope.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
RULES = sorted((REPO / "workflow/rules").glob("*.smk"))

LAZY_ONLY: dict[str, dict[str, str]] = {
    "analysis.yaml": {
        "torch": "reached only through analysis.semantics.sample_indices -> data.sampling (the provis draw of "
        "`prepare`, in data.yaml); no analysis verb calls it",
    },
}
"""Distributions the static import closure reaches but a rule's verb never imports, per env, with the reason."""


def _module_file(name: str) -> Path | None:
    path = SRC / Path(*name.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return path.with_suffix(".py") if path.with_suffix(".py").is_file() else None


def _imports(path: Path, module: str) -> set[str]:
    """Every module named by an import anywhere in a file (function-level imports included)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}
    return names


def third_party_imports(module: str) -> set[str]:
    """Top-level third-party modules imported by ``module`` and every plmscope module it imports, transitively."""
    seen, found, todo = set(), set(), [module]
    while todo:
        name = todo.pop()
        if name in seen or _module_file(name) is None:
            continue
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        for imported in _imports(_module_file(name), name):
            top = imported.split(".")[0]
            if top == "plmscope":
                todo.append(imported)
            elif top and top not in sys.stdlib_module_names and top != "__future__":
                found.add(top)
    return found


def verb_modules() -> dict[str, str]:
    """CLI verb -> the ``plmscope.runs`` module its ``run_*`` imports."""
    parser = build_parser()
    choices = next(a for a in parser._actions if a.dest == "verb").choices
    out = {}
    for verb, sub in choices.items():
        source = inspect.getsource(sub.get_default("func"))
        found = re.search(r"from (plmscope\.runs(?:\.\w+)?) import (\w+)", source)
        if found is None:
            out[verb] = "plmscope.cli"
        else:
            out[verb] = found.group(1) if found.group(1) != "plmscope.runs" else f"plmscope.runs.{found.group(2)}"
    return out


def rule_envs_and_verbs() -> list[tuple[str, str, str]]:
    """(rule, env file name, verb) of every rule with a conda env that calls plmscope."""
    out = []
    for path in RULES:
        text = path.read_text(encoding="utf-8")
        for block in re.split(r"\n(?=(?:use )?rule )", text):
            rule = re.match(r"(?:use )?rule (\w+)", block)
            env = re.search(r'conda:\s*\n\s*"[./]*envs/([\w.]+)"', block)
            verb = re.search(r"\{params\.plmscope:q\}\s+(?:--log \{log:q\}\s+)?([a-z][a-z-]*)", block)
            if rule and env and verb:
                out.append((rule.group(1), env.group(1), verb.group(1)))
    return out


def env_distributions(env: str) -> set[str]:
    """Normalised names of the pip (and conda) dependencies of an env file."""
    spec = yaml.safe_load((REPO / "envs" / env).read_text())
    names = []
    for dep in spec["dependencies"]:
        names += dep["pip"] if isinstance(dep, dict) else [dep]
    return {_normalise(re.split(r"[=<>\[ ]", str(name).strip())[0]) for name in names}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.mark.parametrize("env", sorted(p.name for p in (REPO / "envs").glob("*.yaml")))
def test_envs_hold_dependencies_only(env):
    text = (REPO / "envs" / env).read_text()
    assert not re.search(r"^\s*-\s*-e\b|^\s*-\s*\.\.?/?", text, re.M), "an env installs a path (not the project once copied)"
    spec = yaml.safe_load(text)
    pins = [d for dep in spec["dependencies"] if isinstance(dep, dict) for d in dep["pip"]]
    assert pins and all("==" in p for p in pins), pins
    lock = {_normalise(line.split("==")[0]): line.split("==")[1].split()[0]
            for line in (REPO / "requirements.lock").read_text().splitlines() if "==" in line and not line.startswith("#")}  # fmt: skip
    for pin in pins:
        name, version = pin.split("#")[0].strip().split("==")
        assert lock.get(_normalise(name)) == version.strip(), f"{env}: {pin} differs from requirements.lock"


def test_every_rule_env_covers_the_modules_its_verb_imports():
    modules = verb_modules()
    distributions = packages_distributions()
    checked = rule_envs_and_verbs()
    assert {"attention_extract", "enrichment_compute", "data_prepare", "analysis_paper"} <= {r for r, _, _ in checked}
    problems = []
    for rule, env, verb in checked:
        have = env_distributions(env)
        for top in sorted(third_party_imports(modules[verb])):
            dist = _normalise(distributions.get(top, [top])[0])
            if dist not in have and top not in LAZY_ONLY.get(env, {}):
                problems.append(f"rule {rule} ({verb}, envs/{env}) imports {top} ({dist}), not in the env")
    assert not problems, "\n".join(problems)


def test_conda_runs_use_the_workflows_own_source():
    common = (REPO / "workflow/rules/common.smk").read_text()
    assert '"env", f"PYTHONPATH={Path(workflow.basedir, \'src\')}", "python", "-m", "plmscope.cli"' in common
    assert "__main__" in (SRC / "plmscope/cli.py").read_text()
