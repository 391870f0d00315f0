"""A knowledge graph in one SQLite file, with the trigram index (`i2cr.kg.trigram_index`)."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from i2cr.errors import InputError
from i2cr.kg.entities import Entity
from i2cr.kg.entity_store import (
    ENTITY_ROWS_SQL,
    FORMAT_VERSION,
    BuildSummary,
    EntityRow,
    EntityStore,
    entities_in_order,
    entity_row,
)
from i2cr.kg.trigram_index import TrigramIndex, best_entity_ids

SQLITE_HEADER = b"SQLite format 3\x00"
SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE entities (
    id INTEGER PRIMARY KEY, qid TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
    aliases TEXT NOT NULL, description TEXT NOT NULL, image TEXT
);
CREATE TABLE labels (id INTEGER PRIMARY KEY, entity INTEGER NOT NULL, text TEXT NOT NULL);
CREATE TABLE grams (gram TEXT PRIMARY KEY, postings BLOB NOT NULL);
"""

# LLM-written texts per entity (see i2cr.kg.enrich); kept across rebuilds of the same path.
ENRICHMENT_SCHEMA = """
CREATE TABLE IF NOT EXISTS enrichments (
    qid TEXT NOT NULL, kind TEXT NOT NULL, source_hash TEXT NOT NULL, text TEXT NOT NULL,
    PRIMARY KEY (qid, kind)
);
"""

INSERT_BATCH = 10_000
POSTINGS_QUERY = "SELECT gram, postings FROM grams WHERE gram IN ({})"
ENTITY_QUERY = ENTITY_ROWS_SQL.format(schema="", among="IN ({})")


class CorruptStoreError(InputError):
    """The KG store file cannot be read as SQLite: corrupt or truncated."""

    def __init__(self, path: Path, err: sqlite3.DatabaseError) -> None:
        """Name the file, what SQLite said, and how to rebuild it."""
        super().__init__(
            f"the KG store {path} is corrupt or truncated ({err}): rebuild it in place with "
            f"`i2cr kg build {path} --entities ...`"
        )


def is_sqlite_file(path: str | Path) -> bool:
    """Tell whether the file is an SQLite database."""
    with Path(path).open("rb") as file:
        return file.read(len(SQLITE_HEADER)) == SQLITE_HEADER


def build_store(
    entities: Iterable[tuple[str, Entity]],
    path: str | Path,
    source: str = "",
    finish: Callable[[sqlite3.Connection], None] | None = None,
) -> BuildSummary:
    """Write the entities and their trigram index to an SQLite file at `path`.

    `entities` yields (where, entity) with `where` naming the input row for errors. The file is
    written next to `path` and moved into place when complete; enrichments of an earlier store
    at `path` are kept. `finish` may add tables (alias priors) to the file before it is moved.
    """
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    db = sqlite3.connect(partial)
    try:
        db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")
        db.executescript(SCHEMA + ENRICHMENT_SCHEMA)
        index = TrigramIndex()
        entity_rows: list[EntityRow] = []
        label_rows: list[tuple[int, int, str]] = []
        wheres: list[str] = []
        entity_count = 0
        for where, entity in entities:
            wheres.append(where)
            entity_rows.append(entity_row(entity_count, entity))
            for label_id, text in index.add_labels(entity):
                label_rows.append((label_id, entity_count, text))
            entity_count += 1
            if len(entity_rows) >= INSERT_BATCH:
                _flush(db, entity_rows, label_rows, wheres)
        _flush(db, entity_rows, label_rows, wheres)
        db.executemany("INSERT INTO grams VALUES (?, ?)", index.posting_lists())
        if finish:
            finish(db)
        db.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [
                ("version", FORMAT_VERSION),
                ("source", source),
                ("entities", str(entity_count)),
                ("label_sizes", index.label_sizes.tobytes()),
            ],
        )
        db.commit()
        warnings = _keep_enrichments(db, target)
    except BaseException:
        db.close()
        partial.unlink(missing_ok=True)
        raise
    db.close()
    os.replace(partial, target)
    size = target.stat().st_size
    return BuildSummary(entity_count, index.label_count, len(index.vocabulary), size, warnings)


def _keep_enrichments(db: sqlite3.Connection, target: Path) -> list[str]:
    """Copy the enrichments of the store being replaced; a warning if it is unreadable."""
    if not (target.is_file() and is_sqlite_file(target)):
        return []
    try:
        db.execute("ATTACH DATABASE ? AS previous", (str(target),))
        try:
            if db.execute(
                "SELECT 1 FROM previous.sqlite_master WHERE name = 'enrichments'"
            ).fetchone():
                db.execute("INSERT INTO enrichments SELECT * FROM previous.enrichments")
            db.commit()
        finally:
            db.execute("DETACH DATABASE previous")
    except sqlite3.DatabaseError as err:
        # Journaling is off while building: undo a partial copy by hand.
        db.execute("DELETE FROM enrichments")
        db.commit()
        return [
            f"the store being replaced, {target}, is unreadable ({err}): its enrichments "
            "are not kept"
        ]
    return []


def _flush(
    db: sqlite3.Connection,
    entity_rows: list[EntityRow],
    label_rows: list[tuple[int, int, str]],
    wheres: list[str],
) -> None:
    try:
        db.executemany("INSERT INTO entities VALUES (?, ?, ?, ?, ?, ?)", entity_rows)
    except sqlite3.IntegrityError:
        # Rows before the failing one may be in already: a duplicate has an earlier id.
        for where, (row_id, qid, *_) in zip(wheres, entity_rows, strict=True):
            first = db.execute("SELECT id FROM entities WHERE qid = ?", (qid,)).fetchone()
            if first and first[0] != row_id:
                raise InputError(f"{where}: duplicate qid {qid!r}") from None
        raise
    db.executemany("INSERT INTO labels VALUES (?, ?, ?)", label_rows)
    entity_rows.clear()
    label_rows.clear()
    wheres.clear()


class SqliteKG(EntityStore):
    """The KG in an SQLite file built by `build_store`; searched through its trigram index.

    `pool` labels per overlap view are re-ranked with rapidfuzz. Posting lists longer than
    `common_share` of all labels (trigrams like " th") are not expanded into candidates, only
    counted for the labels the rarer trigrams rank high; they are kept in memory once read
    (at most the sum of the frequent lists: about 28 MiB at 1M entities).
    """

    def __init__(self, path: str | Path, pool: int = 100, common_share: float = 0.01) -> None:
        """Open the store read-only."""
        self.path = Path(path)
        if not self.path.is_file() or not is_sqlite_file(self.path):
            raise InputError(f"not a KG store (build one with `i2cr kg build`): {self.path}")
        # Guards the shared connection only: ranking runs outside it, so threads search at once.
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            f"file:{self.path.resolve()}?mode=ro", uri=True, check_same_thread=False
        )
        try:
            meta = dict(self._rows("SELECT key, value FROM meta", []))
        except sqlite3.OperationalError as err:
            raise InputError(
                f"not a KG store ({err}; build one with `i2cr kg build`): {path}"
            ) from err
        self._open_index(meta, str(self.path), pool, common_share)

    def _fuzzy_ids(self, query: str, k: int) -> list[int]:
        """Row ids of the k entities whose labels match the normalised query best."""
        pool = self._label_pool(query)
        if not len(pool):
            return []
        rows = self._rows("SELECT id, entity, text FROM labels WHERE id IN ({})", pool.tolist())
        return best_entity_ids(query, rows, k)

    def _label_pool(self, query: str) -> np.ndarray:
        """The pool of labels for the normalised query."""
        return self._postings_pool(
            query,
            lambda wanted: self._rows(POSTINGS_QUERY, wanted),
        )

    def _entities(self, ids: list[int]) -> list[tuple[Entity, str]]:
        """The entities of the row ids, in their order, each with the description to show."""
        return entities_in_order(self._rows(ENTITY_QUERY, ids), ids)

    def _rows(self, sql: str, values: list) -> list:
        marks = ",".join("?" * len(values))
        try:
            with self._lock:
                return self._db.execute(sql.format(marks), values).fetchall()
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError as err:
            # Corruption can lie in any page, so any query may be the first to meet it.
            raise CorruptStoreError(self.path, err) from err

    def close(self) -> None:
        """Close the database."""
        self._db.close()
