"""The demo is a room of its own: imports inside it point one way, and product code never enters it."""

from __future__ import annotations

import grimp

DEMO = "headway_assets.demo"
# Code that may use the demo: the command line above everything, and the shared test fakes.
DEMO_USERS = ("headway_assets.cli", "headway_assets.testing")


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph("headway_assets", "headway_api")


def test_demo_has_no_import_cycle() -> None:
    """No two demo modules import each other, directly or through others."""
    graph = _graph()
    modules = sorted(m for m in graph.modules if m.startswith(f"{DEMO}."))
    cycles = [
        (a, b)
        for i, a in enumerate(modules)
        for b in modules[i + 1 :]
        if graph.find_shortest_chain(importer=a, imported=b) and graph.find_shortest_chain(importer=b, imported=a)
    ]
    assert cycles == []


def test_no_product_code_imports_the_demo() -> None:
    """Only the CLI and the test fakes import the demo, and only through its public entry."""
    graph = _graph()
    inside = {DEMO} | {m for m in graph.modules if m.startswith(f"{DEMO}.")}
    wrong = []
    for module in sorted(graph.modules - inside):
        for imported in graph.find_modules_directly_imported_by(module) & inside:
            user = module == DEMO_USERS[0] or module.startswith(DEMO_USERS[1])
            if not user or imported != DEMO:
                wrong.append(f"{module} -> {imported}")
    assert wrong == []
