"""The PostgreSQL store's tables, and connecting to its database with errors that name it.

The tables live in the schema `i2cr_kg` of the database the URL names: entities, labels (with a
GIN pg_trgm index where the server has pg_trgm), grams (the trigram index's posting list of
label ids per trigram), meta and enrichments, the alias priors of `i2cr.kg.priors`
(popularity, mention_counts, alias_priors) when the build is given them, and the vectors of
`i2cr kg embed` (dense, `i2cr.kg.postgres.embedding`). A build fills `i2cr_kg_partial` and
renames it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import errors

from i2cr.errors import InputError

SCHEMA = "i2cr_kg"
PARTIAL_SCHEMA = "i2cr_kg_partial"
CONNECT_TIMEOUT_S = 10

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
"""
TRIGRAM_INDEX = "labels_text_trgm"
# Only `candidates="pg_trgm"` reads it: the default search reads the grams table.
PG_TRGM_INDEX = (
    f"CREATE INDEX {TRIGRAM_INDEX} ON {PARTIAL_SCHEMA}.labels USING gin (text gin_trgm_ops)"
)
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
            f"cannot connect to the KG database {shown_url(url)}: {first_line(err)}"
        ) from err


def first_line(err: BaseException) -> str:
    """The first line of what the server or driver said."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def trigram_extension_problem(conn: psycopg.Connection, url: str) -> str | None:
    """Create pg_trgm in the database unless it is there; why it cannot be, or None.

    The store is built without its pg_trgm index when the extension cannot be created: the
    default search does not need it.
    """
    if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").fetchone():
        return None
    without = "the KG store is built without its pg_trgm index (candidates='pg_trgm')"
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION pg_trgm")
    except errors.InsufficientPrivilege as err:
        return (
            f"the KG database {shown_url(url)} has no pg_trgm extension and this user may not "
            f"create it ({first_line(err)}): {without}; to have it, run `CREATE EXTENSION "
            "pg_trgm;` in the database as its owner or a superuser and build again"
        )
    except psycopg.Error as err:
        return (
            f"the PostgreSQL server of {shown_url(url)} cannot create the pg_trgm extension "
            f"({first_line(err)}): {without}; to have it, install PostgreSQL's contrib modules "
            "on the server and build again"
        )
    return None
