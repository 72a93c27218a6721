"""The offline model has one public entry: code outside it imports `headway_assets.offline`, never its submodules."""

from __future__ import annotations

import ast
from pathlib import Path

import headway_assets.offline as offline

REPO = Path(__file__).resolve().parents[2]
OFFLINE_DIR = REPO / "headway_assets" / "offline"


def _offline_submodule_imports(path: Path) -> list[str]:
    """Imports in `path` that reach past `headway_assets.offline` into one of its submodules."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("headway_assets.offline.")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith("headway_assets.offline."):
                found.append(node.module)
            elif node.module == "headway_assets.offline":
                # `from headway_assets.offline import tasks` names a submodule, not an export.
                found += [f"{node.module}.{a.name}" for a in node.names if a.name not in offline.__all__]
    return found


def test_only_the_public_entry_is_imported() -> None:
    """Scripts, tests and other packages use `from headway_assets.offline import ...` of exported names."""
    wrong = []
    for folder in ("headway_assets", "headway_api", "scripts", "tests"):
        for path in sorted((REPO / folder).rglob("*.py")):
            relative = path.relative_to(REPO)
            if path.is_relative_to(OFFLINE_DIR):
                continue
            wrong += [f"{relative}: {name}" for name in _offline_submodule_imports(path)]
    assert wrong == []


def test_exports_resolve() -> None:
    """Every exported name exists, so the entry cannot list something it does not provide."""
    assert all(hasattr(offline, name) for name in offline.__all__)
