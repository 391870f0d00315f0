"""A knowledge graph in one SQLite file, with a character-trigram index for candidate retrieval.

A query reads the posting lists of the mention's trigrams only, counts how many trigrams each
label shares with the mention, keeps a pool of the best labels by three overlap views (the
mention inside the label, the label inside the mention, and both alike) and ranks that pool with
the same rapidfuzz ranking exhaustive search uses. No query touches every entity.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from i2cr.errors import InputError
from i2cr.kg.entities import Entity
from i2cr.kg.matching import normalize, rank_labels, trigrams
from i2cr.state import Candidate

SQLITE_HEADER = b"SQLite format 3\x00"
FORMAT_VERSION = "1"

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
# (trigram, label) pairs held in memory while building, about 8 bytes each (400 MB).
SPILL_PAIRS = 50_000_000
PREPOOL_FACTOR = 10


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


def text_hash(*parts: str) -> str:
    """Return a short stable fingerprint of the texts an enrichment was made from."""
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


@dataclass
class BuildSummary:
    """What a build wrote, and what it could not keep from the file it replaced."""

    entities: int
    labels: int
    grams: int
    bytes: int
    warnings: list[str] = field(default_factory=list)


class _IndexBuilder:
    """Collects (trigram, label) pairs while entities stream in, then writes posting lists.

    Past SPILL_PAIRS pairs the postings so far go to a temporary database as a sorted run, so
    memory stays bounded however many labels stream in; writing joins each trigram's runs in
    order (label ids only grow, so the joined lists stay sorted).
    """

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.vocabulary: dict[str, int] = {}
        self.gram_ids = array("I")
        self.label_ids = array("I")
        self.label_sizes = array("B")
        self.runs = 0

    def add(self, label_id: int, text: str) -> None:
        grams = trigrams(text)
        for gram in grams:
            self.gram_ids.append(self.vocabulary.setdefault(gram, len(self.vocabulary)))
            self.label_ids.append(label_id)
        self.label_sizes.append(min(len(grams), 255))
        if len(self.gram_ids) >= SPILL_PAIRS:
            self._spill()

    def _postings(self) -> Iterator[tuple[int, bytes]]:
        """(gram id, posting list) for every gram of the pairs in memory."""
        gram_ids = np.frombuffer(self.gram_ids, dtype=np.uint32)
        order = np.argsort(gram_ids, kind="stable")
        postings = np.frombuffer(self.label_ids, dtype=np.uint32)[order]
        counts = np.bincount(gram_ids, minlength=len(self.vocabulary))
        ends = np.cumsum(counts)
        for gram_id in np.flatnonzero(counts):
            start = ends[gram_id] - counts[gram_id]
            yield int(gram_id), postings[start : ends[gram_id]].astype("<u4").tobytes()

    def _spill(self) -> None:
        if not self.runs:
            self.db.commit()
            self.db.execute("ATTACH DATABASE '' AS spill")
            self.db.execute(
                "CREATE TABLE spill.runs (gram INTEGER, run INTEGER, postings BLOB NOT NULL, "
                "PRIMARY KEY (gram, run)) WITHOUT ROWID"
            )
        self.db.executemany(
            "INSERT INTO spill.runs VALUES (?, ?, ?)",
            ((gram, self.runs, blob) for gram, blob in self._postings()),
        )
        self.db.commit()
        self.runs += 1
        self.gram_ids, self.label_ids = array("I"), array("I")

    def write(self, db: sqlite3.Connection) -> int:
        grams = list(self.vocabulary)
        if self.runs:
            self._spill()
            rows = db.execute("SELECT gram, postings FROM spill.runs ORDER BY gram, run")
            lists = (
                (grams[gram], b"".join(blob for _, blob in group))
                for gram, group in groupby(rows, key=itemgetter(0))
            )
        else:
            lists = ((grams[gram], blob) for gram, blob in self._postings())
        db.executemany("INSERT INTO grams VALUES (?, ?)", lists)
        if self.runs:
            db.commit()
            db.execute("DETACH DATABASE spill")
        db.execute("INSERT INTO meta VALUES ('label_sizes', ?)", (self.label_sizes.tobytes(),))
        return len(grams)


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
        index = _IndexBuilder(db)
        entity_rows: list[tuple[int, str, str, str, str, str | None]] = []
        label_rows: list[tuple[int, int, str]] = []
        wheres: list[str] = []
        entity_count = 0
        for where, entity in entities:
            wheres.append(where)
            entity_rows.append(
                (
                    entity_count,
                    entity.qid,
                    entity.name,
                    json.dumps(list(entity.aliases), ensure_ascii=False),
                    entity.description,
                    entity.image,
                )
            )
            for text in dict.fromkeys(normalize(label) for label in entity.labels):
                if text:
                    label_rows.append((len(index.label_sizes), entity_count, text))
                    index.add(len(index.label_sizes), text)
            entity_count += 1
            if len(entity_rows) >= INSERT_BATCH:
                _flush(db, entity_rows, label_rows, wheres)
        _flush(db, entity_rows, label_rows, wheres)
        gram_count = index.write(db)
        if finish:
            finish(db)
        db.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [("version", FORMAT_VERSION), ("source", source), ("entities", str(entity_count))],
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
    return BuildSummary(entity_count, len(index.label_sizes), gram_count, size, warnings)


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
    entity_rows: list[tuple[int, str, str, str, str, str | None]],
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


class EntityStore(ABC):
    """A built KG store: its entity count and the search that the retrieve node calls.

    A store ranks entity row ids by their names (`_fuzzy_ids`) and reads entities by row id
    (`_entities`); the search, and hybrid search (`i2cr.kg.hybrid`), are made of these.
    """

    entity_count: int

    def __len__(self) -> int:
        """Count the entities."""
        return self.entity_count

    def search(self, mention: str, k: int) -> list[Candidate]:
        """Return the k best candidates, with enriched descriptions where made."""
        return [
            entity.as_candidate(description)
            for entity, description in self.search_entities(mention, k)
        ]

    def search_entities(self, mention: str, k: int) -> list[tuple[Entity, str]]:
        """Return the k best entities, each with the description to show for it."""
        chosen = self._fuzzy_ids(normalize(mention), k)
        return self._entities(chosen) if chosen else []

    @abstractmethod
    def _fuzzy_ids(self, query: str, k: int) -> list[int]:
        """Row ids of the k entities whose labels match the normalised query best."""

    @abstractmethod
    def _entities(self, ids: list[int]) -> list[tuple[Entity, str]]:
        """The entities of the row ids, in their order, each with the description to show."""


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
        self.pool = pool
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
        if meta.get("version") != FORMAT_VERSION:
            raise InputError(f"{self.path}: KG store format {meta.get('version')!r}, rebuild it")
        self.label_sizes = np.frombuffer(meta["label_sizes"], dtype=np.uint8)
        self.entity_count = int(meta["entities"])
        self.common_df = max(1000, int(common_share * len(self.label_sizes)))
        self._frequent: dict[str, np.ndarray] = {}

    def _fuzzy_ids(self, query: str, k: int) -> list[int]:
        """Row ids of the k entities whose labels match the normalised query best."""
        pool = self._label_pool(query)
        if not len(pool):
            return []
        rows = self._rows("SELECT id, entity, text FROM labels WHERE id IN ({})", pool.tolist())
        return best_entity_ids(query, rows, k)

    def _label_pool(self, query: str) -> np.ndarray:
        grams = trigrams(query) if query else set()
        if not grams:
            return np.empty(0, dtype=np.uint32)
        lists = self._postings(grams)
        return pool_labels(lists, len(grams), self.label_sizes, self.common_df, self.pool)

    def _postings(self, grams: set[str]) -> list[np.ndarray]:
        """Posting lists of the grams; the frequent ones stay in memory once read."""
        return cached_postings(
            grams,
            self._frequent,
            self.common_df,
            lambda wanted: self._rows(
                "SELECT gram, postings FROM grams WHERE gram IN ({})", wanted
            ),
        )

    def _entities(self, ids: list[int]) -> list[tuple[Entity, str]]:
        """The entities of the row ids, in their order, each with the description to show."""
        rows = self._rows(
            "SELECT e.id, e.qid, name, aliases, description, image, s.source_hash, s.text, b.text "
            "FROM entities e "
            "LEFT JOIN enrichments s ON s.qid = e.qid AND s.kind = 'summary' "
            "LEFT JOIN enrichments b ON b.qid = e.qid AND b.kind = 'brief' "
            "WHERE e.id IN ({})",
            ids,
        )
        by_id = {row[0]: entity_with_description(row) for row in rows}
        return [by_id[i] for i in ids]

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


def pool_labels(
    lists: list[np.ndarray], query_size: int, label_sizes: np.ndarray, common_df: int, pool: int
) -> np.ndarray:
    """The labels sharing most of the query's trigrams, from the trigrams' posting lists.

    `pool` labels per overlap view (`best_labels`); posting lists longer than `common_df` are
    only counted for the best of the labels the rarer trigrams find.
    """
    lists = sorted(lists, key=len)
    if not lists:
        return np.empty(0, dtype=np.uint32)
    common = min(sum(len(p) > common_df for p in lists), len(lists) // 2)
    rare, frequent = lists[: len(lists) - common], lists[len(lists) - common :]
    labels, shared = np.unique(np.concatenate(rare), return_counts=True)
    if frequent:
        keep = best_labels(labels, shared, query_size, label_sizes, pool * PREPOOL_FACTOR)
        labels, shared = labels[keep], shared[keep]
        for posting in frequent:
            at = np.minimum(np.searchsorted(posting, labels), len(posting) - 1)
            shared += posting[at] == labels
    return labels[best_labels(labels, shared, query_size, label_sizes, pool)]


def best_labels(
    labels: np.ndarray, shared: np.ndarray, query_size: int, label_sizes: np.ndarray, count: int
) -> np.ndarray:
    """Positions of the `count` best labels by each overlap view (query, label, Dice), merged."""
    if len(labels) <= count:
        return np.arange(len(labels))
    sizes = label_sizes[labels].astype(np.float32)
    both = 2 * shared / (query_size + sizes)
    views = (shared / query_size + both / 100, shared / sizes + both / 100, both)
    return np.unique(np.concatenate([np.argpartition(-v, count)[:count] for v in views]))


def best_entity_ids(query: str, rows: Sequence[Sequence[Any]], k: int) -> list[int]:
    """The k best entities of label rows (label id, entity id, text), ranked by rapidfuzz."""
    ranked = rank_labels(query, [row[2] for row in rows], len(rows))
    return list(dict.fromkeys(rows[i][1] for i in ranked))[:k]


def cached_postings(
    grams: set[str],
    frequent: dict[str, np.ndarray],
    common_df: int,
    fetch: Callable[[list[str]], Iterable[tuple[str, bytes]]],
) -> list[np.ndarray]:
    """Posting lists of the grams: from `frequent`, else fetched (and kept there if long)."""
    lists = [frequent[g] for g in grams if g in frequent]
    wanted = [g for g in grams if g not in frequent]
    if wanted:
        for gram, blob in fetch(wanted):
            posting = np.frombuffer(blob, dtype="<u4")
            if len(posting) > common_df:
                frequent[gram] = posting
            lists.append(posting)
    return lists


def entity_with_description(row: Sequence[Any]) -> tuple[Entity, str]:
    """The entity of an entity row and the description to show for it.

    Row: id, qid, name, aliases, description, image, summary source hash, summary, brief. The
    summary is shown while it is of today's description; else the description, else the brief.
    """
    _, qid, name, aliases, description, image, summary_of, summary, brief = row
    entity = Entity(qid, name, description, tuple(json.loads(aliases)), image)
    if summary and summary_of == text_hash(description):
        description = summary
    return entity, description or brief or ""
