"""The public API is each module's ``__all__``: the CLI imports nothing else, and the reference checker works."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))
import api  # noqa: E402  (docs/api.py: the API reference build and its checks)


def private_imports(folder: Path, package: str) -> list[str]:
    """``file:line name`` for every name imported from a sparsetopo module that is not in that module's ``__all__``."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or node.level == 0 and not (node.module or "").startswith("sparsetopo"):
                continue
            if node.level:
                base = package.split(".")
                if path.name != "__init__.py" or path.parent != folder:
                    base = base + list(path.parent.relative_to(folder).parts)
                base = base[: len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            module = importlib.import_module(source)
            exported = set(getattr(module, "__all__", []))
            for alias in node.names:
                is_module = importlib.util.find_spec(f"{source}.{alias.name}") is not None if hasattr(module, "__path__") else False
                if alias.name not in exported and not is_module:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {source}.{alias.name}")
    return found


def test_the_command_line_imports_only_public_names():
    assert private_imports(ROOT / "sparsetopo" / "cli", "sparsetopo.cli") == []


def test_the_private_import_check_finds_a_private_name(tmp_path, monkeypatch):
    folder = tmp_path / "sparsetopo_probe"
    folder.mkdir()
    (folder / "uses.py").write_text("from sparsetopo.store.runs import _train_quietly, train\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert private_imports(folder, "sparsetopo_probe") == ["sparsetopo_probe/uses.py:1 sparsetopo.store.runs._train_quietly"]


@pytest.fixture
def probe_module(tmp_path, monkeypatch):
    (tmp_path / "apiprobe.py").write_text(
        '"""A module."""\n'
        '__all__ = ["documented", "bare", "Thing", "LIMIT", "missing"]\n'
        'LIMIT = 3\n'
        'def documented(x: int) -> int:\n    """Doc."""\n    return x\n'
        'def bare(x):\n    return x\n'
        'class Thing:\n    """Doc."""\n    def method(self) -> None:\n        pass\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "apiprobe"
    sys.modules.pop("apiprobe", None)


def test_the_reference_check_names_every_undocumented_or_unannotated_public_name(probe_module):
    with pytest.warns(UserWarning, match="'missing' in apiprobe.__all__, but it does not resolve"):
        problems = api.undocumented([probe_module])
    assert problems == [
        "apiprobe.LIMIT: no docstring",
        "apiprobe.Thing.method: no docstring",
        "apiprobe.bare: no docstring",
        "apiprobe.missing: listed in __all__ but not defined",
    ]
    assert api.unannotated([probe_module]) == ["apiprobe.bare(x): no type hint", "apiprobe.bare: no return type hint"]


def test_the_reference_covers_the_library_and_leaves_the_study_out():
    modules = api.public_modules()
    assert {"sparsetopo", "sparsetopo.nnstd.distance", "sparsetopo.store.inventory", "sparsetopo.cli.main"} <= set(modules)
    assert not [m for m in modules if m.startswith("sparsetopo.study") or "._" in m]
