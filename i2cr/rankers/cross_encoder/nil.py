"""The NIL rule: no candidate's cross-encoder score reaches a threshold learned on labelled data.

The threshold is the one under which the ranker with the rule answers most mentions right: a
NIL mention when the rule fires, any other when it does not and the ranker's best is gold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from i2cr.datasets import Sample
from i2cr.rankers.cross_encoder.ranker import CrossEncoderRanker
from i2cr.rankers.dim.features import gold_index


@dataclass
class NilRule:
    """A threshold on the best candidate's score and how it separated the data it came from."""

    threshold: float
    nil_precision: float
    nil_recall: float
    top1: float  # the ranker with the rule: NIL right, or not NIL and its best is gold
    mentions: int
    nil_mentions: int

    def as_dict(self) -> dict[str, float | int]:
        """The rule as JSON-ready values."""
        return asdict(self)


def best_scores(
    ranker: CrossEncoderRanker, samples: Sequence[Sample]
) -> tuple[list[float], list[bool]]:
    """Each sample's best candidate score, and whether that candidate is its gold entity."""
    tops, right = [], []
    for sample in samples:
        scores = ranker.sample_scores(sample)
        best = max(range(len(scores)), key=lambda i: scores[i])
        tops.append(scores[best])
        right.append(best == gold_index(sample))
    return tops, right


def rule_at(
    threshold: float, tops: Sequence[float], is_nil: Sequence[bool], top_right: Sequence[bool]
) -> NilRule:
    """How the rule with this threshold decides the given mentions."""
    said_nil = [top < threshold for top in tops]
    cases = list(zip(said_nil, is_nil, top_right, strict=True))
    hits = sum(said and nil for said, nil, _ in cases)
    answered = sum((not said and not nil and right) for said, nil, right in cases)
    return NilRule(
        threshold=threshold,
        nil_precision=hits / max(sum(said_nil), 1),
        nil_recall=hits / max(sum(is_nil), 1),
        top1=(hits + answered) / max(len(cases), 1),
        mentions=len(cases),
        nil_mentions=sum(is_nil),
    )


def learn_threshold(
    tops: Sequence[float], is_nil: Sequence[bool], top_right: Sequence[bool]
) -> NilRule:
    """The threshold (below every top score, or midway between two) with the best top-1.

    Ties go to the lower threshold, which answers NIL less often.
    """
    if not tops:
        raise ValueError("no scores to learn a NIL threshold from")
    values = sorted(set(tops))
    cuts = [values[0] - 1.0] + [(a + b) / 2 for a, b in zip(values, values[1:], strict=False)]
    rules = [rule_at(cut, tops, is_nil, top_right) for cut in cuts]
    return max(rules, key=lambda rule: rule.top1)
