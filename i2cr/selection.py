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

AnswerMatch = Literal["exact", "contained", "fuzzy", "repeated", "unparsable", "nil"]

# A fuzzy match must score at least this (rapidfuzz WRatio, 0-100) and lead the closest other
# name by the margin; below either, the answer names no candidate.
FUZZY_MIN_SCORE = 85.0
FUZZY_MARGIN = 5.0


def display_name(name: str) -> str:
    """Entity names in some datasets use underscores for spaces (WikiDiverse)."""
    return name.replace("_", " ")


# Leading sentences longer than this many times `min_chars`, and than RUN_ON_MIN_CHARS (a
# run-on text with no sentence end), are cut at a word instead; no WikiMEL dev description
# comes near it (longest kept at 120: 314 chars).
RUN_ON_FACTOR = 4
RUN_ON_MIN_CHARS = 500


def lead_sentences(text: str, min_chars: int) -> str:
    """Whole leading sentences of `text`, as few as reach `min_chars` characters.

    Text with no sentence end within `RUN_ON_FACTOR * min_chars` (at least
    `RUN_ON_MIN_CHARS`) characters is cut at the last word boundary before that and marked
    with an ellipsis.
    """
    kept = ""
    for sentence in _SENTENCE_END.split(text.strip()):
        kept = f"{kept} {sentence}" if kept else sentence
        if len(kept) >= min_chars:
            break
    return cut_at_word(kept, max(RUN_ON_FACTOR * min_chars, RUN_ON_MIN_CHARS))


def cut_at_word(text: str, limit: int) -> str:
    """`text` if it has at most `limit` characters, else cut at its last word within them + '…'."""
    if len(text) <= limit:
        return text
    if limit < 1:
        return ""
    cut = text[:limit]
    return (cut.rsplit(None, 1)[0] if " " in cut.strip() else cut) + "…"


_STEERING = re.compile("|".join(f"(?:{p})" for p in prompts.STEERING_PATTERNS), re.IGNORECASE)
_SPECIAL_TAG = re.compile(prompts.SPECIAL_TAG_PATTERN)


def as_data(text: str) -> str:
    """`text` as the prompt quotes it: without sentences that address the selector or tags.

    Text with neither comes back unchanged, so ordinary prompts stay byte for byte the same.
    """
    if not _STEERING.search(text) and not _SPECIAL_TAG.search(text):
        return text
    kept = [s for s in _SENTENCE_END.split(text) if not _STEERING.search(s)]
    return _SPECIAL_TAG.sub("", " ".join(kept)).strip()


def steering_fields(
    *, mention: str, context: str, clue: str, candidates: list[Candidate]
) -> list[str]:
    """Which data texts `as_data` changes (for the run's warning)."""
    texts = {"mention": mention, "context": context, "clue": clue}
    for i, candidate in enumerate(candidates, start=1):
        texts[f"candidate #{i}'s name"] = candidate["name"]
        texts[f"candidate #{i}'s description"] = candidate.get("desc", "")
    return [where for where, text in texts.items() if text and as_data(text) != text]


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
    """The I2CR selection prompt: system instruction and the `GIVEN:` ask dict.

    The ask dict is written as a Python literal, so every data text is a quoted string with
    its line breaks and quotes escaped: no line of data can start a line of the prompt. Each
    text goes through `as_data` first.
    """
    ask_dict: dict[str, object] = {
        prompts.MENTION_KEY: as_data(mention),
        prompts.CONTEXT_KEY: as_data(context),
    }
    if clue:
        ask_dict[prompts.CLUE_KEY] = prompts.CLUE_PREFIX + as_data(clue)
    ask_dict[prompts.CANDIDATES_KEY] = {
        f"{i}. {as_data(display_name(c['name']))}": lead_sentences(
            as_data(c.get("desc", "")), desc_chars
        )
        for i, c in enumerate(candidates, start=1)
    }
    system = prompts.SYSTEM_PROMPT
    if allow_nil:
        system = f"{system}\n{prompts.NIL_INSTRUCTION}"
    notes = "".join(
        "\n " + prompts.EXCLUSION_NOTE.format(name=as_data(display_name(n))) for n in excluded
    )
    user = prompts.USER_PROMPT.format(ask_dict=ask_dict, notes=notes)
    return [SystemMessage(content=system), HumanMessage(content=user)]


@dataclass(frozen=True)
class ParsedAnswer:
    """What a selector answer names.

    `index` is the candidate the answer names (an excluded one when `match` is "repeated"),
    None for NIL and for an answer that names no candidate ("unparsable").
    """

    index: int | None
    match: AnswerMatch


def _answer_span(text: str) -> str:
    tail = text.split("ANSWER")[-1]
    tail = tail.lstrip("|>: \t")
    return tail.split("\n")[0].strip().strip(".").strip()


def _named_candidate(
    span: str, bare: str, names: dict[int, str], min_score: float, margin: float
) -> tuple[int, AnswerMatch] | None:
    """The candidate the answer names: exact, contained (longest), or a clear fuzzy match."""
    lowered = {i: n.lower() for i, n in names.items()}
    exact = [i for i, n in lowered.items() if n == bare]
    if exact:
        return exact[0], "exact"
    contained = [i for i, n in lowered.items() if n and n in span.lower()]
    if contained:
        return max(contained, key=lambda i: len(lowered[i])), "contained"
    if not bare:
        return None
    # Candidates sharing a name count once, so a duplicate is not its own runner-up.
    first_index: dict[str, int] = {}
    for i, name in lowered.items():
        first_index.setdefault(name, i)
    choices = {i: name for name, i in first_index.items()}
    scored = process.extract(bare, choices, scorer=fuzz.WRatio, limit=2)
    if not scored or scored[0][1] < min_score:
        return None
    if len(scored) > 1 and scored[0][1] - scored[1][1] < margin:
        return None
    return scored[0][2], "fuzzy"


def parse_answer(
    text: str,
    candidates: list[Candidate],
    allow_nil: bool,
    excluded: set[int] | frozenset[int] = frozenset(),
    *,
    fuzzy_min_score: float = FUZZY_MIN_SCORE,
    fuzzy_margin: float = FUZZY_MARGIN,
) -> ParsedAnswer:
    """Match the selector's answer to the candidate it names; never guess.

    Order: exact name (a leading "3. " numbering is ignored), a candidate name contained in the
    answer (the longest when several are), then the closest name by rapidfuzz WRatio when it
    scores at least `fuzzy_min_score` and leads the runner-up by `fuzzy_margin`. An answer
    naming an excluded candidate is "repeated"; one naming none is "unparsable".
    """
    span = _answer_span(text)
    bare = re.sub(r"^\d+\.\s*", "", span).strip().strip("<>\"'").strip().lower()
    if allow_nil and bare in {prompts.NIL_ANSWER, "none", "null"}:
        return ParsedAnswer(None, "nil")
    names = {i: display_name(c["name"]) for i, c in enumerate(candidates)}
    named = _named_candidate(span, bare, names, fuzzy_min_score, fuzzy_margin)
    if named is None:
        return ParsedAnswer(None, "unparsable")
    index, match = named
    return ParsedAnswer(index, "repeated" if index in excluded else match)


def closest_open_candidate(text: str, candidates: list[Candidate], excluded: set[int]) -> int:
    """The candidate not excluded whose name is closest to the answer (WRatio, no threshold)."""
    open_names = {i: display_name(c["name"]) for i, c in enumerate(candidates) if i not in excluded}
    if not open_names:
        raise ValueError("every candidate is excluded")
    best = process.extractOne(_answer_span(text) or text, open_names, scorer=fuzz.WRatio)
    return best[2] if best else min(open_names)
