"""Layer rules of shared/style.md, checked on the source with ast (stdlib only)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from workshops.extensions import db

PACKAGE = Path(__file__).resolve().parent.parent / "workshops"

# Each layer may import only the layers before it (and itself).
ORDER = ["core", "audit", "auth", "resources", "scheduling", "families", "equipment", "sync", "backup",
         "reports"]
READERS = {"printing", "privacy", "help"}
# Not features: the factory, config and extensions, the seed commands and migrations.
OUTSIDE = {"__init__", "config", "extensions", "seed", "migrations"}

FORBIDDEN_IN_SERVICES = {"request", "session", "flash", "redirect", "url_for", "render_template",
                         "render_template_string", "g"}


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "migrations":
            continue
        yield path, relative


def layer_of(relative: Path) -> str:
    return relative.parts[0].removesuffix(".py")


def imported_layers(tree: ast.AST) -> set[str]:
    layers = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
            if node.module == "workshops":
                names = [f"workshops.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "workshops" and len(parts) > 1:
                layers.add(parts[1])
    return layers


def allowed_for(layer: str) -> set[str]:
    if layer in OUTSIDE:
        return set(ORDER) | READERS | OUTSIDE
    if layer in READERS:
        return set(ORDER) | {layer, "extensions"}
    return set(ORDER[: ORDER.index(layer) + 1]) | {"extensions"}


MODULES = list(modules())


@pytest.mark.parametrize("path,relative", MODULES, ids=[str(r) for _, r in MODULES])
def test_imports_follow_the_layer_direction(path, relative):
    layer = layer_of(relative)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    wrong = imported_layers(tree) - allowed_for(layer)
    assert not wrong, f"{relative} ({layer}) imports {sorted(wrong)}"


def test_extensions_import_only_core():
    tree = ast.parse((PACKAGE / "extensions.py").read_text(encoding="utf-8"))
    assert imported_layers(tree) <= {"core"}


@pytest.mark.parametrize("path,relative", MODULES, ids=[str(r) for _, r in MODULES])
def test_no_import_hidden_in_a_function(path, relative):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    hidden = [node.lineno for func in ast.walk(tree)
              if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef)
              for node in ast.walk(func) if isinstance(node, ast.Import | ast.ImportFrom)]
    assert hidden == [], f"{relative}: imports inside functions at lines {hidden}"


# A large feature splits its services and queries by area: registration_services.py...
SERVICE_MODULES = [(p, r) for p, r in MODULES if r.name.endswith(("services.py", "queries.py"))]


@pytest.mark.parametrize("path,relative", SERVICE_MODULES, ids=[str(r) for _, r in SERVICE_MODULES])
def test_services_and_queries_stay_out_of_the_web_layer(path, relative):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "flask":
            used = {alias.name for alias in node.names} & FORBIDDEN_IN_SERVICES
            assert not used, f"{relative} imports {sorted(used)} from flask"
        if isinstance(node, ast.Attribute) and node.attr == "commit":
            pytest.fail(f"{relative}:{node.lineno} commits; services flush, the edge commits")


WRITE_CALLS = {"add", "add_all", "delete", "merge", "bulk_save_objects"}
NON_SERVICE_MODULES = [(p, r) for p, r in MODULES
                       if not r.name.endswith("services.py") and r.parts[0] not in {"core"}]


@pytest.mark.parametrize("path,relative", NON_SERVICE_MODULES,
                         ids=[str(r) for _, r in NON_SERVICE_MODULES])
def test_only_services_write_tables(path, relative):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    writes = [node.lineno for node in ast.walk(tree)
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in WRITE_CALLS]
    assert writes == [], f"{relative} writes rows at lines {writes}: call a service"


def test_models_live_in_their_features_models_module(app):
    for mapper in db.Model.registry.mappers:
        module = mapper.class_.__module__
        assert module.startswith("workshops.") and module.endswith(".models"), module


@pytest.mark.parametrize("path,relative", MODULES, ids=[str(r) for _, r in MODULES])
def test_modules_stay_small(path, relative):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= 400, f"{relative} has {lines} lines; split it by responsibility"
