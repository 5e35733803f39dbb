"""The library's shape: modules readable top to bottom, no private imports across modules, one
meaning per public name."""
from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import kvlib

ROOT = Path(__file__).resolve().parent.parent / "kvlib"
MAX_LINES = 450
MODULES = sorted(p for p in ROOT.rglob("*.py") if "__pycache__" not in p.parts)


def _doc(path: Path) -> str:
    return ast.get_docstring(ast.parse(path.read_text())) or ""


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(ROOT)) for p in MODULES])
def test_modules_are_short_or_say_why(path):
    n = len(path.read_text().splitlines())
    if n > MAX_LINES and "longer than 450 lines" not in _doc(path).lower():
        pytest.fail(f"{path.relative_to(ROOT)} has {n} lines; split it by idea, or say at its top "
                    f"why it is longer than 450 lines", pytrace=False)


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(ROOT)) for p in MODULES])
def test_no_module_imports_another_modules_private_names(path):
    tree = ast.parse(path.read_text())
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kvlib"):
            for alias in node.names:
                if alias.name.startswith("_") and node.module != "kvlib":
                    bad.append(f"{node.module}.{alias.name}")
                if node.module == "kvlib" and alias.name.startswith("_") and alias.name != "_checks":
                    bad.append(f"kvlib.{alias.name}")
    assert not bad, f"{path.relative_to(ROOT)} imports private names: {', '.join(bad)}"


def test_a_public_name_means_one_thing():
    owners: dict[str, list[tuple[str, object]]] = {}
    for info in pkgutil.walk_packages(kvlib.__path__, "kvlib."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        mod = importlib.import_module(info.name)
        for name in getattr(mod, "__all__", []):
            owners.setdefault(name, []).append((info.name, getattr(mod, name, None)))
    clashes = {name: [m for m, _ in mods] for name, mods in owners.items()
               if len({id(obj) for _, obj in mods}) > 1}
    assert not clashes, "public names defined twice with different meanings: " + "; ".join(
        f"{n} in {', '.join(ms)}" for n, ms in sorted(clashes.items()))
