"""Every `module.name` read from a project module imported under a short name exists.

A view that calls `queries.is_reserved_for` when `queries` is another module's alias only
fails when a user reaches that line (it did, at the handover desk). This reads the source
with ast, imports each aliased module and checks the attribute is there.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(path for folder in ("workshops", "tests") for path in (ROOT / folder).rglob("*.py")
                 if "migrations" not in path.parts)


def _module_aliases(tree: ast.Module) -> dict[str, ModuleType]:
    """Names bound at module level to a project module: `from workshops.x import y [as z]`
    where y is a module, and `import workshops.x.y as z`."""
    aliases = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] in {"workshops", "tests"}:
            for alias in node.names:
                try:
                    module = importlib.import_module(f"{node.module}.{alias.name}")
                except ModuleNotFoundError:
                    continue  # a function or a class, not a module
                aliases[alias.asname or alias.name] = module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname and alias.name.split(".")[0] in {"workshops", "tests"}:
                    aliases[alias.asname] = importlib.import_module(alias.name)
    return aliases


def _rebound(tree: ast.Module) -> set[str]:
    """Names also bound inside functions (parameters, assignments): left out, since the
    attribute may then be read from something else."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(ROOT)) for p in SOURCES])
def test_every_attribute_read_from_a_project_module_exists(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    aliases = _module_aliases(tree)
    for name in _rebound(tree):
        aliases.pop(name, None)
    missing = sorted({f"line {node.lineno}: {node.value.id}.{node.attr}" for node in ast.walk(tree)
                      if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                      and node.value.id in aliases and not hasattr(aliases[node.value.id], node.attr)})
    assert missing == [], f"{path.relative_to(ROOT)} reads names its modules do not define: {missing}"
