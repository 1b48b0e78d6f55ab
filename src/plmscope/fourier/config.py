"""Reading an epistasis landscape config: a mapping, inline JSON, or a YAML/JSON file; validated by the schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from plmscope.errors import PlmscopeError, located
from plmscope.options import validate_landscape


def load_config(source: str | Path | Mapping[str, Any], *, landscape: str | None = None) -> tuple[str, dict[str, Any]]:
    """Read a landscape config from a mapping, a JSON string, or a YAML/JSON file.

    A file (or mapping) may hold the whole workflow config (``epistasis: landscapes: {name: ...}``
    and ``epistasis: paper: {name: ...}``), a ``{name: landscape}`` mapping, or one landscape;
    ``landscape`` picks an entry by name.

    Returns:
        ``(name, normalised landscape config)``.

    Raises:
        PlmscopeError: unreadable file, unknown landscape name, or an invalid config.
    """
    where: Any = "config"
    if isinstance(source, Mapping):
        data: Any = source
    else:
        text = str(source)
        if text.lstrip().startswith("{"):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as err:
                raise PlmscopeError(f"--spec: not valid JSON ({err.msg} at character {err.pos})") from None
        else:
            import yaml

            where = Path(text)
            if not where.is_file():
                raise located(where, "file not found")
            try:
                data = yaml.safe_load(where.read_text(encoding="utf-8"))
            except yaml.YAMLError as err:
                raise located(where, f"not valid YAML ({' '.join(str(err).split())})") from None
    if not isinstance(data, Mapping):
        raise located(where, "expected a mapping at the top level")
    if "epistasis" in data:  # a workflow config: its landscapes inherit the block's cache_dir
        block = data["epistasis"] or {}
        data = {**((block.get("paper") or {}).get("landscapes") or {}), **(block.get("landscapes") or {})}
        if block.get("cache_dir"):
            inherit = {"cache_dir": block["cache_dir"]}
            data = {k: {**inherit, **v} if isinstance(v, Mapping) else v for k, v in data.items()}
    if "protein" in data or "site_sets" in data:
        name = landscape or "landscape"
        return name, validate_landscape(data, name=name)
    if landscape is None:
        if len(data) != 1:
            names = ", ".join(map(str, data))
            raise located(where, f"holds {len(data)} landscapes ({names}); pick one with --landscape")
        landscape = next(iter(data))
    if landscape not in data:
        raise located(where, f"no landscape named {landscape!r} (known: {', '.join(map(str, data))})")
    return landscape, validate_landscape(data[landscape], name=landscape)
