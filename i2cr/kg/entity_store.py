"""What the SQLite and PostgreSQL KG stores share: format, rows, the index's metadata, search.

A store ranks entity row ids by their names (`_fuzzy_ids`) and reads entities by row id
(`_entities`); the search, and hybrid search (`i2cr.kg.hybrid`), are made of these.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from i2cr.errors import InputError
from i2cr.kg.entities import Entity
from i2cr.kg.matching import normalize, trigrams
from i2cr.kg.trigram_index import cached_postings, pool_labels
from i2cr.state import Candidate

FORMAT_VERSION = "1"

# The entity rows `entity_with_description` reads; `{schema}` is the tables' prefix and
# `{among}` the store's test of `e.id` against a list of ids.
ENTITY_ROWS_SQL = """
SELECT e.id, e.qid, name, aliases, description, image, s.source_hash, s.text, b.text
FROM {schema}entities e
LEFT JOIN {schema}enrichments s ON s.qid = e.qid AND s.kind = 'summary'
LEFT JOIN {schema}enrichments b ON b.qid = e.qid AND b.kind = 'brief'
WHERE e.id {among}
"""

EntityRow = tuple[int, str, str, str, str, str | None]


@dataclass
class BuildSummary:
    """What a build wrote, and what it could not keep from the store it replaced."""

    entities: int
    labels: int
    grams: int
    bytes: int
    warnings: list[str] = field(default_factory=list)


def text_hash(*parts: str) -> str:
    """Return a short stable fingerprint of the texts an enrichment was made from."""
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


def entity_row(row_id: int, entity: Entity) -> EntityRow:
    """The entities table's row of an entity: id, qid, name, aliases (JSON), description, image."""
    aliases = json.dumps(list(entity.aliases), ensure_ascii=False)
    return (row_id, entity.qid, entity.name, aliases, entity.description, entity.image)


def entity_with_description(row: Sequence[Any]) -> tuple[Entity, str]:
    """The entity of an ENTITY_ROWS_SQL row and the description to show for it.

    The summary is shown while it is of today's description; else the description, else the
    brief.
    """
    _, qid, name, aliases, description, image, summary_of, summary, brief = row
    entity = Entity(qid, name, description, tuple(json.loads(aliases)), image)
    if summary and summary_of == text_hash(description):
        description = summary
    return entity, description or brief or ""


def entities_in_order(rows: Iterable[Sequence[Any]], ids: list[int]) -> list[tuple[Entity, str]]:
    """The entities of ENTITY_ROWS_SQL rows in the order of `ids`, each with its description."""
    by_id = {row[0]: entity_with_description(row) for row in rows}
    return [by_id[i] for i in ids]


class EntityStore(ABC):
    """A built KG store: its entity count, its trigram index's metadata and the search.

    A store opens the index with `_open_index` and finds label pools with `_postings_pool`.
    """

    entity_count: int
    pool: int
    label_sizes: np.ndarray
    common_df: int

    def _open_index(
        self, meta: Mapping[str, Any], where: str, pool: int, common_share: float
    ) -> None:
        """Read the store's meta table; posting lists longer than `common_share` are frequent."""
        version = meta.get("version")
        if isinstance(version, bytes):
            version = version.decode()
        if version != FORMAT_VERSION:
            raise InputError(f"{where}: KG store format {version!r}, rebuild it")
        self.pool = pool
        self.entity_count = int(meta["entities"])
        self.label_sizes = np.frombuffer(meta["label_sizes"], dtype=np.uint8)
        self.common_df = max(1000, int(common_share * len(self.label_sizes)))
        self._frequent: dict[str, np.ndarray] = {}

    def _postings_pool(
        self, query: str, fetch: Callable[[list[str]], Iterable[tuple[str, bytes]]]
    ) -> np.ndarray:
        """The pool of labels for the normalised query, from posting lists `fetch` reads.

        The frequent posting lists stay in memory once read.
        """
        grams = trigrams(query) if query else set()
        if not grams:
            return np.empty(0, dtype=np.uint32)
        lists = cached_postings(grams, self._frequent, self.common_df, fetch)
        return pool_labels(lists, len(grams), self.label_sizes, self.common_df, self.pool)

    def __len__(self) -> int:
        """Count the entities."""
        return self.entity_count

    def search(self, mention: str, k: int) -> list[Candidate]:
        """Return the k best candidates, with enriched descriptions where made."""
        return [
            entity.as_candidate(description)
            for entity, description in self.search_entities(mention, k)
        ]

    def search_entities(self, mention: str, k: int) -> list[tuple[Entity, str]]:
        """Return the k best entities, each with the description to show for it."""
        chosen = self._fuzzy_ids(normalize(mention), k)
        return self._entities(chosen) if chosen else []

    @abstractmethod
    def _fuzzy_ids(self, query: str, k: int) -> list[int]:
        """Row ids of the k entities whose labels match the normalised query best."""

    @abstractmethod
    def _entities(self, ids: list[int]) -> list[tuple[Entity, str]]:
        """The entities of the row ids, in their order, each with the description to show."""
