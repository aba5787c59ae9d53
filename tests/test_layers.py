"""The house keeps its shape: imports run one way, and no module or class outgrows its seams.

Layers, bottom to top: text utilities (``zhtext``), ``intents``, ``retrieval``, the core in
``bot/``, the channels and the web console, the command line. A module may import its own layer
and those below it, never one above: the way a question travels is visible in the tree.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("zhtext", "intents", "retrieval", "bot")
LAYERS = (  # (layer, module prefixes), bottom first; the first prefix that matches decides
    ("text", ("zhtext",)),
    ("intents", ("intents",)),
    ("retrieval", ("retrieval",)),
    ("cli", ("bot.cli",)),
    ("channels", ("bot.channels", "bot.console")),
    ("core", ("bot",)),
)
ORDER = ("text", "intents", "retrieval", "core", "channels", "cli")
MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 250


def _layer(module: str) -> str:
    for layer, prefixes in LAYERS:
        if any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes):
            return layer
    raise AssertionError(f"{module} belongs to no layer")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(module: str, path: Path) -> set[str]:
    """Every project module this one imports, at the top or inside a function."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                names.add(node.module)
    return {name for name in names if name.split(".")[0] in PACKAGES}


def test_every_module_belongs_to_a_layer() -> None:
    modules = _modules()
    assert "bot.dialogue" in modules and "retrieval.search" in modules
    for module in modules:
        assert _layer(module) in ORDER


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = []
    for module, path in _modules().items():
        rank = ORDER.index(_layer(module))
        for imported in _imports(module, path):
            if ORDER.index(_layer(imported)) > rank:
                upward.append(f"{module} ({_layer(module)}) imports {imported}")
    assert not upward, "\n".join(upward)


def test_the_layer_check_sees_an_upward_import() -> None:
    """The check itself: a retrieval module importing the core is caught."""
    assert ORDER.index(_layer("bot.dialogue")) > ORDER.index(_layer("retrieval.search"))
    assert _layer("bot.cli.answer") == "cli" and _layer("bot.channels.telegram") == "channels"


@pytest.mark.parametrize("limit", [MAX_MODULE_LINES])
def test_no_module_is_over_the_limit(limit: int) -> None:
    long = {
        module: count
        for module, path in _modules().items()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > limit
    }
    assert not long, long


def test_no_class_is_over_the_limit() -> None:
    long = {}
    for module, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                length = node.end_lineno - node.lineno + 1
                if length > MAX_CLASS_LINES:
                    long[f"{module}.{node.name}"] = length
    assert not long, long
