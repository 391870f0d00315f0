"""Typed state of the I2CR graph: the input, every try of every round, and the result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import Field
from typing_extensions import NotRequired, TypedDict


class Candidate(TypedDict):
    """A knowledge-graph entity offered to the selector."""

    name: str
    desc: str
    qid: NotRequired[str]


Decision = Literal[
    "selected",
    "nil",
    "unparsable",
    "icr_pass",
    "icr_fail",
    "icr_best_of_failed",
    "icr_nil",
    "ranker_nil",
    "ranker_confident",
    "iav_pass",
    "iav_fail",
    "iav_skipped",
]


class Attempt(TypedDict):
    """One selector call and the checks run on its answer.

    `round` is 0 for the text-only round and n for the n-th visual clue; `try_index` counts
    re-selections inside a round. Scores stay None when the check did not run. `match` says
    what the answer named (exact, contained, fuzzy, repeated: an excluded entity again,
    unparsable: no candidate, nil); `resolved_by` names the `unmatched_answer` rule that chose
    `selected` for a repeated or unparsable answer (None when the answer itself named it).
    `cached` is True when the selector's reply came from a response cache, and `seconds` is the
    selector call's wall time. With `selector_mode="score"` the answer is `scored` and `scores`
    holds each candidate's log-probability (in candidate order; None where the server gave no
    bound), from which the top-K is ranked.
    """

    round: int
    try_index: int
    clue_tool: str | None
    selected: int | None
    entity: str | None
    raw_answer: str
    match: str
    resolved_by: str | None
    cached: bool
    seconds: float
    icr_score: float | None
    icr_passed: bool | None
    iav_score: float | None
    iav_passed: bool | None
    iav_method: str | None
    decision: Decision
    scores: NotRequired[list[float | None]]


class ClueStep(TypedDict):
    """What a VIF step produced: the tool, its text, and whether the round ran."""

    tool: str
    provider: str
    text: str
    used: bool
    error: NotRequired[str]


class RankedEntity(TypedDict):
    """One row of the top-K output.

    `score` is the first stage's calibrated confidence in the entity (None without one).
    """

    name: str
    qid: str | None
    source: Literal["passed", "failed", "candidate"]
    score: NotRequired[float | None]


class LinkResult(TypedDict):
    """The graph's answer for one mention."""

    entity: str | None
    qid: str | None
    nil: bool
    confidence: float | None
    decided_by: str
    top_k: list[RankedEntity]
    selector_calls: int
    selector_cached: int
    rounds: int


def merge_attempts(left: list[Attempt], right: list[Attempt]) -> list[Attempt]:
    """Reducer: an attempt with the same (round, try_index) replaces the earlier record."""
    merged = {(a["round"], a["try_index"]): a for a in left}
    for attempt in right:
        merged[(attempt["round"], attempt["try_index"])] = attempt
    return sorted(merged.values(), key=lambda a: (a["round"], a["try_index"]))


def append(left: list, right: list) -> list:
    """Reducer: concatenate."""
    return left + right


@dataclass(kw_only=True)
class InputState:
    """What a caller gives the graph for one mention.

    `clues` maps an image-to-text tool name (ocr, caption, dense_caption, tags) to text that
    came with the input (the benchmarks carry Azure AI Vision output); the `carried` tool
    provider reads it. `candidates` skips retrieval when given.
    """

    # Defaulted so that an input without one reaches the retrieve node's clear InputError.
    mention: Annotated[str, Field(description="The mention to link (required).")] = ""
    context: Annotated[str, Field(description="The text around the mention.")] = ""
    image: Annotated[
        str | None, Field(description="Path (or allowed URL) of the mention's image.")
    ] = None
    candidates: Annotated[
        list[Candidate],
        Field(description="Entities to choose from; without them the configured KG is searched."),
    ] = field(default_factory=list)
    clues: Annotated[
        dict[str, str],
        Field(description="Text read from the image, by tool: ocr, caption, dense_caption, tags."),
    ] = field(default_factory=dict)
    sample_id: Annotated[str | None, Field(description="An id to trace the run by.")] = None


@dataclass(kw_only=True)
class State(InputState):
    """Working state: the current round, its exclusions, and the record of every try."""

    round: int = 0
    clue: str = ""
    clue_tool: str | None = None
    excluded: list[int] = field(default_factory=list)
    checking: int = 0
    image_ok: bool = False
    # The candidates came from the knowledge graph's search, not with the input.
    retrieved: bool = False
    # The first stage's calibrated confidence in each candidate (empty: it has none).
    confidences: list[float] = field(default_factory=list)
    attempts: Annotated[list[Attempt], merge_attempts] = field(default_factory=list)
    clue_steps: Annotated[list[ClueStep], append] = field(default_factory=list)
    warnings: Annotated[list[str], append] = field(default_factory=list)
    result: LinkResult | None = None


@dataclass(kw_only=True)
class OutputState:
    """What the graph returns: the result and the story of every round."""

    result: LinkResult | None = None
    attempts: list[Attempt] = field(default_factory=list)
    clue_steps: list[ClueStep] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
