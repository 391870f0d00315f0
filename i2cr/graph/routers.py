"""Conditional edges: the ICR re-selection loop and the IAV -> VIF rounds (routing only)."""

from __future__ import annotations

from typing import Literal

from langgraph.runtime import Runtime

from i2cr.context import Context
from i2cr.nodes.common import current_attempt, remaining_clue_tools, settings_of
from i2cr.outcome import FIRST_STAGE_DECISIONS, awaits_clue, fails_round, is_nil, reselects
from i2cr.state import State


def _after_check(state: State, settings: Context) -> Literal["vif", "finalize"]:
    """A round whose answer failed a check goes to VIF while clue tools remain."""
    if settings.use_vif and remaining_clue_tools(state, settings):
        return "vif"
    return "finalize"


def after_retrieve(state: State) -> Literal["select", "finalize"]:
    """The first stage answered alone (its NIL rule, or its gate): finalize; else TES."""
    answered = state.attempts and state.attempts[-1]["decision"] in FIRST_STAGE_DECISIONS
    return "finalize" if answered else "select"


def after_select(state: State, runtime: Runtime[Context]) -> Literal["icr", "iav", "finalize"]:
    """NIL ends the run; otherwise the first enabled check runs."""
    settings = settings_of(runtime)
    route: Literal["icr", "iav", "finalize"] = "finalize"
    if not is_nil(current_attempt(state)):
        if settings.use_icr:
            route = "icr"
        elif settings.use_iav:
            route = "iav"
    return route


def after_icr(
    state: State, runtime: Runtime[Context]
) -> Literal["select", "iav", "vif", "finalize"]:
    """ICR failed with re-selections left: select again; else verify with IAV."""
    settings = settings_of(runtime)
    attempt = current_attempt(state)
    if reselects(attempt):
        return "select"
    if is_nil(attempt):
        return "finalize"
    if settings.use_iav:
        return "iav"
    return _after_check(state, settings) if fails_round(attempt) else "finalize"


def after_iav(state: State, runtime: Runtime[Context]) -> Literal["vif", "finalize"]:
    """A check failed, or IAV had no clue to read: the next visual clue; passed: done."""
    attempt = current_attempt(state)
    if fails_round(attempt) or awaits_clue(attempt):
        return _after_check(state, settings_of(runtime))
    return "finalize"


def after_vif(state: State, runtime: Runtime[Context]) -> Literal["select", "finalize"]:
    """A clue was produced: a new round of TES; every tool spent: finalize."""
    return "select" if state.clue_tool else "finalize"
