"""A knowledge graph held in memory and searched exhaustively (every label is scored).

Right for small KGs and as the reference the indexed store is measured against.
"""

from __future__ import annotations

from i2cr.kg.entities import Entity
from i2cr.kg.matching import normalize, rank_labels
from i2cr.state import Candidate


class InMemoryKG:
    """Entities held in memory; top-k by the shared label ranking over names and aliases."""

    def __init__(self, entities: list[Entity]) -> None:
        """Normalise every name and alias once."""
        self.entities = entities
        self.labels: list[str] = []
        self.owners: list[int] = []
        for position, entity in enumerate(entities):
            for label in entity.labels:
                self.labels.append(normalize(label))
                self.owners.append(position)

    def search_entities(self, mention: str, k: int) -> list[Entity]:
        """Return the k entities whose best label matches the mention best."""
        query = normalize(mention)
        limit = k * 4
        while True:
            ranked = rank_labels(query, self.labels, limit)
            chosen = list(dict.fromkeys(self.owners[i] for i in ranked))[:k]
            if len(chosen) == k or len(ranked) < limit:
                return [self.entities[i] for i in chosen]
            limit *= 4

    def search(self, mention: str, k: int) -> list[Candidate]:
        """Return the k best candidates for the mention."""
        return [entity.as_candidate() for entity in self.search_entities(mention, k)]
