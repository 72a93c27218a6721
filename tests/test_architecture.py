"""The one-way layers of issue 13, checked on the code as it is.

Tools: `import-linter` (the contracts in pyproject.toml's `[tool.importlinter]`) and `grimp`, the
import-graph library import-linter is built on, for the folder-level cycle check.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("headway_assets", "headway_api")


def _ignored_imports() -> set[tuple[str, str]]:
    """(importer, imported) pairs the layers contract ignores: the only allowed exceptions here too."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pairs: set[tuple[str, str]] = set()
    for contract in config["tool"]["importlinter"]["contracts"]:
        for line in contract.get("ignore_imports", []):
            importer, imported = (part.strip() for part in line.split("->"))
            pairs.add((importer, imported))
    return pairs


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    """The import graph of both product packages (grimp)."""
    return grimp.build_graph(*PACKAGES)


def test_import_linter_contracts_are_kept() -> None:
    """`lint-imports` (import-linter) passes: every layer and forbidden contract in pyproject.toml holds."""
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=240, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_package_folder_is_a_regular_package() -> None:
    """grimp (so import-linter) sees only folders with an `__init__.py`; one without escapes the contracts."""
    missing = [
        str(folder.relative_to(ROOT))
        for package in PACKAGES
        for folder in (ROOT / package).rglob("*")
        if folder.is_dir() and folder.name != "__pycache__" and any(folder.glob("*.py"))
        if not (folder / "__init__.py").exists()
    ]
    assert missing == []


def test_no_import_cycle_between_the_folders_of_headway_assets(graph: grimp.ImportGraph) -> None:
    """Squashed to its top-level folders (rooms), headway_assets' import graph has no cycle (grimp)."""
    ignored = _ignored_imports()
    rooms = sorted(graph.find_children("headway_assets"))
    edges: dict[str, set[str]] = {room: set() for room in rooms}
    for importer in graph.modules:
        source = _room(importer, rooms)
        if source is None:
            continue
        for imported in graph.find_modules_directly_imported_by(importer):
            target = _room(imported, rooms)
            if target is not None and target != source and (importer, imported) not in ignored:
                edges[source].add(target)
    cycles = [f"{a} <-> {b}" for a in rooms for b in edges[a] if a < b and a in edges[b]]
    assert cycles == [], "direct two-room circles"
    assert _find_cycle(edges) is None


def _room(module: str, rooms: list[str]) -> str | None:
    """The top-level folder (or module) of headway_assets that `module` belongs to."""
    for room in rooms:
        if module == room or module.startswith(room + "."):
            return room
    return None


def _find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph `edges` as a path of nodes, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_among_the_children_of_any_package(graph: grimp.ImportGraph) -> None:
    """At every depth of both packages, the modules and subpackages of one package import each other
    without a circle (each child squashed with what it contains; grimp)."""
    ignored = _ignored_imports()
    parents = sorted({module.rsplit(".", 1)[0] for module in graph.modules if "." in module})
    circles: dict[str, list[str]] = {}
    for parent in parents:
        children = sorted(graph.find_children(parent))
        if len(children) < 2:
            continue
        edges: dict[str, set[str]] = {child: set() for child in children}
        for importer in graph.find_descendants(parent):
            source = _room(importer, children)
            if source is None:
                continue
            for imported in graph.find_modules_directly_imported_by(importer):
                target = _room(imported, children)
                if target is not None and target != source and (importer, imported) not in ignored:
                    edges[source].add(target)
        if (cycle := _find_cycle(edges)) is not None:
            circles[parent] = cycle
    assert circles == {}


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The search above is not vacuous: it reports a three-room circle."""
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_api_imports_only_the_kernel_and_the_sources(graph: grimp.ImportGraph) -> None:
    """Every headway_assets module headway_api imports is in core or sources (grimp), whatever rooms are added later."""
    allowed = ("headway_assets.core", "headway_assets.sources")
    reached = {
        (importer, imported)
        for importer in graph.find_descendants("headway_api") | {"headway_api"}
        for imported in graph.find_modules_directly_imported_by(importer)
        if imported.startswith("headway_assets")
    }
    assert reached, "the probe found no import of headway_assets at all"
    outside = sorted(
        (importer, imported)
        for importer, imported in reached
        if not any(imported == room or imported.startswith(room + ".") for room in allowed)
    )
    assert outside == []


@pytest.mark.parametrize(
    ("room", "allowed"),
    [
        ("headway_assets.core", ("headway_assets.core",)),
        ("headway_assets.sources", ("headway_assets.core", "headway_assets.sources")),
    ],
)
def test_the_bottom_rooms_import_nothing_above_them(
    graph: grimp.ImportGraph, room: str, allowed: tuple[str, ...]
) -> None:
    """The kernel reaches only itself, the sources only themselves and the kernel (grimp), whatever rooms are added."""
    outside = sorted(
        (importer, imported)
        for importer in graph.find_descendants(room) | {room}
        for imported in graph.find_modules_directly_imported_by(importer)
        if imported.startswith(("headway_assets", "headway_api"))
        and not any(imported == ok or imported.startswith(ok + ".") for ok in allowed)
    )
    assert outside == []


def test_importing_the_api_loads_no_dagster_and_no_export_parser() -> None:
    """A fresh interpreter importing `headway_api.main` loads no dagster module and no export reader."""
    probe = "import json, sys\nimport headway_api.main\nprint(json.dumps(sorted(sys.modules)))\n"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert "headway_api.main" in loaded
    dagster = [name for name in loaded if name == "dagster" or name.startswith("dagster.")]
    exports = [
        name
        for name in loaded
        if name.startswith("headway_assets.sources.")
        and (name.endswith(".export") or name.startswith("headway_assets.sources.exports"))
    ]
    assert dagster == []
    assert exports == []


def test_the_api_commands_reach_the_cli_through_the_entry_point_group() -> None:
    """headway_api registers `users` and `tokens` under `headway.commands`; the CLI imports no headway_api."""
    from importlib.metadata import entry_points

    from headway_assets.cli import COMMANDS_GROUP, build_parser

    targets = {point.value for point in entry_points(group=COMMANDS_GROUP)}
    assert "headway_api.commands:register_commands" in targets
    help_text = build_parser().format_help()
    assert "users" in help_text
    assert "tokens" in help_text
