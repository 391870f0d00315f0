"""Baseline linkers, invoked like the graph so `run_batch` and the metrics treat them alike."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from i2cr.context import Context
from i2cr.datasets.sample import Sample
from i2cr.ranking import best_first, embedder_scores, rank_candidates, ranker_says_nil
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


class EmbedderRanking:
    """Rank candidates by cosine(mention + context, entity name + description), as ICR scores."""

    def invoke(self, input: Any, /, *, context: Context) -> dict[str, Any]:
        """Rank the candidates by the embedder's score; ties keep the given order."""
        candidates = input["candidates"]
        scores = embedder_scores(
            context.embedder,
            input["mention"],
            input.get("context", ""),
            candidates,
            precision=context.precision,
        )
        order = best_first(scores)
        return _output(candidates, order, context.top_k, "embedder ranking")


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


class CrossEncoderRanking:
    """Rank candidates with the trained cross-encoder; NIL by its rule when `ranker_nil` is on."""

    def invoke(self, input: Any, /, *, context: Context) -> dict[str, Any]:
        """Rank the candidates by the cross-encoder's score; ties keep the given order."""
        settings = replace(context, ranker="cross_encoder", ranker_keep=len(input["candidates"]))
        query = ranker_query(input)
        ranked = rank_candidates(settings, query)
        nil = ranker_says_nil(settings, query)
        how = "cross-encoder NIL rule" if nil else "cross-encoder ranking"
        return _output(ranked, list(range(len(ranked))), context.top_k, how, nil)


class DimRanking:
    """Rank candidates with the trained DIM fusion ranker (`Context.ranker_weights`)."""

    def invoke(self, input: Any, /, *, context: Context) -> dict[str, Any]:
        """Rank the candidates by the DIM score; ties keep the given order."""
        settings = replace(context, ranker="dim", ranker_keep=len(input["candidates"]))
        ranked = rank_candidates(settings, ranker_query(input))
        return _output(ranked, list(range(len(ranked))), context.top_k, "DIM ranking")
