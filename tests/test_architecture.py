"""The package's shape: no import cycle, nothing below the graph reaching up into its nodes,
and modules short enough to read."""

from __future__ import annotations

from import_graph import find_cycle, import_graph, package_modules

MOST_LINES = 400
# The graph, its nodes and the package root (which exports the graph) may import the nodes.
ABOVE_NODES = ("i2cr.nodes", "i2cr.graph")


def test_the_package_has_no_import_cycle():
    assert find_cycle(import_graph("i2cr")) is None


def test_nothing_below_the_graph_imports_its_nodes():
    upward = {
        module: sorted(name for name in names if name.startswith("i2cr.nodes"))
        for module, names in import_graph("i2cr").items()
        if module != "i2cr" and not module.startswith(ABOVE_NODES)
    }
    assert {module: names for module, names in upward.items() if names} == {}


def test_no_module_is_over_the_line_limit():
    lines = {
        module: len(path.read_text(encoding="utf-8").splitlines())
        for module, path in package_modules("i2cr").items()
    }
    assert {module: n for module, n in lines.items() if n > MOST_LINES} == {}


def test_the_rankers_sit_below_the_seam_the_graph_calls():
    """`i2cr.ranking` imports the rankers; nothing in `i2cr.rankers` imports it or the graph."""
    graph = import_graph("i2cr")
    upward = {
        module: sorted(
            n for n in names if n.startswith(("i2cr.ranking", "i2cr.nodes", "i2cr.graph"))
        )
        for module, names in graph.items()
        if module.startswith("i2cr.rankers")
    }
    assert {module: names for module, names in upward.items() if names} == {}
    assert "i2cr.rankers" in graph["i2cr.ranking"]
