"""An in-memory knowledge graph searched by fuzzy name matching (rapidfuzz)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rapidfuzz import fuzz, process

from i2cr.errors import InputError
from i2cr.state import Candidate


@dataclass(frozen=True)
class Entity:
    """A KG entity: its id, name, other names and description."""

    qid: str
    name: str
    desc: str = ""
    aliases: tuple[str, ...] = ()

    def as_candidate(self) -> Candidate:
        """The entity as the selector sees it."""
        return Candidate(name=self.name, desc=self.desc, qid=self.qid)


class InMemoryKG:
    """Entities held in memory; top-k by rapidfuzz WRatio over names and aliases."""

    def __init__(self, entities: list[Entity]) -> None:
        """Index the entities' names and aliases."""
        self.entities = entities
        self._labels: list[str] = []
        self._owner: list[int] = []
        for i, entity in enumerate(entities):
            for label in (entity.name, *entity.aliases):
                self._labels.append(label)
                self._owner.append(i)

    def search(self, mention: str, k: int) -> list[Candidate]:
        """The k entities whose best label matches the mention best."""
        found: list[Candidate] = []
        seen: set[int] = set()
        hits = process.extract(mention, self._labels, scorer=fuzz.WRatio, limit=k * 4)
        for _, _, label_index in hits:
            owner = self._owner[label_index]
            if owner not in seen:
                seen.add(owner)
                found.append(self.entities[owner].as_candidate())
            if len(found) == k:
                break
        return found


def read_entities(path: Path) -> list[Entity]:
    """Entities from a JSONL file of {qid, name, desc|description, aliases}."""
    entities = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                entities.append(
                    Entity(
                        qid=str(row.get("qid", row.get("id", ""))),
                        name=row["name"],
                        desc=row.get("desc", row.get("description", "")) or "",
                        aliases=tuple(row.get("aliases", ())),
                    )
                )
            except (json.JSONDecodeError, KeyError, TypeError) as err:
                raise InputError(f"{path}:{number}: not a KG entity row ({err})") from err
    return entities


@lru_cache(maxsize=4)
def open_kg(path: str) -> InMemoryKG:
    """The knowledge graph stored at `path`, loaded once."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"knowledge graph file not found: {path}")
    return InMemoryKG(read_entities(file))
