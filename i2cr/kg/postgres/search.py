"""Searching the PostgreSQL store as the SQLite store is searched.

A query reads the posting lists of the mention's trigrams, keeps the SQLite store's pool of
labels (`i2cr.kg.trigram_index`) and ranks it with the shared rapidfuzz ranking
(`i2cr.kg.matching`): both stores give the same top-k, and the server only looks up rows.
`candidates="pg_trgm"` takes the labels from the pg_trgm index instead (slower: the README has
the measurements). Threads share one connection pool. `PostgresHybridKG` is the hybrid search of
`i2cr.kg.hybrid` on this store, ranked and fused as on the SQLite store, its dense source in
the database (`i2cr.kg.postgres.vectors`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Literal

import numpy as np
import psycopg
from psycopg import errors
from psycopg_pool import ConnectionPool, PoolTimeout

from i2cr.errors import InputError
from i2cr.kg.entities import Entity
from i2cr.kg.entity_store import ENTITY_ROWS_SQL, EntityStore, entities_in_order
from i2cr.kg.hybrid import (
    ALIAS_ROWS_SQL,
    DEFAULT_SOURCES,
    AliasRow,
    HybridSearch,
    Source,
    missing_priors,
)
from i2cr.kg.matching import normalize, trigrams
from i2cr.kg.postgres.schema import (
    CONNECT_TIMEOUT_S,
    SCHEMA,
    TRIGRAM_INDEX,
    connect,
    first_line,
    shown_url,
)
from i2cr.kg.postgres.vectors import open_dense
from i2cr.kg.trigram_index import PREPOOL_FACTOR, best_entity_ids, best_labels
from i2cr.models.precision import Precision

POSTINGS_QUERY = f"SELECT gram, postings FROM {SCHEMA}.grams WHERE gram = ANY(%s)"
LABELS_QUERY = f"SELECT id, entity, text FROM {SCHEMA}.labels WHERE id = ANY(%s) ORDER BY id"
ALIAS_ROWS_QUERY = ALIAS_ROWS_SQL.format(schema=f"{SCHEMA}.", among="= ANY(%s)")
# `%%` is the `%` operator: psycopg reads a single `%` as a placeholder.
TRIGRAM_INDEX_QUERY = f"""
SELECT id, text FROM {SCHEMA}.labels WHERE text %% %(q)s OR text %%> %(q)s
"""
ENTITY_QUERY = ENTITY_ROWS_SQL.format(schema=f"{SCHEMA}.", among="= ANY(%s)")


class PostgresKG(EntityStore):
    """The KG in a PostgreSQL database built by `build_postgres_store`.

    With `candidates="postings"` (the default) a query runs the SQLite store's pool on the
    posting lists: `pool` labels per overlap view, lists longer than `common_share` of all
    labels only counted for the best of the rest (and kept in memory once read). With
    `candidates="pg_trgm"` the GIN index gives the labels whose pg_trgm similarity to the
    mention (or word similarity of the mention inside them) reaches the first of `thresholds`,
    falling to the next while that finds fewer than `pool` x 10; the same views cut them to the
    pool. Either way rapidfuzz ranks the pool.
    """

    def __init__(
        self,
        url: str,
        pool: int = 100,
        common_share: float = 0.01,
        candidates: Literal["postings", "pg_trgm"] = "postings",
        thresholds: tuple[float, ...] = (0.3, 0.1, 0.01),
        connections: int = 8,
    ) -> None:
        """Check the store is there, then open the connection pool."""
        self.url = url
        self.candidates = candidates
        self.thresholds = thresholds
        with connect(url, autocommit=True) as conn:
            meta = {key: bytes(value) for key, value in self._meta(conn)}
            if candidates == "pg_trgm" and not _has_trigram_index(conn):
                raise InputError(
                    f"the KG store in {shown_url(url)} has no pg_trgm index (its server had no "
                    "pg_trgm when it was built, the build said so): search it with "
                    "candidates='postings'"
                )
        self._open_index(meta, shown_url(url), pool, common_share)
        self._connections = ConnectionPool(
            url,
            min_size=1,
            max_size=connections,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
            configure=_use_the_index,
            open=True,
            name="i2cr-kg",
        )

    def _meta(self, conn: psycopg.Connection) -> list[tuple[str, bytes]]:
        try:
            return conn.execute(f"SELECT key, value FROM {SCHEMA}.meta").fetchall()
        except errors.UndefinedTable as err:
            raise InputError(
                f"no KG store in the database {shown_url(self.url)} (build one with "
                f"`i2cr kg build {shown_url(self.url)} --entities ...`)"
            ) from err
        except errors.InsufficientPrivilege as err:
            raise InputError(
                f"this user may not read the KG store in {shown_url(self.url)}: {first_line(err)}"
            ) from err

    def search_entities(self, mention: str, k: int) -> list[tuple[Entity, str]]:
        """Return the k best entities, each with the description to show for it (one connection)."""
        query = normalize(mention)
        with self._connection() as conn:
            rows = self._label_rows(conn, query)
            return self._entity_rows(conn, best_entity_ids(query, rows, k)) if rows else []

    def _fuzzy_ids(self, query: str, k: int) -> list[int]:
        """Row ids of the k entities whose labels match the normalised query best."""
        with self._connection() as conn:
            return best_entity_ids(query, self._label_rows(conn, query), k)

    def _entities(self, ids: list[int]) -> list[tuple[Entity, str]]:
        """The entities of the row ids, in their order, each with the description to show."""
        with self._connection() as conn:
            return self._entity_rows(conn, ids)

    def _label_rows(self, conn: psycopg.Connection, query: str) -> list[tuple[int, int, str]]:
        """(id, entity, text) of the labels in the normalised query's pool."""
        if not query:
            return []
        if self.candidates == "pg_trgm":
            pool = self._trigram_index_pool(conn, query)
        else:
            pool = self._postings_pool(
                query, lambda wanted: conn.execute(POSTINGS_QUERY, (wanted,)).fetchall()
            )
        return conn.execute(LABELS_QUERY, (pool.tolist(),)).fetchall() if len(pool) else []

    def _trigram_index_pool(self, conn: psycopg.Connection, query: str) -> np.ndarray:
        """Labels from the pg_trgm index, cut to a pool by the same overlap views."""
        rows: list[tuple[int, str]] = []
        for threshold in self.thresholds:
            conn.execute(
                "SELECT set_config('pg_trgm.similarity_threshold', %s, false), "
                "set_config('pg_trgm.word_similarity_threshold', %s, false)",
                (str(threshold), str(threshold)),
            )
            rows = conn.execute(TRIGRAM_INDEX_QUERY, {"q": query}).fetchall()
            if len(rows) >= self.pool * PREPOOL_FACTOR:
                break
        grams = trigrams(query)
        rows.sort()
        shared = np.array([len(grams & trigrams(text)) for _, text in rows], dtype=np.int64)
        # pg_trgm also pads each word on its own ("  o" starts every word in o): labels that
        # share no trigram of ours are never candidates of the SQLite store.
        found = np.flatnonzero(shared)
        labels = np.array([rows[i][0] for i in found], dtype=np.uint32)
        return labels[best_labels(labels, shared[found], len(grams), self.label_sizes, self.pool)]

    def _entity_rows(self, conn: psycopg.Connection, ids: list[int]) -> list[tuple[Entity, str]]:
        return entities_in_order(conn.execute(ENTITY_QUERY, (ids,)).fetchall(), ids)

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection; a lost server or missing store is an InputError."""
        try:
            with self._connections.connection() as conn:
                yield conn
        except PoolTimeout as err:
            raise InputError(
                f"no connection to the KG database {shown_url(self.url)} ({first_line(err)})"
            ) from err
        except errors.UndefinedTable as err:
            raise InputError(
                f"the KG store in {shown_url(self.url)} is gone: {first_line(err)}"
            ) from err
        except psycopg.OperationalError as err:
            raise InputError(
                f"the KG database {shown_url(self.url)} failed: {first_line(err)}"
            ) from err

    def close(self) -> None:
        """Close the connection pool."""
        self._connections.close()


class PostgresHybridKG(HybridSearch, PostgresKG):
    """The PostgreSQL store searched by alias priors, fuzzy names and dense vectors, as `HybridKG`.

    The dense source is the store's pgvector column (`i2cr kg embed URL`), queried with
    `embedder`; without vectors (or without `embedder`) a "dense" source is dropped.
    """

    def __init__(
        self,
        url: str,
        sources: Sequence[Source] = DEFAULT_SOURCES,
        pool: int = 100,
        embedder: str | None = None,
        precision: Precision = "auto",
    ) -> None:
        """Open the store; it needs the alias priors `i2cr kg build` writes."""
        super().__init__(url, pool=pool)
        try:
            dense = (
                open_dense(self._connection, shown_url(url), embedder, precision)
                if embedder
                else None
            )
            self._use_sources(sources, dense, self._max_popularity())
        except InputError:
            self.close()
            raise

    def _max_popularity(self) -> int:
        """The meta value written with the alias priors; an error for a store without them."""
        with self._connection() as conn:
            row = conn.execute(
                f"SELECT value FROM {SCHEMA}.meta WHERE key = 'max_popularity'"
            ).fetchone()
        if row is None:
            raise missing_priors(shown_url(self.url))
        return int(bytes(row[0]))

    def _alias_rows(self, query: str) -> list[AliasRow]:
        """Prior rows of the normalised query and of every label its trigram pool finds."""
        with self._connection() as conn:
            texts = {query, *(text for _, _, text in self._label_rows(conn, query))}
            return conn.execute(ALIAS_ROWS_QUERY, (sorted(texts),)).fetchall()


def _has_trigram_index(conn: psycopg.Connection) -> bool:
    found = conn.execute(
        "SELECT 1 FROM pg_indexes WHERE schemaname = %s AND indexname = %s",
        (SCHEMA, TRIGRAM_INDEX),
    )
    return found.fetchone() is not None


def _use_the_index(conn: psycopg.Connection) -> None:
    """Make the planner take the trigram index.

    It prices the `%` operator as cheap and scans every label of a small table, computing
    pg_trgm's similarity for each: ten times slower than the index at 4,000 labels.
    """
    conn.execute("SET enable_seqscan = off")
