"""Opening the KG a location names: the one module that knows every store.

`open_kg(location).search(mention, k)` is the seam new stores come in by. The stores do not
import this module; the PostgreSQL store is imported only for a `postgresql://` URL (it needs
psycopg).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Literal, Protocol

from i2cr.errors import InputError
from i2cr.kg.dense import DenseFiles, DenseIndex
from i2cr.kg.enrichment_table import EnrichmentTable, SqliteEnrichments
from i2cr.kg.entities import Entity, iter_entities
from i2cr.kg.hybrid import HybridKG, HybridSearch
from i2cr.kg.locations import is_postgres_url
from i2cr.kg.memory import InMemoryKG
from i2cr.kg.store import SqliteKG, is_sqlite_file
from i2cr.models.precision import Precision
from i2cr.state import Candidate

StoreKind = Literal["auto", "sqlite", "memory"]


class KnowledgeGraph(Protocol):
    """What the retrieve node needs from a KG."""

    def search(self, mention: str, k: int) -> list[Candidate]:
        """Return the k best candidates for a mention, best first."""
        ...


def postgres_store_module() -> ModuleType:
    """The PostgreSQL store (`i2cr.kg.postgres`), or how to install what it needs."""
    try:
        from i2cr.kg import postgres
    except ImportError as err:
        raise InputError(
            f"a PostgreSQL KG needs psycopg ({err}): pip install 'i2cr[postgres]'"
        ) from err
    return postgres


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
        return InMemoryKG(read_entity_file(file, store == "auto"))
    raise InputError(f"unknown KG store kind {store!r}: use auto, sqlite or memory")


def read_entity_file(file: Path, or_store: bool) -> list[Entity]:
    """The entities of a KG file that should be entity JSONL (`or_store`: or an SQLite store).

    A file that fails on its first entity is no such file, and an empty one is no KG: each is
    an error naming the file, not a KG with nothing in it.
    """
    entities: list[Entity] = []
    try:
        entities.extend(entity for _, entity in iter_entities(file))
    except InputError as err:
        if entities:
            raise
        what = "neither an SQLite KG store nor" if or_store else "not"
        raise InputError(f"the KG file {file} is {what} an entity JSONL file: {err}") from err
    if not entities:
        raise InputError(f"the KG file {file} is empty: it holds no entities")
    return entities


@lru_cache(maxsize=4)
def open_hybrid(location: str, embedder: str, precision: Precision = "auto") -> HybridSearch:
    """Open a store for hybrid search (once per process), with its dense index if built.

    A PostgreSQL URL opens that store, its dense source the vectors `i2cr kg embed URL` wrote.
    """
    if is_postgres_url(location):
        return postgres_store_module().PostgresHybridKG(
            location, embedder=embedder, precision=precision
        )
    file = Path(location)
    if not (file.is_file() and is_sqlite_file(file)):
        raise InputError(
            f"kg_retrieval=hybrid needs an SQLite KG store built by `i2cr kg build` or a "
            f"postgresql:// URL of one: {location} is neither (set kg_retrieval=fuzzy for other "
            "knowledge graphs)"
        )
    dense = (
        DenseIndex(location, embedder, precision)
        if DenseFiles.beside(location).meta.is_file()
        else None
    )
    return HybridKG(location, dense)


@contextmanager
def open_enrichment_table(location: str) -> Iterator[EnrichmentTable]:
    """The enrichments table of the store at `location`, open while the block runs."""
    if is_postgres_url(location):
        with postgres_store_module().PostgresEnrichments(location) as table:
            yield table
        return
    if not Path(location).is_file() or not is_sqlite_file(location):
        raise InputError(f"not a KG store (build one with `i2cr kg build`): {location}")
    db = sqlite3.connect(location)
    try:
        yield SqliteEnrichments(db)
    finally:
        db.close()
