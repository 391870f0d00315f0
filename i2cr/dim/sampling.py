"""Seeded evaluation views of a dataset: a fixed subset and shuffled candidate order."""

from __future__ import annotations

import random
from dataclasses import replace

from i2cr.datasets import Sample


def seeded_subset(samples: list[Sample], size: int | None, seed: int) -> list[Sample]:
    """`size` samples drawn with `seed`, in dataset order (all of them when size is None)."""
    if size is None or size >= len(samples):
        return list(samples)
    chosen = set(random.Random(seed).sample(range(len(samples)), size))
    return [s for i, s in enumerate(samples) if i in chosen]


def shuffle_candidates(samples: list[Sample], seed: int) -> list[Sample]:
    """Copies of the samples with each candidate list shuffled by (seed, sample id).

    The released order puts the gold entity first for most mentions; shuffling measures the
    ranker rather than that order.
    """
    shuffled = []
    for sample in samples:
        candidates = list(sample.candidates)
        random.Random(f"{seed}:{sample.id}").shuffle(candidates)
        shuffled.append(replace(sample, candidates=candidates))
    return shuffled
