"""First-stage rankers that re-order and trim the candidates before TES (`Context.ranker`)."""

from __future__ import annotations

import statistics

from i2cr.context import Context
from i2cr.datasets.sample import Sample
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


def cross_encoder_scores(settings: Context, query: Sample) -> list[float]:
    """The cross-encoder's score of each candidate (`ranker_weights`, else the shipped one)."""
    from i2cr.cross_encoder.ranker import load_cross_encoder

    return load_cross_encoder(settings.ranker_weights).sample_scores(query)


def standardised(scores: list[float]) -> list[float]:
    """Scores as standard scores within the list (all 0 when they are equal)."""
    spread = statistics.pstdev(scores)
    mean = statistics.fmean(scores)
    return [(s - mean) / spread if spread > 0 else 0.0 for s in scores]


def first_stage_scores(settings: Context, query: Sample) -> list[float]:
    """The scores the cross-encoder ranker orders by: its own, or blended with DIM's.

    With `ranker_dim_weight` w: (1 - w) * z(cross-encoder) + w * z(DIM), z standardising over
    the candidates given.
    """
    own = cross_encoder_scores(settings, query)
    weight = settings.ranker_dim_weight
    if weight == 0 or len(query.candidates) < 2:
        return own
    from i2cr.dim.ranker import load_ranker

    dim = load_ranker().score_samples([query], settings.precision)[0]
    return [
        (1 - weight) * a + weight * b
        for a, b in zip(standardised(own), standardised(dim), strict=True)
    ]


def ranker_says_nil(settings: Context, query: Sample) -> bool:
    """The NIL rule (`ranker_nil`, `allow_nil`): no cross-encoder score reaches its threshold."""
    if not (settings.ranker_nil and settings.allow_nil and settings.ranker == "cross_encoder"):
        return False
    from i2cr.cross_encoder.ranker import load_cross_encoder

    ranker = load_cross_encoder(settings.ranker_weights)
    return ranker.says_nil(ranker.sample_scores(query))


def rank_candidates(
    settings: Context, query: Sample, *, retrieved: bool = False
) -> list[Candidate]:
    """The query's candidates in the ranker's order, the best `ranker_keep` (as is for 'none').

    `retrieved` candidates come from a KG search, best first: the embedder and cross-encoder
    rankers then fuse their order with the search's (reciprocal rank fusion), so the string
    and prior signals the search ranked by are kept, not replaced by one score alone.
    """
    candidates = query.candidates
    if settings.ranker == "none":
        return candidates
    if settings.ranker == "embedder":
        order = best_first(
            embedder_scores(
                settings.embedder,
                query.mention,
                query.context,
                candidates,
                precision=settings.precision,
            )
        )
    elif settings.ranker == "cross_encoder":
        order = best_first(first_stage_scores(settings, query))
    else:
        from i2cr.dim.ranker import load_ranker

        order = load_ranker(settings.ranker_weights).order(query, settings.precision)
    if retrieved and settings.ranker != "dim":
        order = fuse([list(range(len(candidates))), order])
    return [candidates[i] for i in order[: settings.ranker_keep]]
