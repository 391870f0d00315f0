"""Validate the input and get the top-k candidates (from the input or the knowledge graph)."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from i2cr.context import Context
from i2cr.errors import InputError
from i2cr.images import ImageLimits, image_problem
from i2cr.kg import open_kg
from i2cr.nodes.common import settings
from i2cr.ranking import rank_candidates
from i2cr.state import State


def retrieve(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Check the mention, candidates and image; fuzzy-retrieve candidates when none came."""
    context = settings(runtime)
    if not state.mention or not state.mention.strip():
        raise InputError("the mention is empty: give the text span to link")
    candidates = state.candidates
    if not candidates:
        if not context.kg:
            raise InputError(
                "no candidates given and no knowledge graph configured: pass 'candidates' or "
                "set the context field 'kg' (I2CR_KG)"
            )
        candidates = open_kg(context.kg).search(state.mention, context.k)
        if not candidates:
            raise InputError(
                f"no entity of the knowledge graph {context.kg} matches {state.mention!r}"
            )
    for position, candidate in enumerate(candidates, start=1):
        if not isinstance(candidate, dict) or not str(candidate.get("name", "")).strip():
            raise InputError(f"candidate #{position} has no name: {candidate!r}")
    candidates = rank_candidates(
        context,
        mention=state.mention,
        context=state.context,
        candidates=candidates,
        clues=state.clues,
        image=state.image,
    )
    problem = image_problem(state.image, ImageLimits.from_context(context))
    warnings = []
    if problem and state.image:
        warnings.append(f"{problem}; visual steps use only the clues given with the input")
    return {"candidates": candidates, "image_ok": problem is None, "warnings": warnings}
