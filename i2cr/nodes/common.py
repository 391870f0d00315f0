"""Small helpers the nodes and routers share."""

from __future__ import annotations

import time

from langgraph.runtime import Runtime

from i2cr.context import Context
from i2cr.errors import TimeBudgetError
from i2cr.serving import run_settings
from i2cr.state import Attempt, State
from i2cr.texts import entity_text as entity_text  # re-exported for its other callers


def settings(runtime: Runtime[Context]) -> Context:
    """The run's context, or the defaults (with environment overrides) when none was given.

    In a run a server's client started, operator settings it tried to change are refused.
    """
    return run_settings(runtime)


def current_attempt(state: State) -> Attempt:
    """The try under check in the current round."""
    for attempt in state.attempts:
        if attempt["round"] == state.round and attempt["try_index"] == state.checking:
            return attempt
    raise LookupError(f"no try {state.checking} in round {state.round}")


def round_attempts(state: State) -> list[Attempt]:
    """The tries of the current round."""
    return [a for a in state.attempts if a["round"] == state.round]


def first_open_candidate(state: State) -> int:
    """The first stage's best candidate not yet excluded (candidates are in its order)."""
    return next(i for i in range(len(state.candidates)) if i not in state.excluded)


def remaining_clue_tools(state: State, context: Context) -> list[str]:
    """The VIF tools in order that no round has tried yet."""
    tried = {step["tool"] for step in state.clue_steps}
    return [tool for tool in context.clue_tool_order if tool not in tried]


def check_time_budget(state: State, context: Context) -> None:
    """Raise TimeBudgetError when the run has spent more than `max_seconds_per_mention`.

    The routers call it after every step, so an over-long run, whether or not its client still
    waits for it, ends before its next selector call, check or clue tool.
    """
    budget = context.max_seconds_per_mention
    if budget <= 0 or not state.started_at:
        return
    spent = time.time() - state.started_at
    if spent > budget:
        raise TimeBudgetError(
            f"the mention's run took {spent:.1f} s, over max_seconds_per_mention={budget:g} "
            f"(I2CR_MAX_SECONDS_PER_MENTION): stopped after {len(state.attempts)} selector "
            f"calls in round {state.round}"
        )
