"""Knowledge graphs the retrieve node searches for candidates: SQLite, PostgreSQL or JSONL."""

from __future__ import annotations

from i2cr.kg.entities import Entity, iter_entities, read_entities
from i2cr.kg.memory import InMemoryKG
from i2cr.kg.opening import KnowledgeGraph, open_hybrid, open_kg
from i2cr.kg.store import SqliteKG, build_store

__all__ = [
    "Entity",
    "InMemoryKG",
    "KnowledgeGraph",
    "SqliteKG",
    "build_store",
    "iter_entities",
    "open_hybrid",
    "open_kg",
    "read_entities",
]
