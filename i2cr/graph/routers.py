"""Conditional edges: the ICR re-selection loop and the IAV -> VIF rounds.

Every route to more work (a selector call, a check, a clue tool) first checks the run's time
budget; finalizing is never refused, so a run that has its answer keeps it.
"""

from __future__ import annotations

from typing import Literal, TypeVar

from langgraph.runtime import Runtime

from i2cr.context import Context
from i2cr.nodes.common import (
    check_time_budget,
    current_attempt,
    remaining_clue_tools,
    settings,
)
from i2cr.state import State

Route = TypeVar("Route", bound=str)


def _within_budget(route: Route, state: State, context: Context) -> Route:
    """The route, once the time budget allows another step (see `check_time_budget`)."""
    if route != "finalize":
        check_time_budget(state, context)
    return route


def _after_check(state: State, context: Context) -> Literal["vif", "finalize"]:
    """A round whose answer failed a check goes to VIF while clue tools remain."""
    if context.use_vif and remaining_clue_tools(state, context):
        return "vif"
    return "finalize"


def after_retrieve(state: State, runtime: Runtime[Context]) -> Literal["select", "finalize"]:
    """The ranker's NIL rule answered (a NIL try): finalize; otherwise the selector's turn."""
    route: Literal["select", "finalize"] = "finalize" if state.attempts else "select"
    return _within_budget(route, state, settings(runtime))


def after_select(state: State, runtime: Runtime[Context]) -> Literal["icr", "iav", "finalize"]:
    """NIL ends the run; otherwise the first enabled check runs."""
    context = settings(runtime)
    route: Literal["icr", "iav", "finalize"] = "finalize"
    if current_attempt(state)["decision"] != "nil":
        if context.use_icr:
            route = "icr"
        elif context.use_iav:
            route = "iav"
    return _within_budget(route, state, context)


def after_icr(
    state: State, runtime: Runtime[Context]
) -> Literal["select", "iav", "vif", "finalize"]:
    """ICR failed with re-selections left: select again; else verify with IAV."""
    context = settings(runtime)
    decision = current_attempt(state)["decision"]
    route: Literal["select", "iav", "vif", "finalize"]
    if decision == "icr_fail":
        route = "select"
    elif decision == "icr_nil":
        route = "finalize"
    elif context.use_iav:
        route = "iav"
    else:
        route = "finalize" if decision == "icr_pass" else _after_check(state, context)
    return _within_budget(route, state, context)


def after_iav(state: State, runtime: Runtime[Context]) -> Literal["vif", "finalize"]:
    """IAV passed (or could not run): done; failed: the next visual clue."""
    context = settings(runtime)
    if current_attempt(state)["decision"] != "iav_fail":
        return "finalize"
    return _within_budget(_after_check(state, context), state, context)


def after_vif(state: State, runtime: Runtime[Context]) -> Literal["select", "finalize"]:
    """A clue was produced: a new round of TES; every tool spent: finalize."""
    route: Literal["select", "finalize"] = "select" if state.clue_tool else "finalize"
    return _within_budget(route, state, settings(runtime))
