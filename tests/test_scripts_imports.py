"""Scripts stand on the package alone: nothing under scripts/ imports the test suite."""

from __future__ import annotations

import ast
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _imported_modules(path: Path) -> list[str]:
    """Every module an `import` or `from ... import` statement in `path` names."""
    modules: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.append(node.module)
    return modules


def test_no_script_imports_tests() -> None:
    """Shared helpers live in headway_assets.testing, so a script never needs `tests`."""
    scripts = sorted(SCRIPTS.rglob("*.py"))
    assert scripts, "no scripts found"
    offenders = [
        f"{path.relative_to(SCRIPTS.parent)}: {module}"
        for path in scripts
        for module in _imported_modules(path)
        if module == "tests" or module.startswith("tests.")
    ]
    assert offenders == []
