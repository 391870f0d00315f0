"""i2cr: multimodal entity linking as a LangGraph workflow following I2CR (ACM MM 2025)."""

from i2cr.context import Context
from i2cr.graph import build_graph, graph

__all__ = ["Context", "build_graph", "graph"]
