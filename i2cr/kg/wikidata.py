"""Wikidata JSON dumps (`latest-all.json.gz|.bz2|.json`) read into KG entities.

A dump is one JSON array with one entity per line, each line but the last ending in ",". The
import streams it into a staging SQLite file beside the store, committing the dump position
with every batch, so a killed import started again continues where it stopped; memory stays
at one batch. Items keep their label, aliases and description in the chosen languages, their
P18 image file name and their sitelink count (the popularity signal of the alias priors).
"""

from __future__ import annotations

import bz2
import gzip
import json
import sqlite3
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from i2cr.errors import InputError
from i2cr.kg.entities import Entity

COMMIT_EVERY = 10_000
STAGING_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY, qid TEXT NOT NULL UNIQUE, name TEXT NOT NULL, aliases TEXT NOT NULL,
    description TEXT NOT NULL, image TEXT, sitelinks INTEGER NOT NULL
);
"""


@dataclass
class ImportSummary:
    """What reading a dump into the staging file did."""

    items: int = 0
    lines: int = 0
    bad_lines: int = 0
    duplicates: int = 0
    resumed_at_line: int = 0
    warnings: list[str] = field(default_factory=list)


def item_entity(item: dict[str, Any], languages: Sequence[str]) -> Entity | None:
    """Return a dump item as an entity; None for non-items and items unnamed in `languages`.

    The name is the label in the first language that has one; labels in the other languages
    and every alias in the chosen languages become aliases; the description is the first
    one found in language order.
    """
    if item.get("type") != "item" or not isinstance(item.get("id"), str):
        return None
    labels = [_text(item.get("labels"), lang) for lang in languages]
    names = [label for label in labels if label]
    if not names:
        return None
    aliases: dict[str, None] = dict.fromkeys(names[1:])
    for lang in languages:
        for alias in (item.get("aliases") or {}).get(lang) or []:
            value = alias.get("value") if isinstance(alias, dict) else None
            if isinstance(value, str) and value.strip():
                aliases[value.strip()] = None
    aliases.pop(names[0], None)
    descriptions = (_text(item.get("descriptions"), lang) for lang in languages)
    sitelinks = item.get("sitelinks")
    return Entity(
        qid=item["id"],
        name=names[0],
        description=next((d for d in descriptions if d), ""),
        aliases=tuple(aliases),
        image=image_name(item.get("claims")),
        popularity=len(sitelinks) if isinstance(sitelinks, dict) else 0,
    )


def _text(values: Any, lang: str) -> str:
    entry = values.get(lang) if isinstance(values, dict) else None
    value = entry.get("value") if isinstance(entry, dict) else None
    return value.strip() if isinstance(value, str) else ""


def image_name(claims: Any) -> str | None:
    """The P18 (image) file name: a preferred statement first, never a deprecated one."""
    statements = claims.get("P18") if isinstance(claims, dict) else None
    if not isinstance(statements, list):
        return None
    ranked = sorted(
        (s for s in statements if isinstance(s, dict) and s.get("rank") != "deprecated"),
        key=lambda s: s.get("rank") != "preferred",
    )
    for statement in ranked:
        snak = statement.get("mainsnak") or {}
        value = (snak.get("datavalue") or {}).get("value")
        if snak.get("snaktype") == "value" and isinstance(value, str) and value:
            return value
    return None


def open_dump(path: Path) -> tuple[IO[bytes], IO[bytes]]:
    """Open a dump for reading: (decompressed stream, raw file whose position shows progress)."""
    raw: IO[bytes] = path.open("rb")
    if path.name.endswith(".gz"):
        return cast(IO[bytes], gzip.GzipFile(fileobj=raw)), raw
    if path.name.endswith(".bz2"):
        return cast(IO[bytes], bz2.BZ2File(raw)), raw
    return raw, raw


def dump_lines(stream: IO[bytes], first_line: int) -> Iterator[tuple[int, int, bytes]]:
    """(line number, bytes read including the line, line) for each line from `first_line` on."""
    number = first_line
    for raw_line in stream:
        yield number, len(raw_line), raw_line
        number += 1


def parse_line(line: bytes) -> dict[str, Any] | None:
    """One dump line as its entity object; None for the array's brackets and blank lines.

    Raises ValueError for a line that is not a JSON object (corrupt or truncated).
    """
    text = line.strip().rstrip(b",")
    if text in (b"", b"[", b"]"):
        return None
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


class StagingFile:
    """The staging SQLite file an import writes the kept items to, with its dump position."""

    def __init__(self, path: Path, fingerprint: str) -> None:
        """Open (or create) the staging file; one left by another dump or language is reset."""
        self.path = path
        self.db = sqlite3.connect(path)
        self.db.executescript(STAGING_SCHEMA)
        self.meta = dict(self.db.execute("SELECT key, value FROM meta"))
        self.reset = bool(self.meta) and self.meta.get("fingerprint") != fingerprint
        if self.reset or not self.meta:
            self.db.executescript("DELETE FROM items; DELETE FROM meta;")
            self.meta = {"fingerprint": fingerprint, "offset": "0", "line": "1", "done": "0"}
            self._save_meta()

    @property
    def done(self) -> bool:
        """Whether the whole dump has been read."""
        return self.meta["done"] == "1"

    def count(self) -> int:
        """Count the items staged so far."""
        return int(self.db.execute("SELECT count(*) FROM items").fetchone()[0])

    def add(self, entities: list[Entity]) -> int:
        """Stage a batch of entities (a qid seen before keeps its first record); count the new."""
        before = self.db.total_changes
        self.db.executemany(
            "INSERT OR IGNORE INTO items (qid, name, aliases, description, image, sitelinks) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    e.qid,
                    e.name,
                    json.dumps(list(e.aliases), ensure_ascii=False),
                    e.description,
                    e.image,
                    e.popularity,
                )
                for e in entities
            ],
        )
        return self.db.total_changes - before

    def commit(self, offset: int, line: int, done: bool = False) -> None:
        """Record the position after the last staged line, in the same transaction as its items."""
        self.meta.update(offset=str(offset), line=str(line), done="1" if done else "0")
        self._save_meta()

    def _save_meta(self) -> None:
        self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", self.meta.items())
        self.db.commit()

    def has_qid(self, qid: str) -> bool:
        """Tell whether an item of this qid is staged."""
        return self.db.execute("SELECT 1 FROM items WHERE qid = ?", (qid,)).fetchone() is not None

    def entities(self) -> Iterator[tuple[str, Entity]]:
        """(where, entity) for every staged item, in dump order."""
        source = self.meta["fingerprint"].split("|", 1)[0]
        rows = self.db.execute(
            "SELECT qid, name, aliases, description, image, sitelinks FROM items ORDER BY id"
        )
        for qid, name, aliases, description, image, sitelinks in rows:
            entity = Entity(qid, name, description, tuple(json.loads(aliases)), image, sitelinks)
            yield f"{source} item {qid}", entity

    def close(self) -> None:
        """Close the staging file."""
        self.db.close()


def fingerprint(dump: Path, languages: Sequence[str]) -> str:
    """What a staging file was made from: the dump's path and size, and the languages."""
    return f"{dump.resolve()}|{dump.stat().st_size}|{','.join(languages)}"


def import_dump(
    dump: str | Path,
    staging: StagingFile,
    languages: Sequence[str],
    warn: Callable[[str], None],
    progress: Callable[[int, int], None] | None = None,
) -> ImportSummary:
    """Read the dump into `staging` from the position it records, batch by batch.

    A line that is not valid JSON is reported (`warn`, with its line number) and skipped; a
    compressed file that ends early or cannot be decompressed is reported and the import ends
    there, keeping what was read. `progress` gets
    (compressed bytes read, items staged). An empty dump, or one with no item named in
    `languages`, is an error.
    """
    path = Path(dump)
    if not path.is_file():
        raise InputError(f"Wikidata dump not found: {path}")
    if not languages:
        raise InputError("give at least one label language (e.g. --languages en)")
    summary = ImportSummary(items=staging.count(), resumed_at_line=int(staging.meta["line"]))
    if staging.done:
        return summary
    offset, next_line = int(staging.meta["offset"]), int(staging.meta["line"])
    stream, raw = open_dump(path)
    entity_lines = 0
    try:
        stream.seek(offset)
        batch: list[Entity] = []
        try:
            for line, size, text in dump_lines(stream, next_line):
                offset, next_line = offset + size, line + 1
                summary.lines += 1
                try:
                    item = parse_line(text)
                except ValueError as err:
                    summary.bad_lines += 1
                    warn(f"{path}:{line}: not a valid entity line, skipped ({err})")
                    continue
                if item is None:
                    continue
                entity_lines += 1
                entity = item_entity(item, languages)
                if entity is not None:
                    batch.append(entity)
                if len(batch) >= COMMIT_EVERY:
                    summary.items += _stage(staging, batch, summary)
                    staging.commit(offset, next_line)
                    if progress:
                        progress(raw.tell(), summary.items)
        except (EOFError, OSError, zlib.error) as err:
            warn(f"{path}: the compressed dump is truncated or corrupt at line {next_line} ({err})")
        summary.items += _stage(staging, batch, summary)
        staging.commit(offset, next_line, done=True)
        if progress:
            progress(raw.tell(), summary.items)
    finally:
        stream.close()
        raw.close()
    if summary.items == 0:
        if entity_lines == 0 and summary.resumed_at_line <= 1:
            raise InputError(f"{path}: the dump holds no entity (empty dump)")
        raise InputError(f"{path}: no item has a label in the languages {list(languages)}")
    return summary


def _stage(staging: StagingFile, batch: list[Entity], summary: ImportSummary) -> int:
    added = staging.add(batch)
    summary.duplicates += len(batch) - added
    batch.clear()
    return added
