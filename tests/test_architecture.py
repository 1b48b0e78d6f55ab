"""The layer rules of ARCHITECTURE.md, checked on the import statements of src/plmscope (with ast)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "plmscope"

BASE = {"errors", "io", "options", "outputs", "progress", "schemas"}
"""Bottom modules every layer may use (errors, atomic writes, options, output directories, output schemas)."""

ALLOWED: dict[str, set[str]] = {
    "data": BASE,
    "models": BASE | {"data"},
    "attention": BASE | {"data", "models"},
    "analysis": BASE | {"data", "attention"},
    "fourier": BASE | {"data"},
    "viz": BASE | {"data", "attention", "analysis", "fourier"},
    "runs": BASE | {"data", "models", "attention", "analysis", "fourier", "viz"},
}
"""Layer -> the plmscope packages and modules it may import (besides itself)."""

EXCEPTIONS: dict[tuple[str, str], str] = {
    ("models/inference.py", "plmscope.attention.windows"): "window planning is pure index arithmetic (numpy only), "
    "needed by the batch planner to cut long sequences",
}
"""Imports that cross the layers on purpose, with the reason."""

NO_TORCH = {"data", "analysis", "fourier", "viz"}
"""Layers that run without torch (pure functions over arrays and tables)."""

TORCH_EXCEPTIONS: dict[str, str] = {
    "analysis/provis_probing.py": "trains the authors' linear probe with torch's AdamW as TAPE does (imported lazily; "
    "it never sees a pLM, only feature arrays)",
    "data/sampling.py": "reproduces provis's torch.manual_seed + torch.randperm sample exactly (imported lazily)",
}
"""Modules of the torch-free layers that may import torch, with the reason (never transformers or models)."""


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            if node.module == "plmscope":  # from plmscope import options
                names += [f"plmscope.{alias.name}" for alias in node.names]
    return names


def _modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(layer):
    bad = []
    for path in _modules(layer):
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] != "plmscope" or len(parts) < 2 or parts[1] in (layer, "__init__", "__version__"):
                continue
            if parts[1] not in ALLOWED[layer] and (str(path.relative_to(PACKAGE)), name) not in EXCEPTIONS:
                bad.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("layer", sorted(NO_TORCH))
def test_pure_layers_never_import_torch_or_models(layer):
    bad = [f"{path.relative_to(PACKAGE)} imports {name}" for path in _modules(layer) for name in _imports(path)
           if name.split(".")[0] == "transformers" or name.startswith("plmscope.models")
           or (name.split(".")[0] == "torch" and str(path.relative_to(PACKAGE)) not in TORCH_EXCEPTIONS)]  # fmt: skip
    assert not bad, "\n".join(bad)


def test_runs_modules_never_import_each_other():
    bad = [f"{path.name} imports {name}" for path in _modules("runs") for name in _imports(path)
           if name.startswith("plmscope.runs")]  # fmt: skip
    assert not bad, "\n".join(bad)


def test_base_modules_import_no_layer():
    for name in BASE:
        path = PACKAGE / f"{name}.py"
        layers = [n for n in _imports(path) if n.startswith("plmscope.") and n.split(".")[1] not in BASE | {"__version__"}]
        assert not layers, f"{name}.py imports {layers}"


def test_run_functions_are_short():
    """Each ``run_*`` reads inputs, calls library functions and writes outputs: no long bodies."""
    long = []
    for path in _modules("runs"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("run_"):
                body = node.body[1:] if ast.get_docstring(node) else node.body
                lines = body[-1].end_lineno - body[0].lineno + 1
                if lines > LONGEST_RUN_BODY:
                    long.append(f"{path.name}:{node.name} body has {lines} lines")
    assert not long, "\n".join(long)


LONGEST_RUN_BODY = 60
"""Lines of code (docstring excluded) a ``run_*`` function may have."""
