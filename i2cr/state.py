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
    """What a VIF step produced: the tool, its provider, its text and the round that used it.

    `provider` is the one that ran ('auto' resolved; 'auto' itself when no model makes the
    tool's clue), `seconds` the tool's wall time, `round` the round whose prompt held the text
    (None when it was empty or the tool could not run: `error` says why).
    """

    tool: str
    provider: str
    text: str
    used: bool
    seconds: float
    round: int | None
    error: NotRequired[str]


class RankedEntity(TypedDict):
    """One row of the top-K output.

    The answer first (the result's `decided_by` names the rule that chose it), then entities
    other tries chose, that passed or failed their checks, then candidates.
    `score` is the first stage's calibrated confidence in the entity (None without one).
    """

    name: str
    qid: str | None
    source: Literal["answer", "passed", "failed", "candidate"]
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
    """Working state: the current round, its exclusions, and the record of every try.

    A try's `decision` is the outcome of the last check that ran on it, so its fields agree:
    `selected` (no check ran: ICR and IAV off), `nil`/`unparsable` (the selector's answer),
    `icr_pass`/`icr_fail`/`icr_best_of_failed`/`icr_nil` (ICR ran: `icr_passed` says how),
    `iav_pass`/`iav_fail` (IAV ran: `iav_passed` True/False). A check that could not run
    leaves the decision to the step before it, with its score and `passed` None:
    `iav_method` is 'no_clue' when there is neither an image encoder nor a clue text to read,
    'skipped' when `iav_without_encoder="skip"`.

    Before any round, the first stage may answer alone with a try of its own: `ranker_nil`
    (its NIL rule) or `ranker_confident` (its confidence in its best candidate reaches
    `selector_below`, and the input carries the clue text of any image it has); the run then
    finalizes with no selector call. After the rounds, a selector pick other than the first
    stage's best stands only when every check that ran on it passed (`finalize`).

    A round's outcome follows from the try that closes it (no check that could not run ends
    it):
    1. NIL (`nil`, `icr_nil`, `ranker_nil`) ends the run with NIL.
    2. `icr_fail` selects again in the same round (the entity excluded).
    3. `iav_pass` answers.
    4. `iav_fail` and `icr_best_of_failed` (a check failed) go to VIF for the next clue.
    5. IAV without a clue to read ('no_clue') goes to VIF for one: the next round's IAV reads
       the image's first clue.
    6. Otherwise (`icr_pass` or `selected` with IAV off or 'skipped') the try answers.
    When VIF has no clue left to give, the last round's try answers if every check that ran
    on it passed; otherwise `fallback` chooses (`outcome.choose`).
    """

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
