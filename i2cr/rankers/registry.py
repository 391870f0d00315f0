"""One interface for every first stage, and the registry that builds one from the settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from i2cr.context import Context
from i2cr.datasets.sample import Sample
from i2cr.rankers.combined import combined_signals, load_combination
from i2cr.rankers.fitting import standard_scores
from i2cr.rankers.signals import signal_scores


def signal(query: Sample, name: str, settings: Context) -> list[float]:
    """One signal of the query's candidates, with the run's embedder and precision."""
    return signal_scores(query, (name,), settings.embedder, settings.precision)[name]


@dataclass(frozen=True)
class Scored:
    """A first stage's scores of a query's candidates, and their confidences if it has them.

    Both lists are in the candidates' order; a higher score is more likely the one, and a
    confidence is the calibrated probability that the candidate is right.
    """

    scores: list[float]
    confidences: list[float] | None = None


class Ranker(Protocol):
    """A first stage: scores a query's candidates."""

    def rank(self, query: Sample) -> Scored: ...  # noqa: D102


@dataclass(frozen=True)
class EmbedderRanker:
    """cosine(mention + context, name + description) with the run's embedder."""

    settings: Context

    def rank(self, query: Sample) -> Scored:  # noqa: D102
        return Scored(signal(query, "embedder", self.settings))


@dataclass(frozen=True)
class DimRanker:
    """The trained DIM fusion ranker (`ranker_weights`, else the shipped one)."""

    settings: Context

    def rank(self, query: Sample) -> Scored:  # noqa: D102
        from i2cr.rankers.dim.ranker import load_ranker

        if not self.settings.ranker_weights:
            return Scored(signal(query, "dim", self.settings))
        ranker = load_ranker(self.settings.ranker_weights)
        return Scored(ranker.score_samples([query], self.settings.precision)[0])


@dataclass(frozen=True)
class CrossEncoderRanker:
    """The trained cross-encoder, blended with DIM by `ranker_dim_weight`.

    With weight w: (1 - w) * z(cross-encoder) + w * z(DIM), z standardising over the
    candidates given.
    """

    settings: Context

    def rank(self, query: Sample) -> Scored:  # noqa: D102
        from i2cr.rankers.cross_encoder.ranker import load_cross_encoder

        if self.settings.ranker_weights:
            own = load_cross_encoder(self.settings.ranker_weights).sample_scores(query)
        else:
            own = signal(query, "cross_encoder", self.settings)
        weight = self.settings.ranker_dim_weight
        if weight == 0 or len(query.candidates) < 2:
            return Scored(own)
        dim = signal(query, "dim", self.settings)
        blend = (1 - weight) * standard_scores(own) + weight * standard_scores(dim)
        return Scored([float(s) for s in blend])


@dataclass(frozen=True)
class CombinedRanker:
    """Every signal weighted as fitted (`ranker_weights`, else the shipped combination)."""

    settings: Context

    def rank(self, query: Sample) -> Scored:  # noqa: D102
        combination = load_combination(self.settings.ranker_weights)
        signals = combined_signals(combination, query, self.settings.precision)
        scores = combination.scores(signals)
        return Scored(scores, combination.confidences(signals, scores))


RANKERS: dict[str, Callable[[Context], Ranker]] = {
    "embedder": EmbedderRanker,
    "dim": DimRanker,
    "cross_encoder": CrossEncoderRanker,
    "combined": CombinedRanker,
}


def load_first_stage(settings: Context) -> Ranker | None:
    """The ranker the settings name (`ranker`), or None for 'none' (the given order)."""
    if settings.ranker == "none":
        return None
    return RANKERS[settings.ranker](settings)
