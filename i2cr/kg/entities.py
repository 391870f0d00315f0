"""KG entities and the JSONL files they come in."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from i2cr.datasets import Sample
from i2cr.errors import InputError
from i2cr.jsonl import json_lines
from i2cr.state import Candidate


@dataclass(frozen=True)
class Entity:
    """A KG entity: its id, name, other names, description, image and popularity.

    `popularity` is a count such as Wikidata's sitelinks (0: unknown); the alias priors use it.
    """

    qid: str
    name: str
    description: str = ""
    aliases: tuple[str, ...] = ()
    image: str | None = None
    popularity: int = 0

    @property
    def labels(self) -> tuple[str, ...]:
        """Every name the entity can be found by."""
        return (self.name, *(a for a in self.aliases if a != self.name))

    def as_candidate(self, description: str | None = None) -> Candidate:
        """Show the entity as the selector sees it (optionally with another description)."""
        desc = self.description if description is None else description
        return Candidate(name=self.name, desc=desc, qid=self.qid)


def entity_from_row(row: Any, where: str) -> Entity:
    """Read an entity from one JSON object.

    Fields: {qid|id, name, aliases?, description|desc?, image?, popularity?}.
    """
    if not isinstance(row, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(row).__name__}")
    qid = row.get("qid", row.get("id"))
    if not isinstance(qid, str | int) or not str(qid).strip():
        raise InputError(f"{where} field 'qid': missing or empty (the entity id)")
    name = row.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{where} field 'name': missing or empty")
    aliases = row.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise InputError(f"{where} field 'aliases': expected a list of strings")
    description = row.get("description", row.get("desc")) or ""
    if not isinstance(description, str):
        raise InputError(f"{where} field 'description': expected a string")
    image = row.get("image") or None
    if image is not None and not isinstance(image, str):
        raise InputError(f"{where} field 'image': expected a string")
    popularity = row.get("popularity") or 0
    if not isinstance(popularity, int) or isinstance(popularity, bool) or popularity < 0:
        raise InputError(f"{where} field 'popularity': expected a count (integer >= 0)")
    return Entity(
        qid=str(qid).strip(),
        name=name.strip(),
        description=description.strip(),
        aliases=tuple(a.strip() for a in aliases if a.strip()),
        image=image,
        popularity=popularity,
    )


def iter_entities(path: str | Path) -> Iterator[tuple[int, Entity]]:
    """(line number, entity) for each non-blank line of a JSONL entity file."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"entity file not found: {file}")
    number = 0
    try:
        for number, row in json_lines(file):
            if isinstance(row, InputError):
                raise row
            yield number, entity_from_row(row, f"{file}:{number}")
    except UnicodeDecodeError as err:
        where = f" after line {number}" if number else ""
        bad = err.object[err.start]
        raise InputError(f"{file}: not UTF-8 text{where} (byte {bad:#04x}: {err.reason})") from err


def read_entities(path: str | Path) -> list[Entity]:
    """Every entity of a JSONL entity file."""
    return [entity for _, entity in iter_entities(path)]


def entities_from_samples(samples: Iterable[Sample]) -> list[Entity]:
    """Collect the entities a dataset names: candidates with a qid, gold (name, qid) pairs.

    Rows of one qid merge: the first name stays the name, other names become aliases, the
    first non-empty description is kept.
    """
    merged: dict[str, tuple[str, dict[str, None], str]] = {}

    def add(qid: str, name: str, description: str) -> None:
        if qid not in merged:
            merged[qid] = (name, {}, description)
            return
        first, aliases, known = merged[qid]
        if name != first:
            aliases[name] = None
        merged[qid] = (first, aliases, known or description)

    for sample in samples:
        for candidate in sample.candidates:
            if candidate.get("qid"):
                add(candidate["qid"], candidate["name"], candidate["desc"])
        if sample.gold_qid and sample.gold_name:
            add(sample.gold_qid, sample.gold_name, "")
    return [
        Entity(qid, name, description, tuple(aliases))
        for qid, (name, aliases, description) in merged.items()
    ]
