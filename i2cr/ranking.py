"""The graph's seam to the first stage: re-order and trim the candidates before TES.

The rankers themselves live in `i2cr.rankers` (one interface, one registry); this module only
asks the one the settings name (`Context.ranker`) and reads its order and confidences.
"""

from __future__ import annotations

from dataclasses import dataclass

from i2cr.context import Context
from i2cr.datasets.sample import Sample
from i2cr.kg.fusion import fuse
from i2cr.models.precision import Precision
from i2cr.rankers import load_first_stage
from i2cr.rankers.signals import embedder_scores as query_embedder_scores
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
    query = Sample(id="", mention=mention, context=context, candidates=candidates)
    return query_embedder_scores(query, embedder, precision)


def best_first(scores: list[float]) -> list[int]:
    """Positions by score, best first; ties keep the given order."""
    return sorted(range(len(scores)), key=lambda i: -scores[i])


def first_stage_scores(settings: Context, query: Sample) -> list[float]:
    """The scores the run's ranker gives the query's candidates (0 each for 'none')."""
    ranker = load_first_stage(settings)
    return [0.0] * len(query.candidates) if ranker is None else ranker.rank(query).scores


def ranker_says_nil(settings: Context, query: Sample) -> bool:
    """The NIL rule (`ranker_nil`, `allow_nil`): no cross-encoder score reaches its threshold."""
    if not (settings.ranker_nil and settings.allow_nil and settings.ranker == "cross_encoder"):
        return False
    from i2cr.rankers.cross_encoder.ranker import load_cross_encoder

    ranker = load_cross_encoder(settings.ranker_weights)
    return ranker.says_nil(ranker.sample_scores(query))


@dataclass(frozen=True)
class Ranked:
    """The candidates in the first stage's order and, where it has them, their confidences."""

    candidates: list[Candidate]
    confidences: list[float] | None = None


def rank_candidates(settings: Context, query: Sample, *, retrieved: bool = False) -> Ranked:
    """The query's candidates in the ranker's order, the best `ranker_keep` (as is for 'none').

    `retrieved` candidates come from a KG search, best first: every ranker but DIM then fuses
    its order with the search's (reciprocal rank fusion), so the string and prior signals the
    search ranked by are kept, not replaced by one score alone.
    """
    candidates = query.candidates
    ranker = load_first_stage(settings)
    if ranker is None:
        return Ranked(candidates)
    scored = ranker.rank(query)
    order = best_first(scored.scores)
    if retrieved and settings.ranker != "dim":
        order = fuse([list(range(len(candidates))), order])
    kept = order[: settings.ranker_keep]
    confidences = scored.confidences
    return Ranked(
        [candidates[i] for i in kept],
        None if confidences is None else [confidences[i] for i in kept],
    )
