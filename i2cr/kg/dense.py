"""Dense retrieval: every entity's text embedded once into an ANN index stored beside the KG.

`i2cr kg embed STORE` writes STORE.dense.f16 (one float16 row per entity, in store order: the
resume point of a killed run), then STORE.dense.usearch (a usearch HNSW index keyed by entity
row id) and STORE.dense.json (the embedder, precision and the store it was made from). The
entity text is the one ICR and the ranker embed (name + shown description); a query embeds
mention + context with the same embedder. Needs the `retrieval` extra (usearch). A PostgreSQL
store keeps its vectors in the database instead (`i2cr.kg.postgres.embedding`), made alike.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from i2cr.errors import InputError
from i2cr.kg.entity_store import EntityStore, text_hash
from i2cr.kg.store import SqliteKG, is_sqlite_file
from i2cr.models.embedder import embed, load_embedder
from i2cr.models.precision import Precision, resolve_precision
from i2cr.models.text_encoders import TextEncoder
from i2cr.texts import entity_text

EMBED_CHUNK = 512
# Bulk texts go through the model this many at a time whatever the precision (queries go
# one at a time in bfloat16, see i2cr.models.text_encoders.batch_size_for).
EMBED_BATCH = 64
# Below this many entities a query scores every vector (exact and still fast).
EXACT_BELOW = 100_000
HNSW_CONNECTIVITY = 16
HNSW_EXPANSION_ADD = 128
HNSW_EXPANSION_SEARCH = 128
MAX_TEXT_CHARS = 600
ADD_CHUNK = 100_000


@dataclass(frozen=True)
class DenseFiles:
    """The files of a store's dense index."""

    vectors: Path
    index: Path
    meta: Path

    @classmethod
    def beside(cls, store: str | Path) -> DenseFiles:
        """The dense files of the store at `store`."""
        base = str(store)
        return cls(
            Path(f"{base}.dense.f16"), Path(f"{base}.dense.usearch"), Path(base + ".dense.json")
        )


def _usearch() -> Any:
    try:
        import usearch.index
    except ImportError as err:
        raise InputError(
            "dense retrieval needs usearch: pip install 'i2cr[retrieval]' (or usearch)"
        ) from err
    return usearch.index


# What `fingerprint` reads from a store; `{schema}` is the tables' prefix.
FINGERPRINT_SQL = """
SELECT (SELECT count(*) FROM {schema}entities),
    (SELECT qid FROM {schema}entities ORDER BY id LIMIT 1),
    (SELECT qid FROM {schema}entities ORDER BY id DESC LIMIT 1),
    (SELECT count(*) FROM {schema}enrichments)
"""


class Neighbours(Protocol):
    """A store's dense source: the entities nearest to a text (`DenseIndex` and PostgreSQL's)."""

    def __len__(self) -> int:
        """Count the indexed entities."""
        ...

    def neighbours(self, text: str, n: int) -> list[int]:
        """Row ids of the n entities whose text is nearest to `text`, nearest first."""
        ...


def fingerprint(row: tuple[Any, ...]) -> str:
    """What vectors are made from, of a FINGERPRINT_SQL row: entities (count, ends), enrichments."""
    count, first, last, enriched = row
    ends = dict.fromkeys(qid for qid in (first, last) if qid is not None)
    return text_hash(str(count), *ends, str(enriched))


def store_fingerprint(db: sqlite3.Connection) -> str:
    """The fingerprint of an SQLite store."""
    return fingerprint(db.execute(FINGERPRINT_SQL.format(schema="")).fetchone())


def entity_vectors(kg: EntityStore, ids: list[int], encoder: TextEncoder) -> np.ndarray:
    """Unit float32 embeddings of the entities' texts (name + shown description), in id order."""
    texts = [
        entity_text(entity.as_candidate(desc))[:MAX_TEXT_CHARS]
        for entity, desc in kg._entities(ids)
    ]
    vectors = encoder.encode(texts, batch_size=EMBED_BATCH).float().cpu().numpy()
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
    return vectors


@dataclass
class EmbedSummary:
    """What an embedding run did."""

    embedded: int
    resumed_from: int
    total: int


def build_dense_index(
    store: str | Path,
    embedder: str,
    precision: Precision = "auto",
    limit: int | None = None,
    threads: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> EmbedSummary:
    """Embed the store's entities (the first `limit`) and build the ANN index beside it.

    Vectors are appended in chunks; a run killed midway continues from the last full chunk.
    `threads` is usearch's thread count for building (0: every core). `progress` gets
    (entities embedded, entities to embed).
    """
    index_module = _usearch()
    path = Path(store)
    if not path.is_file() or not is_sqlite_file(path):
        raise InputError(f"not a KG store (build one with `i2cr kg build`): {path}")
    files = DenseFiles.beside(path)
    kg = SqliteKG(path)
    db = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
    try:
        total = len(kg) if limit is None else min(limit, len(kg))
        meta = {
            "embedder": embedder,
            "precision": resolve_precision(precision),
            "store": store_fingerprint(db),
            "entities": total,
            "text": "name. description",
        }
        encoder = load_embedder(embedder, precision)
        dim = int(encoder.encode(["dimension probe"]).shape[1])
        meta["dim"] = dim
        done = _resume_point(files, meta)
        if done == total and _is_complete(files, meta):
            return EmbedSummary(embedded=0, resumed_from=done, total=total)
        files.meta.write_text(json.dumps({**meta, "complete": False}))
        ids = [
            row for (row,) in db.execute("SELECT id FROM entities ORDER BY id LIMIT ?", (total,))
        ]
        with files.vectors.open("ab") as out:
            for start in range(done, total, EMBED_CHUNK):
                chunk = ids[start : start + EMBED_CHUNK]
                vectors = entity_vectors(kg, chunk, encoder)
                out.write(vectors.astype("<f2").tobytes())
                out.flush()
                if progress:
                    progress(start + len(chunk), total)
        vectors = np.memmap(files.vectors, dtype="<f2", mode="r", shape=(total, dim))
        index = index_module.Index(
            ndim=dim,
            metric="ip",
            dtype="f16",
            connectivity=HNSW_CONNECTIVITY,
            expansion_add=HNSW_EXPANSION_ADD,
            expansion_search=HNSW_EXPANSION_SEARCH,
        )
        keys = np.asarray(ids, dtype=np.uint64)
        for start in range(0, total, ADD_CHUNK):
            end = start + ADD_CHUNK
            index.add(keys[start:end], np.asarray(vectors[start:end]), threads=threads)
        index.save(str(files.index))
        files.meta.write_text(json.dumps({**meta, "complete": True}))
    finally:
        db.close()
        kg.close()
    return EmbedSummary(embedded=total - done, resumed_from=done, total=total)


def _is_complete(files: DenseFiles, meta: dict[str, Any]) -> bool:
    """Whether the index beside the store was built from these very vectors."""
    earlier = json.loads(files.meta.read_text())
    return (
        files.index.is_file()
        and bool(earlier.get("complete"))
        and all(earlier.get(key) == value for key, value in meta.items())
    )


def _resume_point(files: DenseFiles, meta: dict[str, Any]) -> int:
    """Whole rows of vectors already written for the same store and embedder, else 0."""
    if files.meta.is_file() and files.vectors.is_file():
        earlier = json.loads(files.meta.read_text())
        if all(earlier.get(key) == meta[key] for key in ("embedder", "precision", "store", "dim")):
            row_bytes = 2 * meta["dim"]
            rows = min(files.vectors.stat().st_size // row_bytes, meta["entities"])
            with files.vectors.open("r+b") as file:
                file.truncate(rows * row_bytes)
            return rows
    files.vectors.unlink(missing_ok=True)
    files.index.unlink(missing_ok=True)
    return 0


class DenseIndex:
    """A store's ANN index, memory-mapped; queried with mention + context."""

    def __init__(self, store: str | Path, embedder: str, precision: Precision = "auto") -> None:
        """Open the index beside `store`; it must have been built with this embedder."""
        files = DenseFiles.beside(store)
        if not files.meta.is_file() or not files.index.is_file():
            raise InputError(f"{store} has no dense index: build it with `i2cr kg embed {store}`")
        meta = json.loads(files.meta.read_text())
        if not meta.get("complete"):
            raise InputError(
                f"the dense index of {store} is unfinished: run `i2cr kg embed {store}`"
            )
        built = (meta["embedder"], meta["precision"])
        if built != (embedder, resolve_precision(precision)):
            raise InputError(
                f"the dense index of {store} was built with embedder {built[0]!r} in "
                f"{built[1]}: set embedder/precision so, or rebuild it with `i2cr kg embed`"
            )
        self.embedder, self.precision = embedder, precision
        self.index = _usearch().Index.restore(str(files.index), view=True)
        self.exact = len(self.index) < EXACT_BELOW

    def __len__(self) -> int:
        """Count the indexed entities."""
        return len(self.index)

    def neighbours(self, text: str, n: int) -> list[int]:
        """Row ids of the n entities whose text is nearest to `text`, nearest first."""
        if not text.strip() or not len(self.index):
            return []
        vector = embed(self.embedder, [text], precision=self.precision)[0]
        found = self.index.search(vector, min(n, len(self.index)), exact=self.exact)
        return [int(key) for key in found.keys]
