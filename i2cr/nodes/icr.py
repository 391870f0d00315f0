"""ICR: intra-modal consistency between the mention side and the selected entity's text."""

from __future__ import annotations

import statistics
from math import inf
from typing import Any

from langgraph.runtime import Runtime
from rapidfuzz import fuzz
from rapidfuzz.utils import default_process

from i2cr.context import Context
from i2cr.datasets.sample import Sample
from i2cr.models.embedder import cosine
from i2cr.nodes.common import current_attempt, first_open_candidate, round_attempts, settings_of
from i2cr.ranking import first_stage_scores
from i2cr.selection import display_name
from i2cr.state import Attempt, State
from i2cr.texts import entity_text, mention_text

# A mention this close to a retrieved candidate's name (rapidfuzz ratio, whole strings) is read
# as a misspelling of it: "Barak Obma" -> "Barack Obama" (91), not "Obama" -> "Barack Obama" (59).
SPELLING_MIN_RATIO = 85.0


def checked_mention_text(state: State, selected: int | None = None) -> str:
    """C_m of the try: mention and context, plus the round's visual clue from round 1 on.

    When the candidates came from the KG search and the mention is a misspelling of the
    selected candidate's name, that name stands for the mention (in the context too): the
    search matched it, and an embedder reads a misspelt name as another word.
    """
    mention, said = state.mention, state.context
    if state.retrieved and selected is not None and mention.strip():
        name = display_name(state.candidates[selected]["name"])
        if fuzz.ratio(mention, name, processor=default_process) >= SPELLING_MIN_RATIO:
            mention, said = name, said.replace(mention, name)
    return mention_text(mention, said, state.clue)


def icr_score(state: State, settings: Context, selected: int) -> float:
    """The try's score under `icr_rule`: its cosine, or that cosine relative to the others'.

    'ranker_margin' scores by the first stage's scores instead (the cross-encoder's, or its
    blend with DIM), relative to the others.
    """
    if settings.icr_rule == "ranker_margin":
        said = mention_text(state.context, state.clue)
        query = Sample(
            id="",
            mention=state.mention,
            context=said,
            candidates=state.candidates,
            clues=state.clues,
        )
        ranked = first_stage_scores(settings, query)
        others = [s for i, s in enumerate(ranked) if i != selected]
        return ranked[selected] - max(others, default=ranked[selected])
    mention_side = checked_mention_text(state, selected)
    if settings.icr_rule == "absolute":
        entity_side = [entity_text(state.candidates[selected])]
        return cosine(settings.embedder, mention_side, entity_side, precision=settings.precision)[0]
    entity_sides = [entity_text(c) for c in state.candidates]
    scores = cosine(settings.embedder, mention_side, entity_sides, precision=settings.precision)
    own = scores[selected]
    if settings.icr_rule == "margin":
        others = [s for i, s in enumerate(scores) if i != selected]
        return own - max(others, default=-1.0)  # -1: the lowest cosine there is
    spread = statistics.pstdev(scores)
    return (own - statistics.fmean(scores)) / spread if spread > 0 else 0.0


def icr(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Score the try; on failure exclude it, or keep the round's best try at the limit.

    A try whose answer named no candidate (`unmatched_answer="reference"`) fails unscored.
    With `icr_all_failed="nil"` (and NIL allowed) a round whose every try failed is NIL.
    """
    settings = settings_of(runtime)
    attempt = current_attempt(state)
    score = None
    if attempt["selected"] is not None:
        score = icr_score(state, settings, attempt["selected"])
    passed = score is not None and score > settings.alpha
    scored = Attempt(
        **{
            **attempt,
            "icr_score": score,
            "icr_passed": passed,
            "decision": "icr_pass" if passed else "icr_fail",
        }
    )
    if passed:
        return {"attempts": [scored]}
    excluded = list(state.excluded)
    if attempt["selected"] is not None and attempt["selected"] not in excluded:
        excluded.append(attempt["selected"])
    tries = round_attempts(state)
    can_reselect = len(tries) <= settings.max_reselect and len(excluded) < len(state.candidates)
    if can_reselect:
        return {"attempts": [scored], "excluded": excluded}
    if settings.icr_all_failed == "nil" and settings.allow_nil:
        scored["decision"] = "icr_nil"
        return {"attempts": [scored], "excluded": excluded}
    finished = [scored if a["try_index"] == scored["try_index"] else a for a in tries]
    best = max(finished, key=lambda a: a["icr_score"] if a["icr_score"] is not None else -inf)
    kept = Attempt(**{**best, "decision": "icr_best_of_failed"})
    if best["selected"] is None:  # no try of the round named a candidate
        first = first_open_candidate(state)
        kept["selected"], kept["entity"] = first, state.candidates[first]["name"]
        kept["resolved_by"] = "ranker"
    return {"attempts": [scored, kept], "excluded": excluded, "checking": best["try_index"]}
