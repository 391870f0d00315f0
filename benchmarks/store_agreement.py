"""Hybrid search on PostgreSQL + pgvector against SQLite + usearch: is the top-10 the same.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/store_agreement.py

The KG holds WikiMEL dev's candidate entities and gold answers (i2cr.kg.entities.
entities_from_samples, as tests/test_kg_postgres.py's WikiMEL check builds it), with alias
priors from the WikiMEL train mentions. It is built into an SQLite file and into a PostgreSQL
database (pgserver's PostgreSQL 16 + pgvector, started by this script, unless --postgres names
a server), and each store is embedded by its own `i2cr kg embed` path (MiniLM, the default
embedder). For every WikiMEL dev mention, hybrid search (alias + fuzzy + dense, fused) with the
mention's context gives a top-10 on each store; the overlap is the share of the SQLite top-10
entities that the PostgreSQL top-10 holds, over all mentions.

Below 100,000 entities both stores score every vector (exact search). What the approximate
(HNSW) search costs is measured by forcing each store onto its HNSW index: dense top-10 recall
against exact search, and the hybrid top-10 overlap with the exact store's. Writes
benchmarks/results/store_agreement.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from pgvector_stores import build_both, database, machine, pgvector_server, server_facts

from i2cr.datasets import Sample, load_dataset
from i2cr.kg.dense import DenseIndex, build_dense_index
from i2cr.kg.entities import entities_from_samples
from i2cr.kg.hybrid import HybridKG, HybridSearch
from i2cr.kg.postgres import PostgresHybridKG, embed_postgres_store
from i2cr.kg.priors import mention_counts

EMBEDDER = "minilm"
K = 10


def log(message: str) -> None:
    """Progress, on stderr."""
    print(message, file=sys.stderr, flush=True)


def top_k(kg: HybridSearch, samples: list[Sample]) -> list[list[str]]:
    """The hybrid top-K QIDs per mention."""
    return [[c.get("qid", "") for c in kg.search(s.mention, K, context=s.context)] for s in samples]


def dense_top_k(kg: HybridSearch, samples: list[Sample]) -> list[list[int]]:
    """The dense source's top-K row ids per mention."""
    return [kg.ranked_ids("dense", s.mention, s.context, K) for s in samples]


def overlap(found: list[list[Any]], expected: list[list[Any]]) -> float:
    """The share of the expected lists' items that the found lists hold (pooled)."""
    shared = sum(len(set(f) & set(e)) for f, e in zip(found, expected, strict=True))
    return shared / max(1, sum(len(e) for e in expected))


def identical(found: list[list[Any]], expected: list[list[Any]]) -> float:
    """The share of mentions whose lists are equal, order included."""
    return float(np.mean([f == e for f, e in zip(found, expected, strict=True)]))


def recall(lists: list[list[str]], samples: list[Sample]) -> float:
    """Gold QID within the top-K, over the mentions with a gold QID."""
    gold = [(s.gold_qid, found) for s, found in zip(samples, lists, strict=True) if s.gold_qid]
    return float(np.mean([qid in found for qid, found in gold]))


def main() -> None:
    """Build, embed and compare; write the JSON and Markdown results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", type=Path)
    parser.add_argument("--work", default="/tmp/i2cr-store-agreement", type=Path)
    parser.add_argument("--postgres", help="a running server's superuser URL (else pgserver)")
    parser.add_argument("--out", default="benchmarks/results/store_agreement", type=Path)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    samples = load_dataset(args.data / "wikimel/wikimel_dev.json")
    entities = entities_from_samples(samples)
    counts = mention_counts(load_dataset(args.data / "wikimel/wikimel_train.json"))
    sqlite = args.work / f"wikimel_dev_{len(entities)}.sqlite"
    with pgvector_server(args.work / "pgdata", {}, args.postgres) as server:
        url = database(server, "wikimel_dev")
        report: dict[str, Any] = {"entities": len(entities), "mentions": len(samples)}
        report.update(build_both(entities, sqlite, url, counts, log))
        start = time.perf_counter()
        build_dense_index(sqlite, EMBEDDER, threads=1)
        report["sqlite_embed_s"] = time.perf_counter() - start
        start = time.perf_counter()
        embed_postgres_store(url, EMBEDDER)
        report["postgres_embed_s"] = time.perf_counter() - start
        log(f"embedded: {report['sqlite_embed_s']:.0f} s, {report['postgres_embed_s']:.0f} s")

        sqlite_kg = HybridKG(sqlite, DenseIndex(sqlite, EMBEDDER))
        postgres_kg = PostgresHybridKG(url, embedder=EMBEDDER)
        assert sqlite_kg.dense is not None and postgres_kg.dense is not None
        assert sqlite_kg.dense.exact and postgres_kg.dense.exact, "a KG this small is exact"
        exact = {"sqlite": top_k(sqlite_kg, samples), "postgres": top_k(postgres_kg, samples)}
        exact_dense = {
            "sqlite": dense_top_k(sqlite_kg, samples),
            "postgres": dense_top_k(postgres_kg, samples),
        }
        sqlite_kg.dense.exact = postgres_kg.dense.exact = False
        hnsw = {"sqlite": top_k(sqlite_kg, samples), "postgres": top_k(postgres_kg, samples)}
        hnsw_dense = {
            "sqlite": dense_top_k(sqlite_kg, samples),
            "postgres": dense_top_k(postgres_kg, samples),
        }
        report["postgres_server"] = server_facts(url)
        postgres_kg.close()
    report["hybrid_top10"] = {
        "overlap": overlap(exact["postgres"], exact["sqlite"]),
        "identical_lists": identical(exact["postgres"], exact["sqlite"]),
        "dense_top10_overlap": overlap(exact_dense["postgres"], exact_dense["sqlite"]),
        "gold_recall": {store: recall(lists, samples) for store, lists in exact.items()},
    }
    report["hnsw_cost"] = {
        store: {
            "dense_top10_recall_vs_exact": overlap(hnsw_dense[store], exact_dense[store]),
            "hybrid_top10_overlap_vs_exact": overlap(hnsw[store], exact[store]),
            "gold_recall": recall(hnsw[store], samples),
        }
        for store in ("sqlite", "postgres")
    }
    report["hnsw_cost"]["hybrid_top10_overlap_between_stores"] = overlap(
        hnsw["postgres"], hnsw["sqlite"]
    )
    report["machine"] = machine()
    report["command"] = "OMP_NUM_THREADS=1 nice -n 10 python benchmarks/store_agreement.py"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


def markdown(report: dict[str, Any]) -> str:
    """The figures as a Markdown table."""
    top, cost = report["hybrid_top10"], report["hnsw_cost"]
    lines = [
        f"WikiMEL dev, {report['mentions']} mentions, KG of {report['entities']:,} entities "
        "(its candidates and gold answers), hybrid search (alias + fuzzy + dense), top-10.",
        "",
        "| comparison | top-10 entities shared | same list, same order | gold in top-10 |",
        "|---|---:|---:|---:|",
        f"| PostgreSQL + pgvector vs SQLite + usearch (both exact, the default below 100k) | "
        f"{100 * top['overlap']:.2f}% | {100 * top['identical_lists']:.1f}% | "
        f"{100 * top['gold_recall']['postgres']:.1f}% / "
        f"{100 * top['gold_recall']['sqlite']:.1f}% |",
    ]
    for store, name in (("postgres", "PostgreSQL HNSW"), ("sqlite", "usearch HNSW")):
        lines.append(
            f"| {name} vs the same store exact | "
            f"{100 * cost[store]['hybrid_top10_overlap_vs_exact']:.2f}% | | "
            f"{100 * cost[store]['gold_recall']:.1f}% |"
        )
    lines.append(
        "| PostgreSQL HNSW vs usearch HNSW | "
        f"{100 * cost['hybrid_top10_overlap_between_stores']:.2f}% | | |"
    )
    lines += [
        "",
        f"Dense source alone, top-10 shared between the stores (exact): "
        f"{100 * top['dense_top10_overlap']:.2f}%; HNSW recall@10 against exact: PostgreSQL "
        f"{100 * cost['postgres']['dense_top10_recall_vs_exact']:.2f}%, usearch "
        f"{100 * cost['sqlite']['dense_top10_recall_vs_exact']:.2f}%.",
        "",
        f"Command: `{report['command']}`. Machine: {report['machine']['cpu']}, "
        f"{report['machine']['cores']} cores, load average {report['machine']['load_average']} "
        f"at the end. Server: {report['postgres_server']['server'].split(' on ')[0]}, pgvector "
        f"{report['postgres_server']['pgvector']}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
