"""TES: the selector LLM picks one candidate (or NIL), with excluded candidates noted."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from i2cr.context import Context
from i2cr.models.chat import load_selector
from i2cr.nodes.common import round_attempts, settings
from i2cr.selection import build_messages, parse_answer
from i2cr.state import Attempt, State


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
    reply = load_selector(context).invoke(messages)
    text = reply.content if isinstance(reply.content, str) else str(reply.content)
    parsed = parse_answer(text, state.candidates, context.allow_nil, frozenset(state.excluded))
    entity = None if parsed.index is None else state.candidates[parsed.index]["name"]
    attempt = Attempt(
        round=state.round,
        try_index=len(round_attempts(state)),
        clue_tool=state.clue_tool,
        selected=parsed.index,
        entity=entity,
        raw_answer=text,
        match=parsed.match,
        icr_score=None,
        icr_passed=None,
        iav_score=None,
        iav_passed=None,
        iav_method=None,
        decision="nil" if parsed.index is None else "selected",
    )
    return {"attempts": [attempt], "checking": attempt["try_index"]}
