"""A knowledge graph in PostgreSQL, searched as the SQLite store is searched (needs psycopg).

`schema`: the tables and connecting; `build`: loading a store; `search`: `PostgresKG` and
`PostgresHybridKG`; `enrichments`: the table `i2cr kg enrich` writes; `embedding` and
`vectors`: the dense source in a pgvector column (`i2cr kg embed URL`).
"""

from __future__ import annotations

from i2cr.kg.postgres.build import build_postgres_store
from i2cr.kg.postgres.embedding import embed_postgres_store
from i2cr.kg.postgres.enrichments import PostgresEnrichments
from i2cr.kg.postgres.schema import shown_url
from i2cr.kg.postgres.search import PostgresHybridKG, PostgresKG

__all__ = [
    "PostgresEnrichments",
    "PostgresHybridKG",
    "PostgresKG",
    "build_postgres_store",
    "embed_postgres_store",
    "shown_url",
]
