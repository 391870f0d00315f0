"""Building the PostgreSQL store: COPY the entities and the trigram index, swap it in whole."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from typing import IO

import psycopg
from psycopg import errors

from i2cr.errors import InputError
from i2cr.kg.entities import Entity
from i2cr.kg.entity_store import FORMAT_VERSION, BuildSummary, entity_row
from i2cr.kg.postgres.schema import (
    ENRICHMENTS,
    INDEXES,
    PARTIAL_SCHEMA,
    PG_TRGM_INDEX,
    PRIOR_INDEXES,
    PRIOR_TABLES,
    PRIORS_SCHEMA,
    PRIORS_SQL,
    SCHEMA,
    STORE_TABLES,
    TABLES,
    connect,
    first_line,
    shown_url,
    trigram_extension_problem,
)
from i2cr.kg.priors import SMOOTHING, PriorTables
from i2cr.kg.trigram_index import TrigramIndex

# The build's lock, one per database: a second build waits for the first to finish.
BUILD_LOCK = 8_271_810_018


def build_postgres_store(
    entities: Iterable[tuple[str, Entity]],
    url: str,
    source: str = "",
    priors: PriorTables | None = None,
) -> BuildSummary:
    """Load the entities into the database at `url` with COPY and index their labels.

    `entities` yields (where, entity) with `where` naming the input row for errors. The store is
    built in a schema of its own and swapped in by one transaction at the end, so a failed build
    leaves the old store as it was; enrichments of the old store are kept. `priors` (watching
    `entities`) adds the alias prior tables, as `build_store(..., finish=priors.write)` does.
    """
    with connect(url) as conn:
        trigram_problem = trigram_extension_problem(conn, url)
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (BUILD_LOCK,))
        conn.execute(f"DROP SCHEMA IF EXISTS {PARTIAL_SCHEMA} CASCADE")
        try:
            conn.execute(f"CREATE SCHEMA {PARTIAL_SCHEMA}")
        except errors.InsufficientPrivilege as err:
            raise InputError(
                f"this user may not create a schema in the KG database {shown_url(url)} "
                f"({first_line(err)}): grant it CREATE on the database"
            ) from err
        conn.execute(TABLES)
        index = TrigramIndex()
        with tempfile.TemporaryFile("w+", encoding="utf-8") as labels:
            entity_count = _copy_entities(conn, entities, labels, index)
            labels.seek(0)
            _copy_file(conn, f"COPY {PARTIAL_SCHEMA}.labels (id, entity, text) FROM STDIN", labels)
        with (
            conn.cursor() as cursor,
            cursor.copy(f"COPY {PARTIAL_SCHEMA}.grams (gram, postings) FROM STDIN") as copy,
        ):
            for row in index.posting_lists():
                copy.write_row(row)
        conn.execute(INDEXES)
        if trigram_problem is None:
            conn.execute(PG_TRGM_INDEX)
        meta = {
            "version": FORMAT_VERSION.encode(),
            "source": source.encode(),
            "entities": str(entity_count).encode(),
            "label_sizes": index.label_sizes.tobytes(),
        }
        if priors is not None:
            _write_priors(conn, priors)
            meta["max_popularity"] = str(priors.max_popularity()).encode()
        with conn.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {PARTIAL_SCHEMA}.meta VALUES (%s, %s)", meta.items())
        _swap_in(conn)
    tables = [*STORE_TABLES, *(PRIOR_TABLES if priors is not None else ())]
    with connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE " + ", ".join(f"{SCHEMA}.{table}" for table in tables))
        size = conn.execute(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r'",
            (SCHEMA,),
        ).fetchone()
    size_bytes = int(size[0] if size else 0)
    warnings = [trigram_problem] if trigram_problem else []
    return BuildSummary(
        entity_count, index.label_count, len(index.vocabulary), size_bytes, warnings
    )


def _copy_entities(
    conn: psycopg.Connection,
    entities: Iterable[tuple[str, Entity]],
    labels: IO[str],
    index: TrigramIndex,
) -> int:
    """COPY the entities, writing their label rows to `labels` and `index`; the entity count.

    Label ids follow entity order and label order, as in the SQLite store.
    """
    seen: set[str] = set()
    entity_count = 0
    with (
        conn.cursor() as cursor,
        cursor.copy(
            f"COPY {PARTIAL_SCHEMA}.entities (id, qid, name, aliases, description, image) "
            "FROM STDIN"
        ) as copy,
    ):
        for where, entity in entities:
            if entity.qid in seen:
                raise InputError(f"{where}: duplicate qid {entity.qid!r}")
            seen.add(entity.qid)
            copy.write_row(entity_row(entity_count, entity))
            for label_id, text in index.add_labels(entity):
                labels.write(f"{label_id}\t{entity_count}\t{_copy_text(text)}\n")
            entity_count += 1
    return entity_count


def _write_priors(conn: psycopg.Connection, priors: PriorTables) -> None:
    """COPY popularity and the training mention counts, then compute every alias prior."""
    conn.execute(PRIORS_SCHEMA)
    with conn.cursor() as cursor:
        with cursor.copy(f"COPY {PARTIAL_SCHEMA}.popularity (entity, count) FROM STDIN") as copy:
            for popularity in priors.popularity_rows():
                copy.write_row(popularity)
        with cursor.copy(
            f"COPY {PARTIAL_SCHEMA}.mention_counts (alias, qid, count) FROM STDIN"
        ) as copy:
            for mentions in priors.mention_rows():
                copy.write_row(mentions)
    conn.execute(PRIORS_SQL, {"smoothing": SMOOTHING})
    conn.execute(PRIOR_INDEXES)


def _copy_text(text: str) -> str:
    """A value in COPY's text format."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy_file(conn: psycopg.Connection, statement: str, rows: IO[str]) -> None:
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        while chunk := rows.read(1 << 20):
            copy.write(chunk)


def _swap_in(conn: psycopg.Connection) -> None:
    """Replace the store by the one just built, moving the old store's enrichments over."""
    old = conn.execute(
        "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'enrichments'", (SCHEMA,)
    ).fetchone()
    if old:
        conn.execute(f"ALTER TABLE {SCHEMA}.enrichments SET SCHEMA {PARTIAL_SCHEMA}")
    else:
        conn.execute(ENRICHMENTS.format(schema=PARTIAL_SCHEMA))
    conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    conn.execute(f"ALTER SCHEMA {PARTIAL_SCHEMA} RENAME TO {SCHEMA}")
