"""Finalize: the linked entity (or NIL), how it was decided, and the top-K ranking."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from i2cr.context import Context
from i2cr.nodes.common import settings_of
from i2cr.outcome import NIL_DECISIONS, choose, verified
from i2cr.state import Attempt, Candidate, LinkResult, RankedEntity, State


def rank(
    answer: Attempt,
    attempts: list[Attempt],
    candidates: list[Candidate],
    k: int,
    rule: str = "first_stage",
) -> list[RankedEntity]:
    """The top-K: the answer first (labelled 'answer'), then per `rule`.

    The result's `decided_by` says which rule chose the answer. "first_stage": the candidates
    in the first stage's order. "checked" (the paper): the other chosen entities, passed
    before failed, then the candidates. A scored answer's try ranks the candidates by the
    selector's scores first (`selector_mode="score"`).
    """
    order: list[tuple[int, str]] = []
    if answer["selected"] is not None and answer["decision"] not in NIL_DECISIONS:
        order.append((answer["selected"], "answer"))
    if rule == "checked":
        chosen = [a for a in attempts if a["selected"] is not None]
        order += [(a["selected"], "passed") for a in chosen if verified(a)]  # type: ignore[misc]
        order += [(a["selected"], "failed") for a in chosen if not verified(a)]  # type: ignore[misc]
    order += [(i, "candidate") for i in selector_ranking(answer)]
    order += [(i, "candidate") for i in range(len(candidates))]
    ranked: list[RankedEntity] = []
    seen: set[int] = set()
    for index, source in order:
        if index in seen:
            continue
        seen.add(index)
        ranked.append(
            RankedEntity(
                name=candidates[index]["name"],
                qid=candidates[index].get("qid"),
                source=source,  # type: ignore[typeddict-item]
            )
        )
    return ranked[:k]


def selector_ranking(attempt: Attempt) -> list[int]:
    """Candidates by the try's selector scores, best first (ties in candidate order)."""
    scores = attempt.get("scores") or []
    scored = [i for i, score in enumerate(scores) if score is not None]
    return sorted(scored, key=lambda i: -scores[i])  # type: ignore[operator]


def finalize(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Pick the answer per the method and the fallback setting, and rank the top-K."""
    settings = settings_of(runtime)
    answer, decided_by = choose(state.attempts, settings.fallback)
    is_nil = answer["selected"] is None or answer["decision"] in NIL_DECISIONS
    candidate = None if is_nil else state.candidates[answer["selected"]]  # type: ignore[index]
    result = LinkResult(
        entity=None if candidate is None else candidate["name"],
        qid=None if candidate is None else candidate.get("qid"),
        nil=is_nil,
        decided_by=decided_by,
        top_k=rank(answer, state.attempts, state.candidates, settings.top_k, settings.top_k_rule),
        selector_calls=sum(a["decision"] != "ranker_nil" for a in state.attempts),
        selector_cached=sum(a["cached"] for a in state.attempts),
        rounds=state.round + 1,
    )
    return {"result": result}
