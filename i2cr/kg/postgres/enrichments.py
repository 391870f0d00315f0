"""The enrichments table of the PostgreSQL store (see `i2cr.kg.enrich`)."""

from __future__ import annotations

from collections.abc import Iterable

from i2cr.kg.enrichment_table import Job
from i2cr.kg.postgres.schema import SCHEMA, connect
from i2cr.kg.postgres.search import PostgresKG


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
