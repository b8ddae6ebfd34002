"""The layout's import rules, checked on the source: a service never imports another service,
`shared` imports no service, and tests/ and benchmarks/ never import each other.

Read with `ast`, not by importing, so a lazy import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Each package of the tree: where its source lives and the vosync packages it may import.
PACKAGES: dict[str, tuple[Path, frozenset[str]]] = {
    "shared": (ROOT / "shared/src/vosync/shared", frozenset({"shared"})),
    "poller": (ROOT / "services/poller/src/vosync/poller", frozenset({"shared", "poller"})),
    "writer": (ROOT / "services/writer/src/vosync/writer", frozenset({"shared", "writer"})),
    "api": (ROOT / "services/api/src/vosync/api", frozenset({"shared", "api"})),
    "sim": (ROOT / "services/vos-sim/src/vosync/sim", frozenset({"shared", "sim"})),
    # The launcher starts the services as processes; it never imports their code.
    "deploy": (ROOT / "deploy/src/vosync/deploy", frozenset({"shared", "deploy"})),
}
# Top-level folders that are not packages of the product and must not lean on each other.
SEPARATE_TREES = {"tests": "benchmarks", "benchmarks": "tests"}


def _imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def _vosync_package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "vosync" else None


def _sources(folder: Path) -> list[Path]:
    files = sorted(folder.rglob("*.py"))
    assert files, f"no Python source under {folder}: the layout moved, update PACKAGES"
    return files


def forbidden_imports(package: str) -> list[str]:
    folder, allowed = PACKAGES[package]
    found = []
    for path in _sources(folder):
        for line, module in _imported_modules(path):
            target = _vosync_package(module)
            if target is not None and target not in allowed:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return found


def cross_tree_imports(tree: str) -> list[str]:
    other = SEPARATE_TREES[tree]
    found = []
    for path in _sources(ROOT / tree):
        for line, module in _imported_modules(path):
            if module == other or module.startswith(other + "."):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return found


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_package_imports_only_what_the_layout_allows(package: str) -> None:
    assert forbidden_imports(package) == []


@pytest.mark.parametrize("tree", sorted(SEPARATE_TREES))
def test_tests_and_benchmarks_do_not_import_each_other(tree: str) -> None:
    assert cross_tree_imports(tree) == []


def test_the_check_sees_a_forbidden_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule would catch a writer module that reaches into the api, also inside a function."""
    (tmp_path / "leak.py").write_text("def f():\n    from vosync.api.lib import hot_cache\n")
    monkeypatch.setitem(PACKAGES, "writer", (tmp_path, frozenset({"shared", "writer"})))
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert forbidden_imports("writer") == ["leak.py:2 imports vosync.api.lib"]
