"""TES: the selector LLM picks one candidate (or NIL), with excluded candidates noted."""

from __future__ import annotations

import time
from typing import Any

from langgraph.runtime import Runtime

from i2cr.context import Context
from i2cr.models.chat import ask_selector
from i2cr.nodes.common import first_open_candidate, round_attempts, settings
from i2cr.selection import ParsedAnswer, build_messages, closest_open_candidate, parse_answer
from i2cr.state import Attempt, Decision, State

CACHE_HIT = "cache_hit"


def resolve_unmatched(
    parsed: ParsedAnswer, text: str, state: State, context: Context
) -> tuple[int | None, str | None]:
    """(selected candidate, rule) for a repeated or unparsable answer; as parsed otherwise."""
    if parsed.match not in ("repeated", "unparsable"):
        return parsed.index, None
    rule = context.unmatched_answer
    if rule == "fuzzy":
        return closest_open_candidate(text, state.candidates, set(state.excluded)), rule
    # Without ICR there is no re-selection, so an unnamed answer cannot fail as a try.
    if rule == "ranker" or (parsed.match == "unparsable" and not context.use_icr):
        return first_open_candidate(state), "ranker"
    return parsed.index, rule


def select(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Ask the selector for the best-matched entity and record the try."""
    context = settings(runtime)
    messages = build_messages(
        mention=state.mention,
        context=state.context,
        candidates=state.candidates,
        clue=state.clue,
        excluded=[state.candidates[i]["name"] for i in state.excluded],
        allow_nil=context.allow_nil,
        desc_chars=context.desc_chars,
    )
    started = time.perf_counter()
    reply = ask_selector(context, messages)
    seconds = time.perf_counter() - started
    text = reply.content if isinstance(reply.content, str) else str(reply.content)
    parsed = parse_answer(
        text,
        state.candidates,
        context.allow_nil,
        frozenset(state.excluded),
        fuzzy_min_score=context.fuzzy_min_score,
        fuzzy_margin=context.fuzzy_margin,
    )
    selected, resolved_by = resolve_unmatched(parsed, text, state, context)
    decision: Decision = "selected"
    if parsed.match == "nil":
        decision = "nil"
    elif selected is None:
        decision = "unparsable"
    attempt = Attempt(
        round=state.round,
        try_index=len(round_attempts(state)),
        clue_tool=state.clue_tool,
        selected=selected,
        entity=None if selected is None else state.candidates[selected]["name"],
        raw_answer=text,
        match=parsed.match,
        resolved_by=resolved_by,
        cached=bool(reply.response_metadata.get(CACHE_HIT)),
        seconds=round(seconds, 4),
        icr_score=None,
        icr_passed=None,
        iav_score=None,
        iav_passed=None,
        iav_method=None,
        decision=decision,
    )
    return {"attempts": [attempt], "checking": attempt["try_index"]}
