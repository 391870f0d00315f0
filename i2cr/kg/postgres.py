"""A knowledge graph in PostgreSQL, searched as the SQLite store is searched.

The tables live in the schema `i2cr_kg` of the database the URL names: entities, labels (with a
GIN pg_trgm index), grams (the SQLite store's posting list of label ids per padded trigram),
meta and enrichments, and the alias priors of `i2cr.kg.priors` (popularity, mention_counts,
alias_priors) when the build is given them. A query reads the posting lists of the mention's
trigrams, keeps the SQLite store's pool of labels (`i2cr.kg.store`) and ranks it with the shared
rapidfuzz ranking (`i2cr.kg.matching`): both stores give the same top-k, and the server only
looks up rows. `candidates="pg_trgm"` takes the labels from the pg_trgm index instead (slower:
the README has the measurements). Threads share one connection pool. `PostgresHybridKG` is the
hybrid search of `i2cr.kg.hybrid` on this store: alias and fuzzy, ranked as on the SQLite store
(no dense index).
"""

from __future__ import annotations

import json
import tempfile
from array import array
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
from psycopg import errors
from psycopg_pool import ConnectionPool, PoolTimeout

from i2cr.errors import InputError
from i2cr.kg.entities import Entity
from i2cr.kg.hybrid import DEFAULT_SOURCES, AliasRow, HybridSearch, Source, missing_priors
from i2cr.kg.matching import normalize, trigrams
from i2cr.kg.priors import SMOOTHING, PriorTables
from i2cr.kg.store import (
    FORMAT_VERSION,
    PREPOOL_FACTOR,
    BuildSummary,
    EntityStore,
    best_entity_ids,
    best_labels,
    cached_postings,
    entity_with_description,
    pool_labels,
)

if TYPE_CHECKING:
    from i2cr.kg.enrich import Job

SCHEMA = "i2cr_kg"
PARTIAL_SCHEMA = "i2cr_kg_partial"
CONNECT_TIMEOUT_S = 10
# The build's lock, one per database: a second build waits for the first to finish.
BUILD_LOCK = 8_271_810_018

TABLES = f"""
CREATE TABLE {PARTIAL_SCHEMA}.meta (key text PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE {PARTIAL_SCHEMA}.entities (
    id integer NOT NULL, qid text NOT NULL, name text NOT NULL, aliases text NOT NULL,
    description text NOT NULL, image text
);
CREATE TABLE {PARTIAL_SCHEMA}.labels (
    id integer NOT NULL, entity integer NOT NULL, text text NOT NULL
);
CREATE TABLE {PARTIAL_SCHEMA}.grams (gram text NOT NULL, postings bytea NOT NULL);
-- Posting lists are read whole at every query: store them uncompressed.
ALTER TABLE {PARTIAL_SCHEMA}.grams ALTER COLUMN postings SET STORAGE EXTERNAL;
"""
INDEXES = f"""
ALTER TABLE {PARTIAL_SCHEMA}.entities ADD PRIMARY KEY (id);
ALTER TABLE {PARTIAL_SCHEMA}.entities ADD UNIQUE (qid);
ALTER TABLE {PARTIAL_SCHEMA}.labels ADD PRIMARY KEY (id);
ALTER TABLE {PARTIAL_SCHEMA}.grams ADD PRIMARY KEY (gram);
CREATE INDEX labels_text_trgm ON {PARTIAL_SCHEMA}.labels USING gin (text gin_trgm_ops);
"""
STORE_TABLES = ("entities", "labels", "grams")
PRIOR_TABLES = ("popularity", "mention_counts", "alias_priors")
# The alias prior tables of `i2cr.kg.priors`, with the prior computed as the SQLite store does:
# the sums are of whole numbers (exact in any order), so both stores hold the same doubles.
PRIORS_SCHEMA = f"""
CREATE TABLE {PARTIAL_SCHEMA}.popularity (entity integer NOT NULL, count bigint NOT NULL);
CREATE TABLE {PARTIAL_SCHEMA}.mention_counts (
    alias text NOT NULL, qid text NOT NULL, count bigint NOT NULL
);
CREATE TABLE {PARTIAL_SCHEMA}.alias_priors (
    alias text NOT NULL, entity integer NOT NULL, prior double precision NOT NULL,
    mentions bigint NOT NULL
);
"""
PRIORS_SQL = f"""
INSERT INTO {PARTIAL_SCHEMA}.alias_priors
SELECT alias, entity,
    (mentions + %(smoothing)s * weight / sum(weight) OVER by_alias)
        / (sum(mentions) OVER by_alias + %(smoothing)s),
    mentions
FROM (
    SELECT pairs.*, coalesce(p.count, 0) + 1.0::float8 AS weight
    FROM (
        SELECT alias, entity, sum(mentions)::bigint AS mentions FROM (
            SELECT text AS alias, entity, 0::bigint AS mentions FROM {PARTIAL_SCHEMA}.labels
            UNION ALL
            SELECT m.alias, e.id, m.count FROM {PARTIAL_SCHEMA}.mention_counts m
            JOIN {PARTIAL_SCHEMA}.entities e ON e.qid = m.qid
        ) named GROUP BY alias, entity
    ) pairs LEFT JOIN {PARTIAL_SCHEMA}.popularity p USING (entity)
) weighted
WINDOW by_alias AS (PARTITION BY alias)
"""
PRIOR_INDEXES = f"""
ALTER TABLE {PARTIAL_SCHEMA}.popularity ADD PRIMARY KEY (entity);
ALTER TABLE {PARTIAL_SCHEMA}.mention_counts ADD PRIMARY KEY (alias, qid);
ALTER TABLE {PARTIAL_SCHEMA}.alias_priors ADD PRIMARY KEY (alias, entity);
"""
# LLM-written texts per entity (see i2cr.kg.enrich); a rebuild moves them into the new store.
ENRICHMENTS = """
CREATE TABLE IF NOT EXISTS {schema}.enrichments (
    qid text NOT NULL, kind text NOT NULL, source_hash text NOT NULL, text text NOT NULL,
    PRIMARY KEY (qid, kind)
)
"""

POSTINGS_QUERY = f"SELECT gram, postings FROM {SCHEMA}.grams WHERE gram = ANY(%s)"
LABELS_QUERY = f"SELECT id, entity, text FROM {SCHEMA}.labels WHERE id = ANY(%s) ORDER BY id"
ALIAS_ROWS_QUERY = f"""
SELECT a.alias, a.entity, a.prior / max(a.prior) OVER (PARTITION BY a.alias),
    coalesce(p.count, 0)
FROM {SCHEMA}.alias_priors a LEFT JOIN {SCHEMA}.popularity p ON p.entity = a.entity
WHERE a.alias = ANY(%s)
"""
# `%%` is the `%` operator: psycopg reads a single `%` as a placeholder.
TRIGRAM_INDEX_QUERY = f"""
SELECT id, text FROM {SCHEMA}.labels WHERE text %% %(q)s OR text %%> %(q)s
"""
ENTITY_QUERY = f"""
SELECT e.id, e.qid, name, aliases, description, image, s.source_hash, s.text, b.text
FROM {SCHEMA}.entities e
LEFT JOIN {SCHEMA}.enrichments s ON s.qid = e.qid AND s.kind = 'summary'
LEFT JOIN {SCHEMA}.enrichments b ON b.qid = e.qid AND b.kind = 'brief'
WHERE e.id = ANY(%s)
"""


def shown_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def connect(url: str, **options: Any) -> psycopg.Connection:
    """Connect to the database, or raise an InputError naming it and what the server said."""
    try:
        return psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, **options)
    except psycopg.Error as err:
        raise InputError(
            f"cannot connect to the KG database {shown_url(url)}: {_line(err)}"
        ) from err


def _line(err: BaseException) -> str:
    """The first line of what the server or driver said."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def ensure_trigram_extension(conn: psycopg.Connection, url: str) -> None:
    """Create pg_trgm in the database unless it is there; a clear error when not allowed."""
    if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").fetchone():
        return
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION pg_trgm")
    except errors.InsufficientPrivilege as err:
        raise InputError(
            f"the KG database {shown_url(url)} has no pg_trgm extension and this user may not "
            f"create it ({_line(err)}): run `CREATE EXTENSION pg_trgm;` in it as its owner or "
            "a superuser"
        ) from err
    except psycopg.Error as err:
        raise InputError(
            f"the KG database {shown_url(url)} cannot create the pg_trgm extension "
            f"({_line(err)}): install PostgreSQL's contrib modules on the server"
        ) from err


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
        ensure_trigram_extension(conn, url)
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (BUILD_LOCK,))
        conn.execute(f"DROP SCHEMA IF EXISTS {PARTIAL_SCHEMA} CASCADE")
        try:
            conn.execute(f"CREATE SCHEMA {PARTIAL_SCHEMA}")
        except errors.InsufficientPrivilege as err:
            raise InputError(
                f"this user may not create a schema in the KG database {shown_url(url)} "
                f"({_line(err)}): grant it CREATE on the database"
            ) from err
        conn.execute(TABLES)
        index = PostingLists()
        with tempfile.TemporaryFile("w+", encoding="utf-8") as labels:
            entity_count = _copy_entities(conn, entities, labels, index)
            labels.seek(0)
            _copy_file(conn, f"COPY {PARTIAL_SCHEMA}.labels (id, entity, text) FROM STDIN", labels)
        with (
            conn.cursor() as cursor,
            cursor.copy(f"COPY {PARTIAL_SCHEMA}.grams (gram, postings) FROM STDIN") as copy,
        ):
            for row in index.rows():
                copy.write_row(row)
        conn.execute(INDEXES)
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
    return BuildSummary(entity_count, len(index.label_sizes), len(index.vocabulary), size_bytes)


def _copy_entities(
    conn: psycopg.Connection,
    entities: Iterable[tuple[str, Entity]],
    labels: IO[str],
    index: PostingLists,
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
            aliases = json.dumps(list(entity.aliases), ensure_ascii=False)
            copy.write_row(
                (entity_count, entity.qid, entity.name, aliases, entity.description, entity.image)
            )
            for text in dict.fromkeys(normalize(label) for label in entity.labels):
                if text:
                    labels.write(f"{len(index.label_sizes)}\t{entity_count}\t{_copy_text(text)}\n")
                    index.add(len(index.label_sizes), text)
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


class PostingLists:
    """(trigram, label) pairs collected while labels stream in; one posting list per trigram.

    The SQLite store's index (`i2cr.kg.store`): the same trigrams, the same label ids, sorted.
    """

    def __init__(self) -> None:
        """Start empty."""
        self.vocabulary: dict[str, int] = {}
        self.gram_ids = array("I")
        self.label_ids = array("I")
        self.label_sizes = array("B")

    def add(self, label_id: int, text: str) -> None:
        """Index a normalised label under each of its trigrams."""
        grams = trigrams(text)
        for gram in grams:
            self.gram_ids.append(self.vocabulary.setdefault(gram, len(self.vocabulary)))
            self.label_ids.append(label_id)
        self.label_sizes.append(min(len(grams), 255))

    def rows(self) -> Iterator[tuple[str, bytes]]:
        """(trigram, its label ids as little-endian uint32) for every trigram."""
        gram_ids = np.frombuffer(self.gram_ids, dtype=np.uint32)
        order = np.argsort(gram_ids, kind="stable")
        postings = np.frombuffer(self.label_ids, dtype=np.uint32)[order]
        counts = np.bincount(gram_ids, minlength=len(self.vocabulary))
        ends = np.cumsum(counts)
        for gram, at in self.vocabulary.items():
            yield gram, postings[ends[at] - counts[at] : ends[at]].astype("<u4").tobytes()


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
        self.pool = pool
        self.candidates = candidates
        self.thresholds = thresholds
        with connect(url, autocommit=True) as conn:
            meta = {key: bytes(value) for key, value in self._meta(conn)}
        version = meta.get("version", b"").decode()
        if version != FORMAT_VERSION:
            raise InputError(f"{shown_url(url)}: KG store format {version!r}, rebuild it")
        self.entity_count = int(meta["entities"])
        self.label_sizes = np.frombuffer(meta["label_sizes"], dtype=np.uint8)
        self.common_df = max(1000, int(common_share * len(self.label_sizes)))
        self._frequent: dict[str, np.ndarray] = {}
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
                f"this user may not read the KG store in {shown_url(self.url)}: {_line(err)}"
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
            pool = self._postings_pool(conn, query)
        return conn.execute(LABELS_QUERY, (pool.tolist(),)).fetchall() if len(pool) else []

    def _postings_pool(self, conn: psycopg.Connection, query: str) -> np.ndarray:
        """The SQLite store's pool (`pool_labels`), on posting lists read from here."""
        grams = trigrams(query)
        lists = self._postings(conn, grams)
        return pool_labels(lists, len(grams), self.label_sizes, self.common_df, self.pool)

    def _postings(self, conn: psycopg.Connection, grams: set[str]) -> list[np.ndarray]:
        """Posting lists of the grams; the frequent ones stay in memory once read."""
        return cached_postings(
            grams,
            self._frequent,
            self.common_df,
            lambda wanted: conn.execute(POSTINGS_QUERY, (wanted,)).fetchall(),
        )

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
        rows = conn.execute(ENTITY_QUERY, (ids,)).fetchall()
        by_id = {row[0]: entity_with_description(row) for row in rows}
        return [by_id[i] for i in ids]

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection; a lost server or missing store is an InputError."""
        try:
            with self._connections.connection() as conn:
                yield conn
        except PoolTimeout as err:
            raise InputError(
                f"no connection to the KG database {shown_url(self.url)} ({_line(err)})"
            ) from err
        except errors.UndefinedTable as err:
            raise InputError(
                f"the KG store in {shown_url(self.url)} is gone: {_line(err)}"
            ) from err
        except psycopg.OperationalError as err:
            raise InputError(f"the KG database {shown_url(self.url)} failed: {_line(err)}") from err

    def close(self) -> None:
        """Close the connection pool."""
        self._connections.close()


class PostgresHybridKG(HybridSearch, PostgresKG):
    """The PostgreSQL store searched by alias priors and fuzzy names, as `HybridKG` searches.

    No dense source: a dense index is files beside an SQLite store. A "dense" source is dropped.
    """

    def __init__(
        self, url: str, sources: Sequence[Source] = DEFAULT_SOURCES, pool: int = 100
    ) -> None:
        """Open the store; it needs the alias priors `i2cr kg build` writes."""
        super().__init__(url, pool=pool)
        try:
            self._use_sources(sources, None, self._max_popularity())
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


def _use_the_index(conn: psycopg.Connection) -> None:
    """Make the planner take the trigram index.

    It prices the `%` operator as cheap and scans every label of a small table, computing
    pg_trgm's similarity for each: ten times slower than the index at 4,000 labels.
    """
    conn.execute("SET enable_seqscan = off")


class PostgresEnrichments:
    """The enrichments table of a PostgreSQL store (see `i2cr.kg.enrich`), on one connection."""

    def __init__(self, url: str) -> None:
        """Connect, after checking the store is there."""
        PostgresKG(url, connections=1).close()
        self.conn = connect(url)

    def __enter__(self) -> PostgresEnrichments:
        """Use the table."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Commit what was saved unless an error stopped the run, and disconnect."""
        if exc_info[0] is None:
            self.conn.commit()
        self.conn.close()

    def made(self) -> dict[tuple[str, str], str]:  # noqa: D102
        rows = self.conn.execute(f"SELECT qid, kind, source_hash FROM {SCHEMA}.enrichments")
        return {(qid, kind): source for qid, kind, source in rows}

    def entity_rows(self, limit: int | None) -> Iterable[tuple[str, str, str, str]]:  # noqa: D102
        sql = f"SELECT qid, name, aliases, description FROM {SCHEMA}.entities ORDER BY id"
        return self.conn.execute(sql + " LIMIT %s", (limit,)).fetchall()

    def save(self, job: Job, text: str) -> None:  # noqa: D102
        self.conn.execute(
            f"INSERT INTO {SCHEMA}.enrichments VALUES (%s, %s, %s, %s) ON CONFLICT (qid, kind) "
            "DO UPDATE SET source_hash = excluded.source_hash, text = excluded.text",
            (job.qid, job.kind, job.source_hash, text),
        )

    def commit(self) -> None:  # noqa: D102
        self.conn.commit()
