"""Alias priors: which entity an alias names how often, from popularity and training mentions.

Every normalised name and alias of an entity, and every training mention of it, is an alias of
it. Its prior is p(entity | alias) = (mentions(alias, entity) + SMOOTHING * share) /
(mentions(alias) + SMOOTHING), where `share` splits the alias among the entities it names by
popularity + 1 (so with no training mentions and no popularity the entities share it evenly).
The tables are written into the store while it is built (`build_store(..., finish=...)`; the
PostgreSQL store's `build_postgres_store(..., priors=...)` writes the same rows and priors).
"""

from __future__ import annotations

import sqlite3
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from i2cr.datasets import Sample
from i2cr.kg.entities import Entity
from i2cr.kg.matching import normalize

SMOOTHING = 1.0
# Popularity is held in 4 bytes per entity while a build streams (400 MB at 100M entities).
MAX_POPULARITY = 2**32 - 1

PRIORS_SCHEMA = """
CREATE TABLE popularity (entity INTEGER PRIMARY KEY, count INTEGER NOT NULL);
CREATE TABLE mention_counts (
    alias TEXT NOT NULL, qid TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (alias, qid)
) WITHOUT ROWID;
CREATE TABLE alias_priors (
    alias TEXT NOT NULL, entity INTEGER NOT NULL, prior REAL NOT NULL, mentions INTEGER NOT NULL,
    PRIMARY KEY (alias, entity)
) WITHOUT ROWID;
"""

PRIORS_SQL = """
CREATE TEMP TABLE pairs AS
SELECT alias, entity, sum(mentions) AS mentions FROM (
    SELECT text AS alias, entity, 0 AS mentions FROM labels
    UNION ALL
    SELECT m.alias, e.id, m.count FROM mention_counts m JOIN entities e ON e.qid = m.qid
) GROUP BY alias, entity;
INSERT INTO alias_priors
SELECT alias, entity,
    (mentions + :smoothing * weight / sum(weight) OVER (PARTITION BY alias))
        / (sum(mentions) OVER (PARTITION BY alias) + :smoothing),
    mentions
FROM (
    SELECT pairs.*, coalesce(p.count, 0) + 1.0 AS weight
    FROM pairs LEFT JOIN popularity p USING (entity)
) ORDER BY alias, entity;
DROP TABLE pairs;
"""


def mention_counts(samples: Iterable[Sample]) -> Counter[tuple[str, str]]:
    """(normalised mention, gold qid) -> how many training mentions link it so."""
    counts: Counter[tuple[str, str]] = Counter()
    for sample in samples:
        alias = normalize(sample.mention)
        if alias and sample.gold_qid:
            counts[alias, sample.gold_qid] += 1
    return counts


@dataclass
class PriorTables:
    """Collects each entity's popularity while a build streams them, then writes the priors."""

    mentions: Mapping[tuple[str, str], int] = field(default_factory=dict)
    popularity: array = field(default_factory=lambda: array("I"))

    def watch(self, entities: Iterable[tuple[str, Entity]]) -> Iterator[tuple[str, Entity]]:
        """Pass the build's entities through, noting each one's popularity in build order."""
        for where, entity in entities:
            self.popularity.append(min(entity.popularity, MAX_POPULARITY))
            yield where, entity

    def popularity_rows(self) -> Iterator[tuple[int, int]]:
        """(entity row id, popularity) of every entity with a popularity above 0."""
        return ((row, count) for row, count in enumerate(self.popularity) if count)

    def mention_rows(self) -> Iterator[tuple[str, str, int]]:
        """(normalised mention, gold qid, count) of the training mentions."""
        return ((alias, qid, count) for (alias, qid), count in self.mentions.items())

    def max_popularity(self) -> int:
        """The most popular entity's popularity (0 for none)."""
        return max(self.popularity, default=0)

    def write(self, db: sqlite3.Connection) -> None:
        """Write popularity, the training mention counts and every alias prior into `db`."""
        db.executescript(PRIORS_SCHEMA)
        db.executemany("INSERT INTO popularity VALUES (?, ?)", self.popularity_rows())
        db.executemany("INSERT INTO mention_counts VALUES (?, ?, ?)", self.mention_rows())
        for statement in PRIORS_SQL.split(";"):
            if statement.strip():
                db.execute(statement, {"smoothing": SMOOTHING})
        most = self.max_popularity()
        db.execute("INSERT INTO meta VALUES ('max_popularity', ?)", (str(most),))


def has_priors(db: sqlite3.Connection) -> bool:
    """Tell whether a store has the alias prior table."""
    found = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'alias_priors'").fetchone()
    return found is not None
