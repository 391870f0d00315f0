"""The guard every node runs behind: the run's time budget and the input limits.

A LangGraph client can start a node other than `retrieve` (a run `command` with `goto`) or
write the state a run starts from (a thread state update), so the limits `retrieve` applies
are checked again before every node, on whatever state it was given: a value past them is an
InputError naming the limit, not a slow or huge run. The budget's clock is the run's own
(`i2cr.runs`), not a field of the state.
"""

from __future__ import annotations

import time
from functools import wraps
from typing import Any, Protocol

from langgraph.runtime import Runtime

from i2cr.context import CLUE_TOOLS, Context
from i2cr.errors import InputError, TimeBudgetError
from i2cr.inputs import check_input
from i2cr.runs import run_finished, this_run
from i2cr.serving import is_served
from i2cr.state import State


class Node(Protocol):
    """A graph node: a plain function of (state, runtime) returning a partial update."""

    def __call__(self, state: State, runtime: Runtime[Context]) -> dict[str, Any]: ...  # noqa: D102


# "dense caption: " and the "; " between the texts of an all-in-one clue.
CLUE_LABEL_CHARS = 17


def guarded(node: Node, *, entry: bool = False, final: bool = False) -> Node:
    """`node` behind the guard: the time budget, then the state's limits.

    The `final` node is never refused for time, so a run that has its answer keeps it; the
    `entry` node applies the limits itself.
    """

    @wraps(node)
    def run(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        run = this_run(runtime)
        settings, started = run.settings, run.started
        if not final:
            check_time_budget(state, settings, started)
        if not entry:
            check_state(state, settings, served=is_served(runtime))
        if not final:
            return node(state, runtime)
        try:
            return node(state, runtime)
        finally:
            run_finished(runtime)

    return run


def check_time_budget(state: State, settings: Context, started: float) -> None:
    """Raise TimeBudgetError when the run has spent more than `max_seconds_per_mention`.

    Checked before every step, so an over-long run, whether or not its client still waits for
    it, ends before its next selector call, check or clue tool.
    """
    budget = settings.max_seconds_per_mention
    spent = time.monotonic() - started
    if budget > 0 and spent > budget:
        raise TimeBudgetError(
            f"the mention's run took {spent:.1f} s, over max_seconds_per_mention={budget:g} "
            f"(I2CR_MAX_SECONDS_PER_MENTION): stopped after {len(state.attempts)} selector "
            f"calls in round {state.round}"
        )


def check_state(state: State, settings: Context, *, served: bool) -> None:
    """Raise InputError when the state holds what `retrieve` would not have let through."""
    checked = check_input(state, settings, served=served)
    problems = list(checked.warnings)
    clue_limit = len(CLUE_TOOLS) * (settings.max_clue_chars + CLUE_LABEL_CHARS)
    if not isinstance(state.clue, str) or len(state.clue) > clue_limit:
        problems.append(f"the round's clue is over {clue_limit} characters (max_clue_chars)")
    if state.clue_tool is not None and not set(str(state.clue_tool).split("+")) <= set(CLUE_TOOLS):
        problems.append(f"clue_tool {state.clue_tool!r} names no clue tool")
    if not _indices(state.excluded, len(checked.candidates)):
        problems.append("excluded must list candidate positions")
    if not _count(state.round, len(CLUE_TOOLS)) or not _count(state.checking, None):
        problems.append("round and checking must be counts")
    if not _probabilities(state.confidences, len(checked.candidates)):
        problems.append("confidences must be probabilities, one per candidate")
    if state.image_ok and checked.image is None:
        problems.append("image_ok is set for no usable image")
    if problems:
        raise InputError(
            "the run's state holds input the input check did not pass (a client's run "
            f"command or thread state update?): {'; '.join(problems)}"
        )


def _count(value: object, most: int | None) -> bool:
    if not isinstance(value, int) or isinstance(value, bool):
        return False
    return value >= 0 and (most is None or value <= most)


def _indices(values: object, size: int) -> bool:
    return isinstance(values, list) and all(_count(v, size - 1) for v in values)


def _probabilities(values: object, size: int) -> bool:
    if not isinstance(values, list) or len(values) not in (0, size):
        return False
    return all(
        isinstance(v, float | int) and not isinstance(v, bool) and 0 <= v <= 1 for v in values
    )
