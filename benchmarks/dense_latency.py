"""Dense and hybrid search latency on SQLite + usearch and PostgreSQL + pgvector, 100k and 1M.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/dense_latency.py --sizes 100000,1000000

The KG at each size holds the real entity names of the shared data (MELBench and WikiMEL train
and dev candidates, benchmarks/kg_retrieval.py's `real_entities`) and recombined-name entities
up to the size, whose descriptions are copied from real ones (synthetic: `grown`, seed 0), with
alias priors from the WikiMEL train mentions. Both stores are built from it; the PostgreSQL one
in pgserver's PostgreSQL 16 + pgvector 0.6 (started here, shared_buffers 4GB,
maintenance_work_mem 4GB, one parallel maintenance worker), unless --postgres names a server.

Vectors: below --random-from entities, MiniLM embeds every entity (`i2cr kg embed` of the
SQLite store, resumable); from --random-from on, seeded random unit vectors of MiniLM's 384
dimensions stand in (embedding 1M entities with MiniLM takes hours on this machine: the
100k run's rate is printed). Either way the same float16 vectors go into the PostgreSQL store's
pgvector column, then each store's `i2cr kg embed` builds its HNSW index (timed).

Queries: every WikiMEL dev mention with its context. A first pass warms the caches (the query
embeddings, the server's pages); the second is timed per query: `dense` is the dense source's
top 50 (an HNSW search on both stores at these sizes), `hybrid` the fused top 10 (alias +
fuzzy + dense). Query embedding is not in these figures (the embedding cache holds it); its own
latency is given once. HNSW recall@10: the dense top 10 against exact search, on the first
--exact-queries mentions. Writes benchmarks/results/dense_latency.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from kg_retrieval import grown, real_entities
from pgvector_stores import (
    build_both,
    database,
    machine,
    percentiles,
    pgvector_server,
    server_facts,
)

from i2cr.datasets import load_dataset
from i2cr.kg.dense import (
    FINGERPRINT_SQL,
    DenseFiles,
    DenseIndex,
    build_dense_index,
    fingerprint,
    store_fingerprint,
)
from i2cr.kg.hybrid import HybridKG, HybridSearch
from i2cr.kg.postgres import PostgresHybridKG, embed_postgres_store
from i2cr.kg.postgres.embedding import write_vectors
from i2cr.kg.postgres.vectors import META_KEY
from i2cr.kg.priors import mention_counts
from i2cr.models.embedder import load_embedder
from i2cr.models.precision import resolve_precision

EMBEDDER = "minilm"
DIM = 384
DEPTH = 50
K = 10
COPY_CHUNK = 20_000
SERVER_SETTINGS = {
    "shared_buffers": "4GB",
    "maintenance_work_mem": "4GB",
    "max_parallel_maintenance_workers": "1",
}


def log(message: str) -> None:
    """Progress, on stderr."""
    print(message, file=sys.stderr, flush=True)


def vectors_meta(store_fingerprint: str, total: int) -> dict[str, Any]:
    """The dense metadata `i2cr kg embed` writes for finished vectors of the default embedder."""
    return {
        "embedder": EMBEDDER,
        "precision": resolve_precision("auto"),
        "store": store_fingerprint,
        "entities": total,
        "text": "name. description",
        "dim": DIM,
        "complete": False,
    }


def write_random_vectors(sqlite: Path, total: int, seed: int) -> None:
    """Seeded random unit vectors as the SQLite store's finished (unindexed) vectors."""
    files = DenseFiles.beside(sqlite)
    if files.meta.is_file() and json.loads(files.meta.read_text())["entities"] == total:
        return
    rng = np.random.default_rng(seed)
    with files.vectors.open("wb") as out:
        for start in range(0, total, 100_000):
            rows = rng.standard_normal((min(100_000, total - start), DIM), dtype=np.float32)
            rows /= np.linalg.norm(rows, axis=1, keepdims=True)
            out.write(rows.astype("<f2").tobytes())
    with sqlite3.connect(sqlite) as db:
        meta = vectors_meta(store_fingerprint(db), total)
    files.meta.write_text(json.dumps(meta))


def copy_vectors_to_postgres(sqlite: Path, url: str, total: int) -> None:
    """The SQLite store's float16 vectors into the PostgreSQL store's pgvector column."""
    vectors = np.memmap(DenseFiles.beside(sqlite).vectors, dtype="<f2", mode="r")
    vectors = vectors.reshape(total, DIM)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute("DROP TABLE IF EXISTS i2cr_kg.dense")
        conn.execute(
            f"CREATE TABLE i2cr_kg.dense (entity integer PRIMARY KEY, embedding vector({DIM}))"
        )
        for start in range(0, total, COPY_CHUNK):
            end = min(total, start + COPY_CHUNK)
            ids = list(range(start, end))
            write_vectors(conn, ids, np.asarray(vectors[start:end], dtype=np.float32))
        row = conn.execute(FINGERPRINT_SQL.format(schema="i2cr_kg.")).fetchone()
        meta = vectors_meta(fingerprint(tuple(row)), total)
        conn.execute(
            "INSERT INTO i2cr_kg.meta VALUES (%s, %s) ON CONFLICT (key) "
            "DO UPDATE SET value = excluded.value",
            (META_KEY, json.dumps(meta).encode()),
        )


def postgres_sizes(url: str) -> dict[str, float]:
    """MiB of the vectors table and of its HNSW index."""
    with psycopg.connect(url) as conn:
        table, index = conn.execute(
            "SELECT pg_table_size('i2cr_kg.dense'), pg_relation_size('i2cr_kg.dense_hnsw')"
        ).fetchone()
    return {"postgres_vectors_mib": table / 2**20, "postgres_hnsw_mib": index / 2**20}


def timed(kg: HybridSearch, queries: list[tuple[str, str]]) -> dict[str, Any]:
    """p50/p95 of the dense top DEPTH and of the hybrid top K, after a warm-up pass."""
    for mention, context in queries:
        kg.search_ids(mention, K, context)
    seconds: dict[str, list[float]] = {"dense": [], "hybrid": []}
    for mention, context in queries:
        start = time.perf_counter()
        kg.ranked_ids("dense", mention, context, DEPTH)
        seconds["dense"].append(time.perf_counter() - start)
        start = time.perf_counter()
        kg.search_ids(mention, K, context)
        seconds["hybrid"].append(time.perf_counter() - start)
    return {name: percentiles(values) for name, values in seconds.items()}


def hnsw_recall(kg: HybridSearch, queries: list[tuple[str, str]]) -> float:
    """Share of the exact dense top K that the HNSW search finds."""
    dense: Any = kg.dense
    approximate = [kg.ranked_ids("dense", m, c, K) for m, c in queries]
    dense.exact = True
    try:
        exact = [kg.ranked_ids("dense", m, c, K) for m, c in queries]
    finally:
        dense.exact = False
    shared = sum(len(set(a) & set(e)) for a, e in zip(approximate, exact, strict=True))
    return shared / max(1, sum(len(e) for e in exact))


def embedding_latency(queries: list[tuple[str, str]]) -> dict[str, float]:
    """p50/p95 of embedding one query text (mention + context) with MiniLM."""
    encoder = load_embedder(EMBEDDER)
    seconds = []
    for mention, context in queries:
        start = time.perf_counter()
        encoder.encode([f"{mention} {context}".strip()])
        seconds.append(time.perf_counter() - start)
    return percentiles(seconds)


def measure_size(
    size: int, args: argparse.Namespace, server: str, queries: list[tuple[str, str]]
) -> dict[str, Any]:
    """Build, fill and index both stores of one size, then time them."""
    real = real_entities(args.data)
    entities = grown(real, size, 0)
    counts = mention_counts(load_dataset(args.data / "wikimel/wikimel_train.json"))
    sqlite = args.work / f"kg_{size}.sqlite"
    url = database(server, f"kg_{size}")
    row: dict[str, Any] = {"entities": size, "real_entities": len(real)}
    row.update(build_both(entities, sqlite, url, counts, log))
    del entities
    random_vectors = size >= args.random_from
    row["vectors"] = "random unit vectors (seeded)" if random_vectors else "MiniLM"
    if random_vectors:
        write_random_vectors(sqlite, size, args.seed)
    start = time.perf_counter()
    summary = build_dense_index(sqlite, EMBEDDER, threads=args.threads)
    row["sqlite_embed_and_index_s"] = time.perf_counter() - start
    if summary.embedded:
        row["embedded_per_s"] = summary.embedded / row["sqlite_embed_and_index_s"]
    log(f"{size}: SQLite vectors and usearch index: {row['sqlite_embed_and_index_s']:.0f} s")
    start = time.perf_counter()
    copy_vectors_to_postgres(sqlite, url, size)
    row["postgres_copy_s"] = time.perf_counter() - start
    start = time.perf_counter()
    embed_postgres_store(url, EMBEDDER)
    row["postgres_hnsw_build_s"] = time.perf_counter() - start
    log(f"{size}: pgvector HNSW index: {row['postgres_hnsw_build_s']:.0f} s")
    row.update(postgres_sizes(url))
    row["usearch_index_mib"] = DenseFiles.beside(sqlite).index.stat().st_size / 2**20
    stores: dict[str, HybridSearch] = {
        "sqlite": HybridKG(sqlite, DenseIndex(sqlite, EMBEDDER)),
        "postgres": PostgresHybridKG(url, embedder=EMBEDDER),
    }
    for name, kg in stores.items():
        assert kg.dense is not None and not kg.dense.exact
        row[name] = timed(kg, queries)
        row[name]["hnsw_recall_at_10"] = hnsw_recall(kg, queries[: args.exact_queries])
        log(f"{size} {name}: {json.dumps(row[name])}")
    row["load_average"] = machine()["load_average"]
    return row


def main() -> None:
    """Measure every size; write the JSON and Markdown results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", type=Path)
    parser.add_argument("--work", default="/tmp/i2cr-dense-latency", type=Path)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--random-from", type=int, default=1_000_000)
    parser.add_argument("--exact-queries", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2, help="usearch index build threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--postgres", help="a running server's superuser URL (else pgserver)")
    parser.add_argument("--out", default="benchmarks/results/dense_latency", type=Path)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    samples = load_dataset(args.data / "wikimel/wikimel_dev.json")
    queries = [(s.mention, s.context) for s in samples]
    report: dict[str, Any] = {"queries": len(queries), "machine": machine()}
    report["query_embedding"] = embedding_latency(queries)
    rows = []
    with pgvector_server(args.work / "pgdata", SERVER_SETTINGS, args.postgres) as server:
        for size in (int(s) for s in args.sizes.split(",")):
            rows.append(measure_size(size, args, server, queries))
            report["sizes"] = rows
            report["postgres_server"] = server_facts(database(server, f"kg_{size}"))
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    threads = os.environ.get("OMP_NUM_THREADS", "")
    report["command"] = " ".join(
        [*([f"OMP_NUM_THREADS={threads}"] if threads else []), f"nice -n {os.nice(0)}", "python"]
        + sys.argv
    )
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


def markdown(report: dict[str, Any]) -> str:
    """The latency table and the build figures."""
    lines = [
        f"{report['queries']} WikiMEL dev queries (mention + context), one client, after a "
        "warm-up pass; milliseconds, p50 / p95, query embedding excluded "
        f"(MiniLM: {report['query_embedding']['p50_ms']:.1f} / "
        f"{report['query_embedding']['p95_ms']:.1f} ms more per query).",
        "",
        "| entities | vectors | store | dense top 50 | hybrid top 10 | HNSW recall@10 |",
        "|---:|---|---|---:|---:|---:|",
    ]
    names = {"sqlite": "SQLite + usearch", "postgres": "PostgreSQL + pgvector"}
    for row in report["sizes"]:
        for store, name in names.items():
            r = row[store]
            lines.append(
                f"| {row['entities']:,} | {row['vectors']} | {name} | "
                f"{r['dense']['p50_ms']:.1f} / {r['dense']['p95_ms']:.1f} | "
                f"{r['hybrid']['p50_ms']:.1f} / {r['hybrid']['p95_ms']:.1f} | "
                f"{100 * r['hnsw_recall_at_10']:.1f}% |"
            )
    lines += [
        "",
        "| entities | SQLite: MiniLM embedding (if any) + usearch index s | pgvector: COPY s, "
        "HNSW build s | usearch index MiB | pgvector table + index MiB |",
        "|---:|---:|---:|---:|---:|",
    ]
    for row in report["sizes"]:
        lines.append(
            f"| {row['entities']:,} | {row['sqlite_embed_and_index_s']:.0f} | "
            f"{row['postgres_copy_s']:.0f}, {row['postgres_hnsw_build_s']:.0f} | "
            f"{row['usearch_index_mib']:.0f} | "
            f"{row['postgres_vectors_mib']:.0f} + {row['postgres_hnsw_mib']:.0f} |"
        )
    facts, where = report["postgres_server"], report["machine"]
    rates = [row["embedded_per_s"] for row in report["sizes"] if "embedded_per_s" in row]
    if rates:
        lines += [
            "",
            f"MiniLM embedded {rates[0]:.0f} entities/s here (one nice'd thread, the usearch "
            f"build included): 1M entities would take about {1e6 / rates[0] / 3600:.1f} hours.",
        ]
    if any(row["vectors"] != "MiniLM" for row in report["sizes"]):
        lines += [
            "",
            "Random vectors are all about equally far from a real query, so HNSW recall on them "
            "says nothing about real data; their rows measure speed only.",
        ]
    loads = ", ".join(f"{row['entities']:,}: {row['load_average']}" for row in report["sizes"])
    lines += ["", f"Load average (1, 5, 15 min) after each size's queries: {loads}."]
    lines += [
        "",
        f"Command: `{report.get('command', '')}`. Machine: {where['cpu']}, {where['cores']} "
        f"cores, {where['memory_gib']} GiB. Server: {facts['server'].split(' on ')[0]}, pgvector "
        f"{facts['pgvector']}, shared_buffers {facts['shared_buffers']}, maintenance_work_mem "
        f"{facts['maintenance_work_mem']}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
