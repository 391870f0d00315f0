"""The PostgreSQL store's dense source: its pgvector column, queried as the usearch index is.

`i2cr kg embed URL` (`i2cr.kg.postgres.embedding`) fills the table `i2cr_kg.dense` (entity row
id, embedding vector(N)) and its HNSW index (cosine), and records in the meta table (key
`dense`) the embedder, precision and store the vectors were made from. `open_dense` gives a
store's dense source, refusing a query embedder other than the one that made the vectors.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import psycopg

from i2cr.errors import InputError
from i2cr.kg.dense import EXACT_BELOW, HNSW_EXPANSION_SEARCH
from i2cr.kg.postgres.schema import SCHEMA
from i2cr.models.embedder import embed
from i2cr.models.precision import Precision, resolve_precision

DENSE_INDEX = "dense_hnsw"
META_KEY = "dense"

Connections = Callable[[], AbstractContextManager[psycopg.Connection]]


def read_meta(conn: psycopg.Connection) -> dict[str, Any] | None:
    """What the store's vectors were made from, or None when it has none."""
    row = conn.execute(f"SELECT value FROM {SCHEMA}.meta WHERE key = %s", (META_KEY,)).fetchone()
    return json.loads(bytes(row[0])) if row else None


class PostgresDenseIndex:
    """The store's vectors, queried with mention + context as `i2cr.kg.dense.DenseIndex` is.

    Exact (every vector scored) below EXACT_BELOW entities, the HNSW index above, as usearch.
    """

    def __init__(
        self, connections: Connections, meta: dict[str, Any], embedder: str, precision: Precision
    ) -> None:
        """Use the vectors `meta` describes through the store's `connections`."""
        self._connections = connections
        self.embedder, self.precision = embedder, precision
        self.count = int(meta["entities"])
        self.exact = self.count < EXACT_BELOW

    def __len__(self) -> int:
        """Count the indexed entities."""
        return self.count

    def neighbours(self, text: str, n: int) -> list[int]:
        """Row ids of the n entities whose text is nearest to `text`, nearest first."""
        if not text.strip() or not self.count:
            return []
        vector = embed(self.embedder, [text], precision=self.precision)[0]
        literal = "[" + ",".join(map(repr, vector.tolist())) + "]"
        # One round trip: the settings hold for this transaction only.
        with self._connections() as conn, conn.pipeline(), conn.transaction():
            if self.exact:
                conn.execute("SET LOCAL enable_seqscan = on")
                conn.execute("SET LOCAL enable_indexscan = off")
            else:
                # The index returns at most ef_search rows.
                search = str(max(n, HNSW_EXPANSION_SEARCH))
                conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (search,))
            found = conn.execute(
                f"SELECT entity FROM {SCHEMA}.dense ORDER BY embedding <=> %s::vector LIMIT %s",
                (literal, n),
            )
        return [entity for (entity,) in found.fetchall()]


def open_dense(
    connections: Connections, where: str, embedder: str, precision: Precision
) -> PostgresDenseIndex | None:
    """The store's dense source, None when it has no vectors; an error for other embedders."""
    with connections() as conn:
        meta = read_meta(conn)
    if meta is None:
        return None
    if not meta.get("complete"):
        raise InputError(f"the dense index of {where} is unfinished: run `i2cr kg embed {where}`")
    built = (meta["embedder"], meta["precision"])
    if built != (embedder, resolve_precision(precision)):
        raise InputError(
            f"the dense index of {where} was built with embedder {built[0]!r} in "
            f"{built[1]}: set embedder/precision so, or rebuild it with `i2cr kg embed`"
        )
    return PostgresDenseIndex(connections, meta, embedder, precision)
