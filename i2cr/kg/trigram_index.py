"""The character-trigram index both KG stores keep: how it is built and how a query reads it.

Every distinct normalised name and alias of an entity is a label, numbered in entity order. The
index holds, per trigram (padded at word edges), the sorted ids of the labels that contain it,
and each label's trigram count. A query reads the posting lists of the mention's trigrams only,
counts how many trigrams each label shares with the mention, keeps a pool of the best labels by
three overlap views (the mention inside the label, the label inside the mention, and both alike)
and ranks that pool with the same rapidfuzz ranking exhaustive search uses. No query touches
every entity.
"""

from __future__ import annotations

import sqlite3
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import groupby
from operator import itemgetter
from typing import Any

import numpy as np

from i2cr.kg.entities import Entity
from i2cr.kg.matching import normalize, rank_labels, trigrams

# (trigram, label) pairs held in memory while building, about 8 bytes each (400 MB).
SPILL_PAIRS = 50_000_000
PREPOOL_FACTOR = 10


class TrigramIndex:
    """Collects (trigram, label) pairs while entities stream in, then gives the posting lists.

    Past SPILL_PAIRS pairs the postings so far go to a temporary database as a sorted run, so
    memory stays bounded however many labels stream in; the posting lists join each trigram's
    runs in order (label ids only grow, so the joined lists stay sorted).
    """

    def __init__(self) -> None:
        """Start empty."""
        self.vocabulary: dict[str, int] = {}
        self.gram_ids = array("I")
        self.label_ids = array("I")
        self.label_sizes = array("B")
        self._runs: sqlite3.Connection | None = None
        self._run_count = 0

    @property
    def label_count(self) -> int:
        """How many labels are indexed."""
        return len(self.label_sizes)

    def add_labels(self, entity: Entity) -> list[tuple[int, str]]:
        """Index the entity's distinct normalised labels; (label id, text) of each."""
        added = []
        for text in dict.fromkeys(normalize(label) for label in entity.labels):
            if text:
                added.append((self.label_count, text))
                self._add(self.label_count, text)
        return added

    def _add(self, label_id: int, text: str) -> None:
        grams = trigrams(text)
        for gram in grams:
            self.gram_ids.append(self.vocabulary.setdefault(gram, len(self.vocabulary)))
            self.label_ids.append(label_id)
        self.label_sizes.append(min(len(grams), 255))
        if len(self.gram_ids) >= SPILL_PAIRS:
            self._spill()

    def _postings(self) -> Iterator[tuple[int, bytes]]:
        """(gram id, posting list) for every gram of the pairs in memory."""
        gram_ids = np.frombuffer(self.gram_ids, dtype=np.uint32)
        order = np.argsort(gram_ids, kind="stable")
        postings = np.frombuffer(self.label_ids, dtype=np.uint32)[order]
        counts = np.bincount(gram_ids, minlength=len(self.vocabulary))
        ends = np.cumsum(counts)
        for gram_id in np.flatnonzero(counts):
            start = ends[gram_id] - counts[gram_id]
            yield int(gram_id), postings[start : ends[gram_id]].astype("<u4").tobytes()

    def _spill(self) -> None:
        if self._runs is None:
            # A private temporary database on disk, removed when closed.
            self._runs = sqlite3.connect("")
            self._runs.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")
            self._runs.execute(
                "CREATE TABLE runs (gram INTEGER, run INTEGER, postings BLOB NOT NULL, "
                "PRIMARY KEY (gram, run)) WITHOUT ROWID"
            )
        self._runs.executemany(
            "INSERT INTO runs VALUES (?, ?, ?)",
            ((gram, self._run_count, blob) for gram, blob in self._postings()),
        )
        self._runs.commit()
        self._run_count += 1
        self.gram_ids, self.label_ids = array("I"), array("I")

    def posting_lists(self) -> Iterator[tuple[str, bytes]]:
        """(trigram, its label ids as little-endian uint32), in the order trigrams first came."""
        grams = list(self.vocabulary)
        if self._runs is None:
            yield from ((grams[gram], blob) for gram, blob in self._postings())
            return
        self._spill()
        try:
            rows = self._runs.execute("SELECT gram, postings FROM runs ORDER BY gram, run")
            for gram, group in groupby(rows, key=itemgetter(0)):
                yield grams[gram], b"".join(blob for _, blob in group)
        finally:
            self._runs.close()
            self._runs = None


def pool_labels(
    lists: list[np.ndarray], query_size: int, label_sizes: np.ndarray, common_df: int, pool: int
) -> np.ndarray:
    """The labels sharing most of the query's trigrams, from the trigrams' posting lists.

    `pool` labels per overlap view (`best_labels`); posting lists longer than `common_df` are
    only counted for the best of the labels the rarer trigrams find.
    """
    lists = sorted(lists, key=len)
    if not lists:
        return np.empty(0, dtype=np.uint32)
    common = min(sum(len(p) > common_df for p in lists), len(lists) // 2)
    rare, frequent = lists[: len(lists) - common], lists[len(lists) - common :]
    labels, shared = np.unique(np.concatenate(rare), return_counts=True)
    if frequent:
        keep = best_labels(labels, shared, query_size, label_sizes, pool * PREPOOL_FACTOR)
        labels, shared = labels[keep], shared[keep]
        for posting in frequent:
            at = np.minimum(np.searchsorted(posting, labels), len(posting) - 1)
            shared += posting[at] == labels
    return labels[best_labels(labels, shared, query_size, label_sizes, pool)]


def best_labels(
    labels: np.ndarray, shared: np.ndarray, query_size: int, label_sizes: np.ndarray, count: int
) -> np.ndarray:
    """Positions of the `count` best labels by each overlap view (query, label, Dice), merged."""
    if len(labels) <= count:
        return np.arange(len(labels))
    sizes = label_sizes[labels].astype(np.float32)
    both = 2 * shared / (query_size + sizes)
    views = (shared / query_size + both / 100, shared / sizes + both / 100, both)
    return np.unique(np.concatenate([np.argpartition(-v, count)[:count] for v in views]))


def best_entity_ids(query: str, rows: Sequence[Sequence[Any]], k: int) -> list[int]:
    """The k best entities of label rows (label id, entity id, text), ranked by rapidfuzz."""
    ranked = rank_labels(query, [row[2] for row in rows], len(rows))
    return list(dict.fromkeys(rows[i][1] for i in ranked))[:k]


def cached_postings(
    grams: set[str],
    frequent: dict[str, np.ndarray],
    common_df: int,
    fetch: Callable[[list[str]], Iterable[tuple[str, bytes]]],
) -> list[np.ndarray]:
    """Posting lists of the grams: from `frequent`, else fetched (and kept there if long)."""
    lists = [frequent[g] for g in grams if g in frequent]
    wanted = [g for g in grams if g not in frequent]
    if wanted:
        for gram, blob in fetch(wanted):
            posting = np.frombuffer(blob, dtype="<u4")
            if len(posting) > common_df:
                frequent[gram] = posting
            lists.append(posting)
    return lists
