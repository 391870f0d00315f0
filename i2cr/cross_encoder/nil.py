"""The NIL rule: no candidate's cross-encoder score reaches a threshold learned on labelled data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from i2cr.cross_encoder.ranker import CrossEncoderRanker
from i2cr.datasets import Sample


@dataclass
class NilRule:
    """A threshold on the best candidate's score and how it separated the data it came from."""

    threshold: float
    nil_precision: float
    nil_recall: float
    accuracy: float
    mentions: int
    nil_mentions: int

    def as_dict(self) -> dict[str, float | int]:
        """The rule as JSON-ready values."""
        return asdict(self)


def top_scores(ranker: CrossEncoderRanker, samples: Sequence[Sample]) -> list[float]:
    """Each sample's best candidate score."""
    return [
        max(
            ranker.scores(
                mention=s.mention, context=s.context, candidates=s.candidates, clues=s.clues
            )
        )
        for s in samples
    ]


def _rule(threshold: float, tops: Sequence[float], is_nil: Sequence[bool]) -> NilRule:
    said_nil = [top < threshold for top in tops]
    hits = sum(s and n for s, n in zip(said_nil, is_nil, strict=True))
    right = sum(s == n for s, n in zip(said_nil, is_nil, strict=True))
    return NilRule(
        threshold=threshold,
        nil_precision=hits / max(sum(said_nil), 1),
        nil_recall=hits / max(sum(is_nil), 1),
        accuracy=right / max(len(tops), 1),
        mentions=len(tops),
        nil_mentions=sum(is_nil),
    )


def learn_threshold(tops: Sequence[float], is_nil: Sequence[bool]) -> NilRule:
    """The threshold (midway between two observed top scores) that decides NIL most accurately.

    Ties go to the lower threshold, which answers NIL less often.
    """
    if not tops:
        raise ValueError("no scores to learn a NIL threshold from")
    values = sorted(set(tops))
    cuts = [values[0] - 1.0] + [(a + b) / 2 for a, b in zip(values, values[1:], strict=False)]
    return max((_rule(cut, tops, is_nil) for cut in cuts), key=lambda rule: rule.accuracy)
