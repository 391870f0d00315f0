"""Knowledge graphs the retrieve node searches for candidates: SQLite, PostgreSQL or JSONL."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal, Protocol

from i2cr.errors import InputError
from i2cr.kg.entities import Entity, iter_entities, read_entities
from i2cr.kg.locations import is_postgres_url, postgres_store_module
from i2cr.kg.memory import InMemoryKG
from i2cr.kg.store import SqliteKG, build_store, is_sqlite_file
from i2cr.state import Candidate

StoreKind = Literal["auto", "sqlite", "memory"]

__all__ = [
    "Entity",
    "InMemoryKG",
    "KnowledgeGraph",
    "SqliteKG",
    "build_store",
    "iter_entities",
    "open_kg",
    "read_entities",
]


class KnowledgeGraph(Protocol):
    """What the retrieve node needs from a KG."""

    def search(self, mention: str, k: int) -> list[Candidate]:
        """Return the k best candidates for a mention, best first."""
        ...


@lru_cache(maxsize=4)
def open_kg(path: str, store: StoreKind = "auto") -> KnowledgeGraph:
    """Open the knowledge graph at `path` (once per process).

    'sqlite' is a store built by `i2cr kg build`; 'memory' reads an entity JSONL file and
    searches it exhaustively; 'auto' tells them apart by the file's header. A
    `postgresql://` URL names a store built there by `i2cr kg build` (`i2cr.kg.postgres`).
    """
    if is_postgres_url(path):
        return postgres_store_module().PostgresKG(path)
    file = Path(path)
    if not file.is_file():
        raise InputError(f"knowledge graph file not found: {path}")
    if store == "sqlite" or (store == "auto" and is_sqlite_file(file)):
        return SqliteKG(file)
    if store in ("memory", "auto"):
        return InMemoryKG(read_entities(file))
    raise InputError(f"unknown KG store kind {store!r}: use auto, sqlite or memory")
