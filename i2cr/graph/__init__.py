"""The I2CR StateGraph: retrieve -> TES -> ICR -> IAV -> VIF rounds -> finalize."""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer

from i2cr.context import Context
from i2cr.graph.guard import guarded
from i2cr.graph.routers import after_iav, after_icr, after_retrieve, after_select, after_vif
from i2cr.nodes.finalize import finalize
from i2cr.nodes.iav import iav
from i2cr.nodes.icr import icr
from i2cr.nodes.retrieve import retrieve
from i2cr.nodes.select import select
from i2cr.nodes.vif import vif
from i2cr.state import InputState, OutputState, State


def build_graph(
    checkpointer: Checkpointer = None,
) -> CompiledStateGraph[State, Context, InputState, OutputState]:
    """Wire the nodes (each behind the run's guard) and routers, and compile.

    `checkpointer` keeps each thread's state (e.g. langgraph-checkpoint-postgres' PostgresSaver,
    so threads outlive the process); `graph`, the one LangGraph's server loads, has none: the
    server brings its own.
    """
    builder = StateGraph(
        State, context_schema=Context, input_schema=InputState, output_schema=OutputState
    )
    builder.add_node(guarded(retrieve, entry=True))
    builder.add_node(guarded(select))
    builder.add_node(guarded(icr))
    builder.add_node(guarded(iav))
    builder.add_node(guarded(vif))
    builder.add_node(guarded(finalize, final=True))
    builder.add_edge(START, "retrieve")
    builder.add_conditional_edges("retrieve", after_retrieve)
    builder.add_conditional_edges("select", after_select)
    builder.add_conditional_edges("icr", after_icr)
    builder.add_conditional_edges("iav", after_iav)
    builder.add_conditional_edges("vif", after_vif)
    builder.add_edge("finalize", END)
    return builder.compile(checkpointer=checkpointer, name="i2cr")


graph = build_graph()

__all__ = ["build_graph", "graph"]
