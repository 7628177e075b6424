"""Data flows one way: ways in -> services and queries -> domain -> extensions.

A module may import modules of its own layer or below, never one above it (CONTRIBUTING.md
has the map). The test reads every module's imports from its source, including imports inside
functions, so a late import cannot hide an upward dependency.
"""
from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"

#: Highest layer first. A module's layer is that of the longest prefix listed here.
LAYERS: dict[str, int] = {
    "app": 5,  # the composition root: create_app wires everything together
    "app.web": 4, "app.api": 4, "app.cli": 4, "app.demo": 4, "app.notify": 4,
    "app.services": 3, "app.queries": 3, "app.disclosure": 3, "app.audit_deep": 3, "app.threads": 3, "app.timeline": 3, "app.backup": 3,
    "app.opendata": 3, "app.statistics": 3,
    "app.documents": 3,
    "app.search": 3,
    "app.services.erasure": 3,
    "app.models": 2, "app.audit": 2, "app.workflow": 2, "app.permissions": 2, "app.roles": 2,
    "app.text": 2, "app.textdiff": 2, "app.errors": 2, "app.transactions": 2, "app.ids": 2, "app.security": 2,
    "app.extensions": 1, "app.config": 1,
}
NAMES = {5: "create_app", 4: "ways in", 3: "services and queries", 2: "domain", 1: "extensions"}


def layer(module: str) -> int:
    """The layer of the longest listed prefix; ``app`` alone is only the package itself, so a new
    module that nobody placed fails here instead of landing in the top layer unchecked."""
    if module == "app":
        return LAYERS["app"]
    parts = module.split(".")
    for end in range(len(parts), 1, -1):
        if ".".join(parts[:end]) in LAYERS:
            return LAYERS[".".join(parts[:end])]
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS in {__file__}")


def module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, source: str | None = None) -> set[str]:
    """The app modules ``path`` imports (``from . import x`` counts as importing ``x``)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source or path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("app")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.split(".")[0] == "app":
                target = node.module
            else:
                continue
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                is_module = (APP.parent / Path(*candidate.split("."))).with_suffix(".py").exists() or \
                    (APP.parent / Path(*candidate.split("."))).is_dir()
                found.add(candidate if is_module else target)
    return found


def test_no_module_imports_one_above_it():
    upward = []
    for path in sorted(APP.rglob("*.py")):
        name = module_name(path)
        if name == "app" or name.startswith("app.migrations"):
            continue  # the composition root; the schema's history (Alembic scripts, run by the CLI)
        layer(name)  # every module is placed
        for target in imports(path):
            if (name, target) == ("app.cli", "app"):
                continue  # the `ratschlag` command is a Flask CLI group bound to create_app, by design
            if layer(target) > layer(name):
                upward.append(f"{name} ({NAMES[layer(name)]}) imports {target} ({NAMES[layer(target)]})")
    assert upward == []


def test_the_check_sees_an_upward_import():
    """The test above can fail: a late import of a service inside a domain function is caught."""
    path = APP / "permissions.py"
    source = path.read_text() + "\n\ndef late():\n    from .services import fire\n    from . import queries\n"
    found = imports(path, source)
    assert {"app.services", "app.queries"} <= found
    assert layer("app.services") > layer("app.permissions") and layer("app.queries") > layer("app.permissions")


def test_a_module_nobody_placed_fails():
    for unplaced in ("app.zz_helper", "app.stats", "app.stats.figures"):
        try:
            layer(unplaced)
        except AssertionError as error:
            assert "belongs to no layer" in str(error)
        else:
            raise AssertionError(f"{unplaced} was given a layer")


def test_permissions_read_no_database_and_no_request():
    """Predicates are pure: the roles come from ``app.roles``, which is the only module that reads them."""
    assert not {t for t in imports(APP / "permissions.py") if t in ("app.extensions", "app.queries", "app.roles")}
    assert "flask" not in (APP / "permissions.py").read_text()
