"""First-stage rankers that re-order and trim the candidates before TES (`Context.ranker`)."""

from __future__ import annotations

from collections.abc import Mapping

from i2cr.context import Context
from i2cr.kg.fusion import fuse
from i2cr.models.embedder import cosine
from i2cr.models.precision import Precision
from i2cr.state import Candidate
from i2cr.texts import entity_text, mention_text


def embedder_texts(mention: str, context: str, candidates: list[Candidate]) -> list[str]:
    """The texts the embedder ranker compares: mention + context, then each candidate's."""
    return [mention_text(mention, context), *(entity_text(c) for c in candidates)]


def embedder_scores(
    embedder: str,
    mention: str,
    context: str,
    candidates: list[Candidate],
    *,
    precision: Precision = "auto",
) -> list[float]:
    """cosine(mention + context, name + description) of each candidate."""
    mention_side, *entity_side = embedder_texts(mention, context, candidates)
    return cosine(embedder, mention_side, entity_side, precision=precision)


def best_first(scores: list[float]) -> list[int]:
    """Positions by score, best first; ties keep the given order."""
    return sorted(range(len(scores)), key=lambda i: -scores[i])


def rank_candidates(
    settings: Context,
    *,
    mention: str,
    context: str,
    candidates: list[Candidate],
    clues: Mapping[str, str] | None = None,
    image: str | None = None,
    retrieved: bool = False,
) -> list[Candidate]:
    """The candidates in the ranker's order, the best `ranker_keep` of them (as is for 'none').

    `retrieved` candidates come from a KG search, best first: the embedder ranker then fuses
    its order with the search's (reciprocal rank fusion), so the string and prior signals the
    search ranked by are kept, not replaced by cosine alone.
    """
    if settings.ranker == "none":
        return candidates
    if settings.ranker == "embedder":
        order = best_first(
            embedder_scores(
                settings.embedder, mention, context, candidates, precision=settings.precision
            )
        )
        if retrieved:
            order = fuse([list(range(len(candidates))), order])
    else:
        from i2cr.dim.ranker import load_ranker

        order = load_ranker(settings.ranker_weights).order(
            mention=mention,
            context=context,
            candidates=candidates,
            clues=dict(clues or {}),
            image=image,
            precision=settings.precision,
        )
    return [candidates[i] for i in order[: settings.ranker_keep]]
