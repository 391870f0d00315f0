"""Reciprocal rank fusion of ranked lists (candidate sources, a ranker and a KG search)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

RRF_K = 60

T = TypeVar("T", bound=Hashable)


def fuse(rankings: Sequence[Sequence[T]], rrf_k: int = RRF_K) -> list[T]:
    """Items by the sum of 1 / (rrf_k + rank) over the rankings, best first.

    Ties keep the order in which the rankings first name the items.
    """
    scores: dict[T, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (rrf_k + rank)
    return sorted(scores, key=lambda item: -scores[item])
