"""Build the selector's messages and read its answer (shared by the graph and fine-tuning)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from rapidfuzz import fuzz, process

from i2cr import prompts
from i2cr.state import Candidate

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")

AnswerMatch = Literal["exact", "contained", "fuzzy", "nil"]


def display_name(name: str) -> str:
    """Entity names in some datasets use underscores for spaces (WikiDiverse)."""
    return name.replace("_", " ")


def lead_sentences(text: str, min_chars: int) -> str:
    """Whole leading sentences of `text`, as few as reach `min_chars` characters."""
    kept = ""
    for sentence in _SENTENCE_END.split(text.strip()):
        kept = f"{kept} {sentence}" if kept else sentence
        if len(kept) >= min_chars:
            break
    return kept


def build_messages(
    *,
    mention: str,
    context: str,
    candidates: list[Candidate],
    clue: str = "",
    excluded: list[str] | tuple[str, ...] = (),
    allow_nil: bool = False,
    desc_chars: int = 120,
) -> list[BaseMessage]:
    """The I2CR selection prompt: system instruction and the `GIVEN:` ask dict."""
    ask_dict: dict[str, object] = {
        prompts.MENTION_KEY: mention,
        prompts.CONTEXT_KEY: context,
    }
    if clue:
        ask_dict[prompts.CLUE_KEY] = prompts.CLUE_PREFIX + clue
    ask_dict[prompts.CANDIDATES_KEY] = {
        f"{i}. {display_name(c['name'])}": lead_sentences(c.get("desc", ""), desc_chars)
        for i, c in enumerate(candidates, start=1)
    }
    system = prompts.SYSTEM_PROMPT
    if allow_nil:
        system = f"{system}\n{prompts.NIL_INSTRUCTION}"
    notes = "".join("\n " + prompts.EXCLUSION_NOTE.format(name=display_name(n)) for n in excluded)
    user = prompts.USER_PROMPT.format(ask_dict=ask_dict, notes=notes)
    return [SystemMessage(content=system), HumanMessage(content=user)]


@dataclass(frozen=True)
class ParsedAnswer:
    """A selector answer resolved to a candidate index (None for NIL)."""

    index: int | None
    match: AnswerMatch


def _answer_span(text: str) -> str:
    tail = text.split("ANSWER")[-1]
    tail = tail.lstrip("|>: \t")
    return tail.split("\n")[0].strip().strip(".").strip()


def parse_answer(
    text: str,
    candidates: list[Candidate],
    allow_nil: bool,
    excluded: set[int] | frozenset[int] = frozenset(),
) -> ParsedAnswer:
    """Match the selector's answer to a candidate by name, never to an excluded one.

    Order: exact name (a leading "3. " numbering is ignored), a candidate name contained in the
    answer (the longest when several are), then the closest name by rapidfuzz WRatio.
    """
    open_ids = [i for i in range(len(candidates)) if i not in excluded]
    if not open_ids:
        raise ValueError("cannot parse an answer: every candidate is excluded")
    span = _answer_span(text)
    bare = re.sub(r"^\d+\.\s*", "", span).strip().strip("<>\"'").strip().lower()
    names = {i: display_name(candidates[i]["name"]) for i in open_ids}
    lowered = {i: n.lower() for i, n in names.items()}
    if allow_nil and bare in {prompts.NIL_ANSWER, "none", "null"}:
        return ParsedAnswer(None, "nil")
    exact = [i for i, n in lowered.items() if n == bare]
    if exact:
        return ParsedAnswer(exact[0], "exact")
    contained = [i for i, n in lowered.items() if n and n in span.lower()]
    if contained:
        return ParsedAnswer(max(contained, key=lambda i: len(lowered[i])), "contained")
    best = process.extractOne(bare or text, names, scorer=fuzz.WRatio)
    return ParsedAnswer(best[2] if best else open_ids[0], "fuzzy")
