"""Candidate retrieval from the KG store: recall@10 and speed, beside exhaustive rapidfuzz search.

The KG holds the real names in MELBench (Wikidata-MEL, Richpedia-MEL) plus every candidate entity
of WikiMEL train and dev (with their descriptions), merged by QID. Queries are the WikiMEL dev
mentions; a hit is the gold QID among the top 10. For scale, the KG is grown with entities whose
names recombine real first tokens and last parts (descriptions copied from real entities).

    nice -n 10 python benchmarks/kg_retrieval.py --sizes 0,1000000 --exhaustive-sample 100
    # and the same KG in PostgreSQL (i2cr.kg.postgres), queried by 1, 4 and 16 client processes:
    nice -n 10 python benchmarks/kg_retrieval.py --postgres postgresql://user@127.0.0.1:5432/kg

Size 0 means the real KG alone. Each phase runs in its own process so peak memory is its own.
Latency is wall time per query; CPU time per query (thread time) is printed beside it because
on a shared machine the wall time mostly measures waiting for a core (the load average is
recorded too).
Exhaustive search at 1M entities takes seconds per query, hence a seeded sample of the queries
for it (the indexed store is measured on the same sample and on all queries).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from i2cr.datasets import load_dataset
from i2cr.kg import Entity, InMemoryKG, SqliteKG, build_store, iter_entities, read_entities
from i2cr.kg.entities import entities_from_samples

DATA_FILES = (
    "wikimel/wikimel_train.json",
    "wikimel/wikimel_dev.json",
    "melbench/Wikidata-MEL.json",
    "melbench/Richpedia-MEL.json",
)
K = 10


def real_entities(data: Path) -> list[Entity]:
    """Return the benchmark's real KG: names and candidates of the MEL data, merged by QID."""
    samples = [s for name in DATA_FILES for s in load_dataset(data / name)]
    return entities_from_samples(samples)


def grown(real: list[Entity], size: int, seed: int) -> list[Entity]:
    """Return the real entities plus recombined-name entities up to `size` in all."""
    rng = random.Random(seed)
    parts = [e.name.split(" ", 1) for e in real if " " in e.name]
    firsts = [p[0] for p in parts]
    rests = [p[1] for p in parts]
    descriptions = [e.description for e in real if e.description]
    taken = {e.name for e in real}
    extra: list[Entity] = []
    while len(real) + len(extra) < size:
        name = f"{rng.choice(firsts)} {rng.choice(rests)}"
        if name not in taken:
            taken.add(name)
            extra.append(Entity(f"X{len(extra)}", name, rng.choice(descriptions)))
    return real + extra


def write_jsonl(entities: list[Entity], path: Path) -> None:
    """Write entities as the JSONL `i2cr kg build --entities` reads."""
    with path.open("w", encoding="utf-8") as out:
        for e in entities:
            row = {"qid": e.qid, "name": e.name, "aliases": list(e.aliases)}
            row["description"] = e.description
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def dev_queries(data: Path) -> list[tuple[str, str]]:
    """Return (mention, gold QID) for every WikiMEL dev mention."""
    samples = load_dataset(data / "wikimel/wikimel_dev.json")
    return [(s.mention, s.gold_qid) for s in samples if s.gold_qid is not None]


def peak_mib() -> float:
    """Return this process's peak resident memory in MiB.

    Linux's VmHWM counts this program image only; ru_maxrss would also count the parent's
    memory at the time it started this process.
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_build(entities: Path, store: Path) -> dict[str, Any]:
    """Build the store from the JSONL; time, size, peak memory."""
    start = time.perf_counter()
    summary = build_store(((f"{entities}:{n}", e) for n, e in iter_entities(entities)), store)
    return {
        "build_s": time.perf_counter() - start,
        "store_mib": summary.bytes / 2**20,
        "entities": summary.entities,
        "build_peak_mib": peak_mib(),
    }


def phase_query(store: Path, queries: list[tuple[str, str]], pool: int) -> dict[str, Any]:
    """Query every mention against the store; recall@10, latency, peak memory."""
    kg = SqliteKG(store, pool=pool)
    kg.search("warm up", K)
    seconds, cpu_seconds, hits, tops = [], [], [], []
    for mention, gold in queries:
        start, cpu_start = time.perf_counter(), time.thread_time()
        found = kg.search(mention, K)
        cpu_seconds.append(time.thread_time() - cpu_start)
        seconds.append(time.perf_counter() - start)
        hits.append(gold in {c.get("qid") for c in found})
        tops.append([c.get("qid") for c in found])
    ms, cpu_ms = np.array(seconds) * 1000, np.array(cpu_seconds) * 1000
    return {
        "recall": float(np.mean(hits)),
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "cpu_p50_ms": float(np.percentile(cpu_ms, 50)),
        "cpu_p99_ms": float(np.percentile(cpu_ms, 99)),
        "load_average": os.getloadavg()[0],
        "query_peak_mib": peak_mib(),
        "hits": hits,
        "tops": tops,
    }


def phase_pg_build(entities: Path, url: str) -> dict[str, Any]:
    """Build the PostgreSQL store from the JSONL; time and size."""
    from i2cr.kg.postgres import build_postgres_store

    start = time.perf_counter()
    rows = ((f"{entities}:{n}", e) for n, e in iter_entities(entities))
    summary = build_postgres_store(rows, url)
    return {"pg_build_s": time.perf_counter() - start, "pg_mib": summary.bytes / 2**20}


_client: Any = None


def _open_client(url: str, pool: int, candidates: str) -> None:
    global _client
    from i2cr.kg.postgres import PostgresKG

    _client = PostgresKG(url, pool=pool, candidates=candidates, connections=1)  # type: ignore[arg-type]
    _client.search("warm up", K)


def _client_search(mention: str) -> tuple[float, list[str | None]]:
    start = time.perf_counter()
    found = _client.search(mention, K)
    return time.perf_counter() - start, [c.get("qid") for c in found]


def phase_pg_query(
    url: str, queries: list[tuple[str, str]], pool: int, clients: int, candidates: str
) -> dict[str, Any]:
    """Every mention against the PostgreSQL store from `clients` processes at once."""
    from concurrent.futures import ProcessPoolExecutor

    setup = (url, pool, candidates)
    with ProcessPoolExecutor(clients, initializer=_open_client, initargs=setup) as workers:
        list(workers.map(time.sleep, [0.5] * clients))  # every client connected and warm
        start = time.perf_counter()
        results = list(workers.map(_client_search, [m for m, _ in queries]))
        wall = time.perf_counter() - start
    ms = np.array([seconds for seconds, _ in results]) * 1000
    tops = [top for _, top in results]
    return {
        "recall": float(
            np.mean([gold in top for (_, gold), top in zip(queries, tops, strict=True)])
        ),
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "queries_per_s": len(queries) / wall,
        "load_average": os.getloadavg()[0],
        "tops": tops,
    }


def phase_exhaustive(entities: Path, queries: list[tuple[str, str]]) -> dict[str, Any]:
    """Score every label for every query (the reference); recall@10 and latency."""
    kg = InMemoryKG(read_entities(entities))
    seconds, hits = [], []
    for mention, gold in queries:
        start = time.perf_counter()
        found = kg.search(mention, K)
        seconds.append(time.perf_counter() - start)
        hits.append(gold in {c.get("qid") for c in found})
    return {
        "recall": float(np.mean(hits)),
        "p50_ms": float(np.percentile(np.array(seconds) * 1000, 50)),
        "hits": hits,
    }


def run_phase(*args: str) -> dict[str, Any]:
    """Run one phase in a fresh process and return its JSON result."""
    command = [sys.executable, __file__, "--phase", *args]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Measure every KG size and print one JSON line per size, then a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="../shared/data", type=Path)
    parser.add_argument("--work", default="/tmp/i2cr-kg-bench", type=Path)
    parser.add_argument("--sizes", default="0,1000000", help="KG sizes; 0 = the real KG only")
    parser.add_argument(
        "--exhaustive-sample", type=int, default=100, help="0: skip exhaustive search"
    )
    parser.add_argument("--pool", type=int, default=100, help="SqliteKG pool per overlap view")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--postgres", help="also measure this PostgreSQL database (rebuilt)")
    parser.add_argument("--clients", default="1,4,16", help="concurrent PostgreSQL clients")
    parser.add_argument(
        "--pg-candidates",
        default="postings",
        choices=("postings", "pg_trgm"),
        help="where the PostgreSQL store takes its candidates (PostgresKG candidates=)",
    )
    parser.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(_phase(args.phase)))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    queries = dev_queries(args.data)
    sample = random.Random(args.seed).sample(range(len(queries)), args.exhaustive_sample)
    (args.work / "queries.json").write_text(json.dumps(queries))
    (args.work / "sample.json").write_text(json.dumps([queries[i] for i in sample]))
    real = real_entities(args.data)
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        entities = grown(real, size, args.seed)
        jsonl = args.work / f"kg_{len(entities)}.jsonl"
        store = jsonl.with_suffix(".sqlite")
        write_jsonl(entities, jsonl)
        del entities
        store.unlink(missing_ok=True)
        build = run_phase("build", str(jsonl), str(store))
        if args.postgres:
            build.update(run_phase("pgbuild", str(jsonl), args.postgres))
        indexed = run_phase("query", str(store), str(args.work / "queries.json"), str(args.pool))
        # Right after the SQLite queries, so both stores are timed under the same load.
        postgres = _postgres_queries(args, indexed["tops"]) if args.postgres else {}
        exhaustive = {"recall": float("nan"), "p50_ms": float("nan")}
        if sample:
            exhaustive = run_phase("exhaustive", str(jsonl), str(args.work / "sample.json"))
        on_sample = float(np.mean([indexed["hits"][i] for i in sample])) if sample else float("nan")
        row = {
            **build,
            "recall_indexed_all": indexed["recall"],
            "recall_indexed_sample": on_sample,
            "recall_exhaustive_sample": exhaustive["recall"],
            "p50_ms": indexed["p50_ms"],
            "p99_ms": indexed["p99_ms"],
            "cpu_p50_ms": indexed["cpu_p50_ms"],
            "cpu_p99_ms": indexed["cpu_p99_ms"],
            "load_average": indexed["load_average"],
            "exhaustive_p50_ms": exhaustive["p50_ms"],
            "query_peak_mib": indexed["query_peak_mib"],
            "queries": len(queries),
            "sample": len(sample),
            **postgres,
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    if args.postgres:
        _print_postgres_table(rows, args.clients)
    print(
        "| entities | recall@10 indexed (all dev) | indexed / exhaustive (sample) | p50 / p99 ms "
        "(CPU p50 / p99) | exhaustive p50 ms | build s | MiB on disk | peak MiB build / query |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['entities']:,} | {r['recall_indexed_all']:.3f} | "
            f"{r['recall_indexed_sample']:.3f} / {r['recall_exhaustive_sample']:.3f} | "
            f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f} "
            f"({r['cpu_p50_ms']:.1f} / {r['cpu_p99_ms']:.1f}) | "
            f"{r['exhaustive_p50_ms']:.0f} | "
            f"{r['build_s']:.0f} | {r['store_mib']:.0f} | "
            f"{r['build_peak_mib']:.0f} / {r['query_peak_mib']:.0f} |"
        )


def _postgres_queries(args: argparse.Namespace, sqlite_tops: list) -> dict[str, Any]:
    """The PostgreSQL store queried by each number of clients, compared with SQLite's top-10."""
    measured = {}
    for clients in (int(c) for c in args.clients.split(",")):
        spec = [args.postgres, str(args.work / "queries.json"), str(args.pool), str(clients)]
        spec.append(args.pg_candidates)
        result = run_phase("pgquery", *spec)
        same = sum(a == b for a, b in zip(result.pop("tops"), sqlite_tops, strict=True))
        measured[f"pg_{clients}"] = {**result, "same_top10_as_sqlite": same}
    return measured


def _print_postgres_table(rows: list[dict[str, Any]], clients: str) -> None:
    counts = [int(c) for c in clients.split(",")]
    print(
        "| entities | build s SQLite / PostgreSQL | MiB SQLite / PostgreSQL "
        "| same top-10 as SQLite | recall@10 PostgreSQL | SQLite p50 / p99 ms | "
        + " | ".join(
            f"PostgreSQL {c} client{'s' if c > 1 else ''} p50 / p99 ms (q/s)" for c in counts
        )
        + " |"
    )
    print("|---" * (6 + len(counts)) + "|")
    for r in rows:
        first = r[f"pg_{counts[0]}"]
        cells = [
            f"{r['entities']:,}",
            f"{r['build_s']:.0f} / {r['pg_build_s']:.0f}",
            f"{r['store_mib']:.0f} / {r['pg_mib']:.0f}",
            f"{first['same_top10_as_sqlite']} / {r['queries']}",
            f"{first['recall']:.3f}",
            f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f}",
        ]
        for c in counts:
            m = r[f"pg_{c}"]
            cells.append(f"{m['p50_ms']:.1f} / {m['p99_ms']:.1f} ({m['queries_per_s']:.0f})")
        print("| " + " | ".join(cells) + " |")


def _phase(spec: list[str]) -> dict[str, Any]:
    name, *rest = spec
    if name == "build":
        return phase_build(Path(rest[0]), Path(rest[1]))
    if name == "pgbuild":
        return phase_pg_build(Path(rest[0]), rest[1])
    queries = [(m, g) for m, g in json.loads(Path(rest[1]).read_text())]
    if name == "query":
        return phase_query(Path(rest[0]), queries, int(rest[2]))
    if name == "pgquery":
        return phase_pg_query(rest[0], queries, int(rest[2]), int(rest[3]), rest[4])
    return phase_exhaustive(Path(rest[0]), queries)


if __name__ == "__main__":
    main()
