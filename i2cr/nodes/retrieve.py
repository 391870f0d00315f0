"""Check and bound the input and get the top-k candidates (from the input or the KG)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from i2cr.context import Context
from i2cr.datasets.sample import Sample
from i2cr.errors import InputError
from i2cr.images import ImageLimits, image_problem
from i2cr.inputs import bounded_candidates, check_input
from i2cr.kg import open_hybrid, open_kg
from i2cr.nodes.common import first_stage_try, settings_of
from i2cr.rankers.signals import clue_text
from i2cr.ranking import rank_candidates, ranker_says_nil
from i2cr.serving import is_served
from i2cr.state import State


def selector_needed(confidences: list[float], settings: Context, *, unread_image: bool) -> bool:
    """The gate: the selector is asked unless the first stage is confident in its best.

    The first stage reads the image only through the clue text the input carries, and its
    confidence was calibrated on mentions that carry it: with an image and no clue text, it
    has not seen the image, so the method runs and its VIF rounds read the image.
    """
    if not confidences or settings.selector_below >= 1 or unread_image:
        return True
    return confidences[0] < settings.selector_below


def retrieve(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Check the mention, candidates and image; fuzzy-retrieve candidates when none came.

    The mention, context, clues and image the later nodes read are the checked ones. When the
    ranker's NIL rule fires (`ranker_nil`) the run's answer is NIL, and when the first stage's
    confidence in its best candidate reaches `selector_below` that candidate is the answer:
    either way with no selector call.
    """
    settings = settings_of(runtime)
    checked = check_input(state, settings, served=is_served(runtime))
    candidates = checked.candidates
    retrieved = not candidates
    if retrieved:
        if not settings.kg:
            raise InputError(
                "no candidates given and no knowledge graph configured: pass 'candidates' or "
                "set the context field 'kg' (I2CR_KG)"
            )
        if settings.kg_retrieval == "hybrid":
            hybrid = open_hybrid(settings.kg, settings.embedder, settings.precision)
            found = hybrid.search(checked.mention, settings.k, context=checked.context)
        else:
            found = open_kg(settings.kg).search(checked.mention, settings.k)
        candidates = bounded_candidates(found, settings, checked.warnings)
        if not candidates:
            raise InputError(
                f"no entity of the knowledge graph {settings.kg} matches {checked.mention!r}"
            )
    query = Sample(
        id=state.sample_id or "",
        mention=checked.mention,
        context=checked.context,
        candidates=candidates,
        clues=checked.clues,
        image=str(checked.image) if isinstance(checked.image, str | Path) else None,
    )
    says_nil = ranker_says_nil(settings, query)
    ranked = rank_candidates(settings, query, retrieved=retrieved)
    confidences = ranked.confidences or []
    answered = []
    problem = image_problem(checked.image, ImageLimits.from_context(settings))
    unread_image = problem is None and not clue_text(checked.clues)
    if says_nil or not selector_needed(confidences, settings, unread_image=unread_image):
        answered = [first_stage_try(ranked.candidates, nil=says_nil)]
    warnings = checked.warnings
    if problem and checked.image:
        warnings.append(f"{problem}; visual steps use only the clues given with the input")
    return {
        "attempts": answered,
        "mention": checked.mention,
        "context": checked.context,
        "clues": checked.clues,
        "image": checked.image,
        "candidates": ranked.candidates,
        "confidences": confidences,
        "retrieved": retrieved,
        "image_ok": problem is None,
        "warnings": warnings,
    }
