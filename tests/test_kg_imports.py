"""The KG package's imports: no cycle, and nothing from the graph's nodes."""

from __future__ import annotations

import sys

from import_graph import find_cycle, import_graph


def test_the_kg_package_has_no_import_cycle():
    assert find_cycle(import_graph("i2cr.kg")) is None


def test_nothing_in_the_kg_package_imports_the_nodes():
    graph = import_graph("i2cr.kg")
    from_nodes = {
        module: sorted(name for name in names if name.split(".")[:2] == ["i2cr", "nodes"])
        for module, names in graph.items()
    }
    assert {module: names for module, names in from_nodes.items() if names} == {}


def test_a_cycle_through_a_lazy_import_is_found(tmp_path, monkeypatch):
    package = tmp_path / "cyclic"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from .low import x\n")
    (package / "sub" / "low.py").write_text("from cyclic import top\nx = 1\n")
    (package / "top.py").write_text("def opened():\n    from cyclic.sub import low\n")
    (package / "leaf.py").write_text("import json\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "cyclic", raising=False)
    graph = import_graph("cyclic")
    assert graph["cyclic.sub"] == {"cyclic.sub.low"}
    assert graph["cyclic.leaf"] == {"json"}
    assert find_cycle(graph) == ["cyclic.sub.low", "cyclic.top", "cyclic.sub.low"]
