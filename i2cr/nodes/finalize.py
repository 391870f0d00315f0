"""Finalize: the linked entity (or NIL), how it was decided, and the top-K ranking."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from i2cr.context import Context
from i2cr.nodes.common import first_stage_try, settings_of
from i2cr.outcome import FIRST_STAGE_DECISIONS, NIL_DECISIONS, choose, verified
from i2cr.state import Attempt, Candidate, LinkResult, RankedEntity, State


def rank(
    answer: Attempt,
    attempts: list[Attempt],
    candidates: list[Candidate],
    k: int,
    rule: str = "first_stage",
    confidences: list[float] | None = None,
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
                score=round(confidences[index], 4) if confidences else None,
            )
        )
    return ranked[:k]


def selector_ranking(attempt: Attempt) -> list[int]:
    """Candidates by the try's selector scores, best first (ties in candidate order)."""
    scores = attempt.get("scores") or []
    scored = [i for i, score in enumerate(scores) if score is not None]
    return sorted(scored, key=lambda i: -scores[i])  # type: ignore[operator]


def keep_first_stage(answer: Attempt, decided_by: str, state: State) -> tuple[Attempt, str]:
    """The first stage's best instead of a selector pick the reflections did not support.

    Applies where the first stage has a confidence (the gate ran): the selector was asked
    because the first stage was unsure, and its pick replaces the first stage's best only when
    every check that ran on it passed.
    """
    picked = answer["selected"]
    if not state.confidences or picked in (None, 0) or verified(answer):
        return answer, decided_by
    if answer["decision"] in NIL_DECISIONS:
        return answer, decided_by
    kept = first_stage_try(state.candidates, nil=False)
    entity = state.candidates[picked]["name"]
    return kept, f"first stage: the selector's pick {entity!r} failed its checks ({decided_by})"


def answer_confidence(answer: Attempt, nil: bool, confidences: list[float]) -> float | None:
    """The first stage's calibrated confidence in the answer (for NIL: in no candidate)."""
    if not confidences:
        return None
    if nil:
        return round(1 - confidences[0], 4)
    return round(confidences[answer["selected"]], 4)  # type: ignore[index]


def finalize(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Pick the answer per the method, the first stage and the NIL rule; rank the top-K."""
    settings = settings_of(runtime)
    answer, decided_by = choose(state.attempts, settings.fallback)
    answer, decided_by = keep_first_stage(answer, decided_by, state)
    is_nil = answer["selected"] is None or answer["decision"] in NIL_DECISIONS
    confidence = answer_confidence(answer, is_nil, state.confidences)
    if not is_nil and confidence is not None and confidence < settings.nil_below:
        decided_by = f"NIL: confidence {confidence:.2f} below nil_below ({decided_by})"
        is_nil, confidence = True, round(1 - confidence, 4)
    candidate = None if is_nil else state.candidates[answer["selected"]]  # type: ignore[index]
    top_k = rank(
        answer,
        state.attempts,
        state.candidates,
        settings.top_k,
        settings.top_k_rule,
        state.confidences,
    )
    result = LinkResult(
        entity=None if candidate is None else candidate["name"],
        qid=None if candidate is None else candidate.get("qid"),
        nil=is_nil,
        confidence=confidence,
        decided_by=decided_by,
        top_k=top_k,
        selector_calls=sum(a["decision"] not in FIRST_STAGE_DECISIONS for a in state.attempts),
        selector_cached=sum(a["cached"] for a in state.attempts),
        rounds=state.round + 1,
    )
    return {"result": result}
