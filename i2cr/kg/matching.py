"""How a mention is compared with entity labels: one normalisation and one ranking for every store.

Labels are ranked by rapidfuzz WRatio, ties broken by the plain edit-distance ratio and then by
label order, so the indexed store and exhaustive search agree whenever the index finds a label.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.utils import default_process


def normalize(text: str) -> str:
    """Lower-case, turn punctuation and underscores into spaces, trim (rapidfuzz's processor)."""
    return str(default_process(text))


def trigrams(normalized: str) -> set[str]:
    """Return the distinct character trigrams of a normalised label, padded at word edges."""
    padded = f" {normalized} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def rank_labels(query: str, labels: Sequence[str], limit: int) -> list[int]:
    """Return the positions of the `limit` best labels for a query (both normalised)."""
    if not labels or not query:
        return []
    weighted = process.cdist([query], labels, scorer=fuzz.WRatio, dtype=np.float32)[0]
    if len(labels) > limit:
        # Only labels scoring at least the limit-th best can reach the top: score the rest no more.
        cutoff = np.partition(weighted, len(labels) - limit)[len(labels) - limit]
        keep = np.flatnonzero(weighted >= cutoff)
    else:
        keep = np.arange(len(labels))
    plain = process.cdist(
        [query], [labels[int(i)] for i in keep], scorer=fuzz.ratio, dtype=np.float32
    )[0]
    order = np.lexsort((keep, -plain, -weighted[keep]))
    return [int(keep[i]) for i in order[:limit]]
