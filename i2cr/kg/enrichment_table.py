"""Where a KG store keeps the texts a chat model wrote for its entities (`i2cr.kg.enrich`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from i2cr.kg.store import ENRICHMENT_SCHEMA

Kind = Literal["summary", "brief"]


@dataclass(frozen=True)
class Job:
    """One text to write for one entity."""

    qid: str
    kind: Kind
    prompt: str
    source_hash: str


class EnrichmentTable(Protocol):
    """Where a store keeps the texts written for its entities."""

    def made(self) -> dict[tuple[str, str], str]:
        """The source fingerprint of every text made, by (qid, kind)."""
        ...

    def entity_rows(self, limit: int | None) -> Iterable[tuple[str, str, str, str]]:
        """(qid, name, aliases as JSON, description) of the entities, in entity order."""
        ...

    def save(self, job: Job, text: str) -> None:
        """Store the text written for a job, replacing an older one."""
        ...

    def commit(self) -> None:
        """Make the texts saved so far durable."""
        ...


class SqliteEnrichments:
    """The enrichments table of an SQLite store."""

    def __init__(self, db: sqlite3.Connection) -> None:
        """Use the store's open database; the table is made if missing."""
        self.db = db
        db.executescript(ENRICHMENT_SCHEMA)

    def made(self) -> dict[tuple[str, str], str]:  # noqa: D102
        rows = self.db.execute("SELECT qid, kind, source_hash FROM enrichments")
        return {(qid, kind): source for qid, kind, source in rows}

    def entity_rows(self, limit: int | None) -> Iterable[tuple[str, str, str, str]]:  # noqa: D102
        sql = "SELECT qid, name, aliases, description FROM entities ORDER BY id"
        return self.db.execute(sql + (" LIMIT ?" if limit else ""), (limit,) if limit else ())

    def save(self, job: Job, text: str) -> None:  # noqa: D102
        self.db.execute(
            "INSERT OR REPLACE INTO enrichments VALUES (?, ?, ?, ?)",
            (job.qid, job.kind, job.source_hash, text),
        )

    def commit(self) -> None:  # noqa: D102
        self.db.commit()
