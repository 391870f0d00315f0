"""The retrieve node's hook: re-order and trim the candidates with the configured ranker."""

from __future__ import annotations

from i2cr.context import Context
from i2cr.state import Candidate, State


def rank_candidates(state: State, candidates: list[Candidate], context: Context) -> list[Candidate]:
    """The candidates in the ranker's order, the best `ranker_keep` of them (as is for 'none')."""
    if context.ranker == "none":
        return candidates
    from i2cr.dim.ranker import load_ranker

    order = load_ranker(context.ranker_weights).order(
        mention=state.mention,
        context=state.context,
        candidates=candidates,
        clues=state.clues,
        image=state.image,
    )
    return [candidates[i] for i in order[: context.ranker_keep]]
