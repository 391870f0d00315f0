"""Small helpers the nodes and routers share."""

from __future__ import annotations

from langgraph.runtime import Runtime

from i2cr.context import Context
from i2cr.runs import this_run
from i2cr.state import Attempt, Candidate, State


def settings_of(runtime: Runtime[Context]) -> Context:
    """The run's context, or the defaults (with environment overrides) when none was given.

    Resolved once per run; in a run a server's client started, operator settings it tried to
    change are refused.
    """
    return this_run(runtime).settings


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


def remaining_clue_tools(state: State, settings: Context) -> list[str]:
    """The VIF tools in order that no round has tried yet."""
    tried = {step["tool"] for step in state.clue_steps}
    return [tool for tool in settings.clue_tool_order if tool not in tried]


def first_stage_try(candidates: list[Candidate], *, nil: bool) -> Attempt:
    """The try the first stage answers alone: NIL by its rule, or its confident best."""
    return Attempt(
        round=0,
        try_index=0,
        clue_tool=None,
        selected=None if nil else 0,
        entity=None if nil else candidates[0]["name"],
        raw_answer="",
        match="nil" if nil else "ranker",
        resolved_by="ranker",
        cached=False,
        seconds=0.0,
        icr_score=None,
        icr_passed=None,
        iav_score=None,
        iav_passed=None,
        iav_method=None,
        decision="ranker_nil" if nil else "ranker_confident",
    )
