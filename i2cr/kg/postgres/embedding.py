"""`i2cr kg embed URL`: each entity's embedding into the store's pgvector column, resumable.

The entity texts and model are those of `i2cr.kg.dense`; the rows go into `i2cr_kg.dense`
(`i2cr.kg.postgres.vectors`) one chunk per transaction, so a killed run started again continues
after the last chunk written. Then the HNSW index (cosine) is built and the meta table records
what the vectors were made from. Needs pgvector on the server; a store without it still serves
fuzzy and alias search.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import psycopg
from psycopg import errors

from i2cr.errors import InputError
from i2cr.kg.dense import (
    EMBED_CHUNK,
    FINGERPRINT_SQL,
    HNSW_CONNECTIVITY,
    HNSW_EXPANSION_ADD,
    EmbedSummary,
    entity_vectors,
    fingerprint,
)
from i2cr.kg.postgres.build import BUILD_LOCK
from i2cr.kg.postgres.schema import SCHEMA, connect, first_line, shown_url
from i2cr.kg.postgres.search import PostgresKG
from i2cr.kg.postgres.vectors import DENSE_INDEX, META_KEY, read_meta
from i2cr.models.embedder import load_embedder
from i2cr.models.precision import Precision, resolve_precision

COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, no header extension
COPY_TRAILER = b"\xff\xff"


def embed_postgres_store(
    url: str,
    embedder: str,
    precision: Precision = "auto",
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EmbedSummary:
    """Embed the store's entities (the first `limit`) into its `dense` table and index them.

    `progress` gets (entities embedded, entities to embed). A second run with nothing new
    does no work; one with another embedder or a rebuilt store starts over.
    """
    kg = PostgresKG(url, connections=1)
    try:
        with connect(url, autocommit=True) as conn:
            _create_pgvector(conn, url)
            # Held for the whole run: a build (or a second embedding) waits for it.
            conn.execute("SELECT pg_advisory_lock(%s)", (BUILD_LOCK,))
            total = len(kg) if limit is None else min(limit, len(kg))
            encoder = load_embedder(embedder, precision)
            meta = {
                "embedder": embedder,
                "precision": resolve_precision(precision),
                "store": fingerprint(_fingerprint_row(conn)),
                "entities": total,
                "text": "name. description",
                "dim": int(encoder.encode(["dimension probe"]).shape[1]),
            }
            done = _resume_point(conn, meta)
            if done == total and _is_complete(conn, meta):
                return EmbedSummary(embedded=0, resumed_from=done, total=total)
            _write_meta(conn, {**meta, "complete": False})
            ids = [
                row
                for (row,) in conn.execute(
                    f"SELECT id FROM {SCHEMA}.entities ORDER BY id LIMIT %s", (total,)
                )
            ]
            for start in range(done, total, EMBED_CHUNK):
                chunk = ids[start : start + EMBED_CHUNK]
                write_vectors(conn, chunk, entity_vectors(kg, chunk, encoder))
                if progress:
                    progress(start + len(chunk), total)
            conn.execute(f"DROP INDEX IF EXISTS {SCHEMA}.{DENSE_INDEX}")
            conn.execute(
                f"CREATE INDEX {DENSE_INDEX} ON {SCHEMA}.dense "
                "USING hnsw (embedding vector_cosine_ops) "
                f"WITH (m = {HNSW_CONNECTIVITY}, ef_construction = {HNSW_EXPANSION_ADD})"
            )
            conn.execute(f"ANALYZE {SCHEMA}.dense")
            _write_meta(conn, {**meta, "complete": True})
    except psycopg.OperationalError as err:
        raise InputError(
            f"the KG database {shown_url(url)} failed while embedding ({first_line(err)}): run "
            "`i2cr kg embed` again to continue"
        ) from err
    finally:
        kg.close()
    return EmbedSummary(embedded=total - done, resumed_from=done, total=total)


def write_vectors(conn: psycopg.Connection, ids: list[int], vectors: np.ndarray) -> None:
    """COPY the rows (binary) in one transaction; float16-rounded as the SQLite store keeps them.

    Both stores then rank the very same vectors.
    """
    dim = vectors.shape[1]
    row = np.dtype(
        [
            ("fields", ">i2"),
            ("id_size", ">i4"),
            ("id", ">i4"),
            ("vector_size", ">i4"),
            ("dim", ">i2"),
            ("unused", ">i2"),
            ("vector", ">f4", (dim,)),
        ]
    )
    rows = np.zeros(len(ids), dtype=row)
    rows["fields"], rows["id_size"], rows["id"] = 2, 4, ids
    rows["vector_size"], rows["dim"] = 4 + 4 * dim, dim
    rows["vector"] = vectors.astype(np.float16)
    with conn.transaction(), conn.cursor() as cursor:
        statement = f"COPY {SCHEMA}.dense (entity, embedding) FROM STDIN (FORMAT BINARY)"
        with cursor.copy(statement) as copy:
            copy.write(COPY_SIGNATURE + rows.tobytes() + COPY_TRAILER)


def _create_pgvector(conn: psycopg.Connection, url: str) -> None:
    """Create the `vector` extension unless it is there; an error saying why it cannot be."""
    if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone():
        return
    lexical = "fuzzy and hybrid (alias + fuzzy) search of the store work without it"
    if not conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone():
        raise InputError(
            f"the PostgreSQL server of {shown_url(url)} has no pgvector (extension 'vector'), "
            f"which dense retrieval needs: install pgvector on the server; {lexical}"
        )
    try:
        conn.execute("CREATE EXTENSION vector")
    except errors.InsufficientPrivilege as err:
        raise InputError(
            f"the KG database {shown_url(url)} has no pgvector extension and this user may not "
            f"create it ({first_line(err)}): run `CREATE EXTENSION vector;` in it as its owner "
            f"or a superuser; {lexical}"
        ) from err


def _fingerprint_row(conn: psycopg.Connection) -> tuple[Any, ...]:
    row = conn.execute(FINGERPRINT_SQL.format(schema=f"{SCHEMA}.")).fetchone()
    assert row is not None
    return tuple(row)


def _write_meta(conn: psycopg.Connection, meta: dict[str, Any]) -> None:
    conn.execute(
        f"INSERT INTO {SCHEMA}.meta VALUES (%s, %s) ON CONFLICT (key) "
        "DO UPDATE SET value = excluded.value",
        (META_KEY, json.dumps(meta).encode()),
    )


def _has_table(conn: psycopg.Connection) -> bool:
    found = conn.execute(
        "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'dense'", (SCHEMA,)
    )
    return found.fetchone() is not None


def _resume_point(conn: psycopg.Connection, meta: dict[str, Any]) -> int:
    """Rows already written for the same store and embedder, else 0 (an emptied table)."""
    earlier = read_meta(conn)
    same = ("embedder", "precision", "store", "dim")
    if earlier and _has_table(conn) and all(earlier.get(k) == meta[k] for k in same):
        # Chunks are written in row id order: the rows are a prefix of the entities.
        conn.execute(f"DELETE FROM {SCHEMA}.dense WHERE entity >= %s", (meta["entities"],))
        (rows,) = conn.execute(f"SELECT count(*) FROM {SCHEMA}.dense").fetchone() or (0,)
        return int(rows)
    conn.execute(f"DROP TABLE IF EXISTS {SCHEMA}.dense")
    conn.execute(
        f"CREATE TABLE {SCHEMA}.dense "
        f"(entity integer PRIMARY KEY, embedding vector({int(meta['dim'])}) NOT NULL)"
    )
    return 0


def _is_complete(conn: psycopg.Connection, meta: dict[str, Any]) -> bool:
    """Whether the index was built from these very vectors."""
    earlier = read_meta(conn) or {}
    indexed = conn.execute(
        "SELECT 1 FROM pg_indexes WHERE schemaname = %s AND indexname = %s", (SCHEMA, DENSE_INDEX)
    ).fetchone()
    return (
        indexed is not None
        and bool(earlier.get("complete"))
        and all(earlier.get(key) == value for key, value in meta.items())
    )
