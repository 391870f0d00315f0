"""The one way a command takes a subset: seeded, random, and in the order of the file."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def seeded_subset(items: Sequence[T], size: int | None, seed: int) -> list[T]:
    """A seeded random subset of `size` items in their order (all when size is None)."""
    if size is None or size >= len(items):
        return list(items)
    if size < 1:
        raise ValueError(f"the subset size must be at least 1, got {size}")
    keep = set(random.Random(seed).sample(range(len(items)), size))
    return [item for i, item in enumerate(items) if i in keep]
