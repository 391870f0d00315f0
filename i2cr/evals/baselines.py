"""Baseline linkers, invoked like the graph so `run_batch` and the metrics treat them alike."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from i2cr.context import Context, RankerKind
from i2cr.datasets.sample import Sample
from i2cr.ranking import rank_candidates, ranker_says_nil
from i2cr.state import Candidate, LinkResult, RankedEntity


def _output(
    candidates: list[Candidate], order: list[int], top_k: int, how: str, nil: bool = False
) -> dict[str, Any]:
    """A graph-shaped output ranking `candidates` in `order` (answering NIL when `nil`)."""
    if not candidates:
        raise ValueError("no candidates to rank")
    ranked = [
        RankedEntity(name=candidates[i]["name"], qid=candidates[i].get("qid"), source="candidate")
        for i in order[:top_k]
    ]
    result = LinkResult(
        entity=None if nil else ranked[0]["name"],
        qid=None if nil else ranked[0]["qid"],
        nil=nil,
        confidence=None,
        decided_by=how,
        top_k=ranked,
        selector_calls=0,
        selector_cached=0,
        rounds=0,
    )
    return {"result": result, "attempts": [], "clue_steps": [], "warnings": []}


class FirstCandidate:
    """Answer the candidates in the order given: measures the order, not a linker."""

    def invoke(self, input: Any, /, *, context: Context) -> dict[str, Any]:
        """Rank the candidates as given."""
        candidates = input["candidates"]
        return _output(candidates, list(range(len(candidates))), context.top_k, "first candidate")


def ranker_query(input: Any) -> Sample:
    """A graph input as what a first-stage ranker reads."""
    return Sample(
        id="",
        mention=input["mention"],
        context=input.get("context", ""),
        candidates=input["candidates"],
        clues=input.get("clues") or {},
        image=input.get("image"),
    )


class FirstStageRanking:
    """Rank candidates with one first stage alone (`kind`), as the graph's `ranker` would.

    The result carries the ranker's calibrated confidence where it has one; with the
    cross-encoder, its NIL rule answers NIL when `ranker_nil` is on.
    """

    def __init__(self, kind: RankerKind) -> None:
        """A baseline of the ranker registered as `kind` (`i2cr.rankers.RANKERS`)."""
        self.kind = kind

    def invoke(self, input: Any, /, *, context: Context) -> dict[str, Any]:
        """Rank the candidates by the ranker's score; ties keep the given order."""
        settings = replace(context, ranker=self.kind, ranker_keep=len(input["candidates"]))
        query = ranker_query(input)
        ranked = rank_candidates(settings, query)
        nil = ranker_says_nil(settings, query)
        how = f"{self.kind} NIL rule" if nil else f"{self.kind} ranking"
        output = _output(
            ranked.candidates, list(range(len(ranked.candidates))), context.top_k, how, nil
        )
        if ranked.confidences is not None:
            output["result"]["confidence"] = 0.0 if nil else ranked.confidences[0]
        return output
