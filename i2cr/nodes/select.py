"""TES: the selector LLM picks one candidate (or NIL), with excluded candidates noted."""

from __future__ import annotations

import math
import time
from functools import partial
from typing import Any

from langchain_core.messages import BaseMessage
from langgraph.runtime import Runtime

from i2cr.context import Context
from i2cr.models.cache_marker import CACHE_HIT
from i2cr.models.chat import ask_selector, score_with_selector
from i2cr.models.scoring import answer_for
from i2cr.nodes.common import first_open_candidate, round_attempts, settings_of
from i2cr.prompts import NIL_ANSWER, STEERING_WARNING
from i2cr.selection import (
    ParsedAnswer,
    build_messages,
    closest_open_candidate,
    cut_at_word,
    lead_sentences,
    parse_answer,
    steering_fields,
)
from i2cr.state import Attempt, Candidate, Decision, State

CANNOT_SCORE = "selector_mode 'score': the selector returned no log-probabilities; TES generated"


def resolve_unmatched(
    parsed: ParsedAnswer, text: str, state: State, settings: Context
) -> tuple[int | None, str | None]:
    """(selected candidate, rule) for a repeated or unparsable answer; as parsed otherwise."""
    if parsed.match not in ("repeated", "unparsable"):
        return parsed.index, None
    rule = settings.unmatched_answer
    if rule == "fuzzy":
        return closest_open_candidate(text, state.candidates, set(state.excluded)), rule
    # Without ICR there is no re-selection, so an unnamed answer cannot fail as a try.
    if rule == "ranker" or (parsed.match == "unparsable" and not settings.use_icr):
        return first_open_candidate(state), "ranker"
    return parsed.index, rule


def prompt_chars(messages: list[BaseMessage]) -> int:
    """Characters of a prompt's text."""
    return sum(len(str(message.content)) for message in messages)


def selector_messages(state: State, settings: Context) -> tuple[list[BaseMessage], str | None]:
    """The selection prompt within `max_prompt_chars`, and a warning when it had to be fit.

    Over the limit, descriptions are left out and the last candidates dropped until the rest
    fits, then the room left is shared out among the shown candidates' descriptions.
    """
    build = partial(
        build_messages,
        mention=state.mention,
        context=state.context,
        clue=state.clue,
        excluded=[state.candidates[i]["name"] for i in state.excluded],
        allow_nil=settings.allow_nil,
        desc_chars=settings.desc_chars,
    )
    limit = settings.max_prompt_chars
    messages = build(candidates=state.candidates)
    if prompt_chars(messages) <= limit:
        return messages, None
    shown = [Candidate(name=c["name"], desc="") for c in state.candidates]
    while len(shown) > 1 and prompt_chars(build(candidates=shown)) > limit:
        shown.pop()
    # Each description's quotes and separators take a few characters besides its text.
    room = (limit - prompt_chars(build(candidates=shown))) // len(shown) - 4
    for candidate, given in zip(shown, state.candidates, strict=False):
        lead = lead_sentences(given.get("desc", ""), settings.desc_chars)
        candidate["desc"] = cut_at_word(lead, room)
    warning = f"selector prompt over max_prompt_chars ({limit}): descriptions shortened"
    if len(shown) < len(state.candidates):
        warning += f", only the first {len(shown)} of {len(state.candidates)} candidates shown"
    return build(candidates=shown), warning


def select(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Ask the selector for the best-matched entity and record the try."""
    settings = settings_of(runtime)
    messages, fitted = selector_messages(state, settings)
    notes = [fitted] if fitted else []
    steering = steering_fields(
        mention=state.mention, context=state.context, clue=state.clue, candidates=state.candidates
    )
    if steering:
        notes.append(STEERING_WARNING.format(where=", ".join(steering)))
    update: dict[str, Any] = {}
    if any(note not in state.warnings for note in notes):
        update["warnings"] = [note for note in notes if note not in state.warnings]
    attempt = None
    if settings.selector_mode == "score":
        attempt = scored_try(state, settings, messages)
        if attempt is None and CANNOT_SCORE not in state.warnings:
            update["warnings"] = [*update.get("warnings", []), CANNOT_SCORE]
    if attempt is None:
        attempt = generated_try(state, settings, messages)
    return {**update, "attempts": [attempt], "checking": attempt["try_index"]}


def generated_try(state: State, settings: Context, messages: list[BaseMessage]) -> Attempt:
    """The try of a generated answer, matched to a candidate by name."""
    started = time.perf_counter()
    reply = ask_selector(settings, messages, likely_names(state))
    seconds = time.perf_counter() - started
    text = reply.content if isinstance(reply.content, str) else str(reply.content)
    parsed = parse_answer(
        text,
        state.candidates,
        settings.allow_nil,
        frozenset(state.excluded),
        fuzzy_min_score=settings.fuzzy_min_score,
        fuzzy_margin=settings.fuzzy_margin,
    )
    selected, resolved_by = resolve_unmatched(parsed, text, state, settings)
    decision: Decision = "selected"
    if parsed.match == "nil":
        decision = "nil"
    elif selected is None:
        decision = "unparsable"
    return new_attempt(
        state,
        selected=selected,
        raw_answer=text,
        match=parsed.match,
        resolved_by=resolved_by,
        cached=bool(reply.response_metadata.get(CACHE_HIT)),
        seconds=seconds,
        decision=decision,
    )


def likely_names(state: State) -> list[str]:
    """The candidates the selector most likely names, the most likely first.

    The last excluded comes first (a re-selection mostly repeats it), then the others in the
    prompt's order.
    """
    order = [*reversed(state.excluded), *range(len(state.candidates))]
    return [state.candidates[i]["name"] for i in dict.fromkeys(order)]


def scored_try(state: State, settings: Context, messages: list[BaseMessage]) -> Attempt | None:
    """The try of the best-scored candidate not excluded (or NIL); None if it cannot score."""
    names = [c["name"] for c in state.candidates]
    answers = [*names, NIL_ANSWER] if settings.allow_nil else names
    started = time.perf_counter()
    scores = score_with_selector(settings, messages, answers)
    seconds = time.perf_counter() - started
    if scores is None:
        return None
    choices = [i for i in range(len(names)) if i not in state.excluded]
    if settings.allow_nil:
        choices.append(len(names))
    best = max(choices, key=lambda i: scores[i])
    selected = None if best == len(names) else best
    attempt = new_attempt(
        state,
        selected=selected,
        raw_answer=answer_for(NIL_ANSWER if selected is None else names[best]),
        match="nil" if selected is None else "scored",
        resolved_by=None,
        cached=False,
        seconds=seconds,
        decision="nil" if selected is None else "selected",
    )
    attempt["scores"] = [s if math.isfinite(s) else None for s in scores[: len(names)]]
    return attempt


def new_attempt(
    state: State,
    *,
    selected: int | None,
    raw_answer: str,
    match: str,
    resolved_by: str | None,
    cached: bool,
    seconds: float,
    decision: Decision,
) -> Attempt:
    """A try of the current round, before any check has run on it."""
    return Attempt(
        round=state.round,
        try_index=len(round_attempts(state)),
        clue_tool=state.clue_tool,
        selected=selected,
        entity=None if selected is None else state.candidates[selected]["name"],
        raw_answer=raw_answer,
        match=match,
        resolved_by=resolved_by,
        cached=cached,
        seconds=round(seconds, 4),
        icr_score=None,
        icr_passed=None,
        iav_score=None,
        iav_passed=None,
        iav_method=None,
        decision=decision,
    )
