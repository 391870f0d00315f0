"""Candidate generation without given candidates: recall@1/10/50 per source and fused.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/candidate_generation.py
        --distractors 1000000 --dense-distractors 50000

The KG holds every entity of the shared data: WikiMEL train and dev candidates and gold
answers, MELBench (Wikidata-MEL, Richpedia-MEL) names, WikiDiverse dev candidates and gold
names (no QIDs there: ids `wikidiverse:<name>`), merged by id. Alias priors come from the
WikiMEL train mentions and their gold QIDs; the shared data has no popularity. The grown KG adds
recombined-name distractors (benchmarks/kg_retrieval.py's `grown`, same seed) after the real
entities, so the real entities keep their row ids and their vectors are embedded once.

Sources: `fuzzy` (the store's label ranking), `alias` (aliases with priors), `dense` (MiniLM,
mention + context against name + description). Fused: alias + fuzzy, and alias + fuzzy +
dense (reciprocal rank fusion, i2cr.kg.hybrid). Embedding the grown KG's 1M distractors does
not fit this 2-core machine, so its dense index holds the real entities and only the first
`--dense-distractors` distractors (printed). Queries: WikiMEL dev (all), WikiDiverse dev
(non-NIL), a seeded sample of Richpedia-MEL mentions. Latency is per query and source (wall
and thread CPU, p50); fused latency is the sum of its sources' (they run one after another).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from i2cr.datasets import Sample, load_dataset
from i2cr.kg import Entity, build_store
from i2cr.kg.dense import DenseFiles, DenseIndex, build_dense_index, store_fingerprint
from i2cr.kg.entities import entities_from_samples
from i2cr.kg.fusion import fuse
from i2cr.kg.hybrid import SOURCES, HybridKG, Source
from i2cr.kg.priors import PriorTables, mention_counts
from i2cr.models.precision import resolve_precision
from i2cr.ranking import best_first, embedder_scores

sys.path.insert(0, str(Path(__file__).parent))
from kg_retrieval import grown  # noqa: E402

DEPTH = 50
CUTS = (1, 10, 50)
EMBEDDER = "minilm"
FUSIONS: dict[str, tuple[Source, ...]] = {
    "alias+fuzzy": ("alias", "fuzzy"),
    "alias+fuzzy+dense": ("alias", "fuzzy", "dense"),
    "alias+dense": ("alias", "dense"),
}


def wikidiverse(data: Path) -> list[Sample]:
    """WikiDiverse dev with ids made from names (it carries no QIDs), NIL mentions dropped."""
    samples = load_dataset(data / "wikidiverse/wikidiverse_dev_fulldesc.json")
    for sample in samples:
        for candidate in sample.candidates:
            candidate["qid"] = f"wikidiverse:{candidate['name']}"
        if sample.gold_name and sample.gold_name != "nil":
            sample.gold_qid = f"wikidiverse:{sample.gold_name}"
    return [s for s in samples if s.gold_qid]


def real_entities(data: Path) -> list[Entity]:
    """Every entity the shared data names, merged by id."""
    files = ("wikimel/wikimel_train.json", "wikimel/wikimel_dev.json")
    files += ("melbench/Wikidata-MEL.json", "melbench/Richpedia-MEL.json")
    samples = [s for name in files for s in load_dataset(data / name)]
    return entities_from_samples([*samples, *wikidiverse(data)])


def query_sets(data: Path, richpedia: int, seed: int) -> dict[str, list[tuple[str, str, str]]]:
    """(mention, context, gold id) per query set."""
    rich = [s for s in load_dataset(data / "melbench/Richpedia-MEL.json") if s.gold_qid]
    sets = {
        "WikiMEL dev": load_dataset(data / "wikimel/wikimel_dev.json"),
        "WikiDiverse dev": wikidiverse(data),
        "Richpedia-MEL sample": random.Random(seed).sample(rich, richpedia),
    }
    return {
        name: [(s.mention, s.context, s.gold_qid) for s in samples if s.gold_qid]
        for name, samples in sets.items()
    }


def build(entities: list[Entity], path: Path, priors: PriorTables) -> None:
    """Build a store with alias priors, unless it is there already."""
    if path.is_file():
        return
    rows: Iterator[tuple[str, Entity]] = ((e.qid, e) for e in entities)
    summary = build_store(priors.watch(rows), path, finish=priors.write)
    print(f"built {path}: {summary.entities} entities", file=sys.stderr)


def adopt_vectors(source: Path, target: Path, rows: int) -> None:
    """Start `target`'s dense vectors with `source`'s first rows (the same entities, in order)."""
    src, dst = DenseFiles.beside(source), DenseFiles.beside(target)
    if dst.vectors.is_file() and dst.vectors.stat().st_size >= src.vectors.stat().st_size:
        return
    meta = json.loads(src.meta.read_text())
    with sqlite3.connect(target) as db:
        meta.update(store=store_fingerprint(db), complete=False)
    dst.vectors.write_bytes(src.vectors.read_bytes()[: rows * 2 * meta["dim"]])
    dst.meta.write_text(json.dumps(meta))


def embed(path: Path, limit: int | None) -> float:
    """Build the dense index (resumable); entities embedded per second of this run."""
    start = time.perf_counter()
    last = [time.perf_counter()]

    def progress(done: int, total: int) -> None:
        if time.perf_counter() - last[0] > 60:
            last[0] = time.perf_counter()
            print(f"  embedded {done}/{total}", file=sys.stderr, flush=True)

    summary = build_dense_index(path, EMBEDDER, limit=limit, threads=1, progress=progress)
    seconds = time.perf_counter() - start
    print(f"dense {path}: {summary} in {seconds:.0f} s", file=sys.stderr)
    return summary.embedded / seconds if summary.embedded else float("nan")


def evaluate(kg: HybridKG, queries: list[tuple[str, str, str]]) -> dict[str, Any]:
    """Recall@CUTS and p50 latency per source and per fusion."""
    ids = kg._rows(
        "SELECT id, qid FROM entities WHERE qid IN ({})", sorted({g for *_, g in queries})
    )
    gold_ids = dict((qid, row) for row, qid in ids)
    lists: dict[str, list[list[int]]] = {s: [] for s in kg.sources}
    seconds: dict[str, list[float]] = {s: [] for s in kg.sources}
    cpu: dict[str, list[float]] = {s: [] for s in kg.sources}
    for mention, context, _ in queries:
        for source in kg.sources:
            start, cpu_start = time.perf_counter(), time.thread_time()
            lists[source].append(kg.ranked_ids(source, mention, context, DEPTH))
            cpu[source].append(time.thread_time() - cpu_start)
            seconds[source].append(time.perf_counter() - start)
    for name, sources in FUSIONS.items():
        if all(s in kg.sources for s in sources):
            lists[name] = [fuse([lists[s][i] for s in sources]) for i in range(len(queries))]
            seconds[name] = list(np.sum([seconds[s] for s in sources], axis=0))
            cpu[name] = list(np.sum([cpu[s] for s in sources], axis=0))
    golds = [gold_ids.get(g, -1) for *_, g in queries]
    out: dict[str, Any] = {}
    for name, ranked in lists.items():
        out[name] = {
            **{
                f"r@{c}": float(np.mean([g in r[:c] for g, r in zip(golds, ranked, strict=True)]))
                for c in CUTS
            },
            "p50_ms": 1000 * float(np.percentile(seconds[name], 50)),
            "cpu_p50_ms": 1000 * float(np.percentile(cpu[name], 50)),
        }
    out["n"] = len(queries)
    out["gold_in_kg"] = float(np.mean([g >= 0 for g in golds]))
    return out


def ranker_check(kg: HybridKG, data: Path, k: int = 10, keep: int = 5) -> dict[str, Any]:
    """Recall@1 and @keep after the first-stage ranker, on WikiMEL dev's KG top-k.

    Orders: the search's ('none'), the embedder's cosine alone, and the two fused as the
    retrieve node fuses KG candidates (i2cr.ranking.rank_candidates, retrieved=True).
    """
    samples = [s for s in load_dataset(data / "wikimel/wikimel_dev.json") if s.gold_qid]
    searches: dict[str, tuple[Source, ...]] = {"fuzzy": ("fuzzy",), **FUSIONS}
    out: dict[str, Any] = {}
    for search, sources in searches.items():
        orders: dict[str, list[list[str]]] = {"none": [], "embedder": [], "fused": []}
        for sample in samples:
            rankings = [
                kg.ranked_ids(s, sample.mention, sample.context, max(k, DEPTH)) for s in sources
            ]
            found = kg._entities(fuse(rankings)[:k] if len(sources) > 1 else rankings[0][:k])
            candidates = [entity.as_candidate(desc) for entity, desc in found]
            qids = [c.get("qid", "") for c in candidates]
            by_cosine = best_first(
                embedder_scores(EMBEDDER, sample.mention, sample.context, candidates)
            )
            orders["none"].append(qids)
            orders["embedder"].append([qids[i] for i in by_cosine])
            orders["fused"].append([qids[i] for i in fuse([list(range(len(qids))), by_cosine])])
        golds = [s.gold_qid for s in samples]
        out[search] = {
            name: {
                f"r@{c}": float(np.mean([g in o[:c] for g, o in zip(golds, ranked, strict=True)]))
                for c in (1, keep)
            }
            for name, ranked in orders.items()
        }
    return out


def given_candidates_recall(data: Path) -> dict[str, float]:
    """Recall@1/10 of the candidates WikiMEL dev ships with (gold QID among them)."""
    samples = load_dataset(data / "wikimel/wikimel_dev.json")
    found = [
        [c.get("qid") for c in s.candidates].index(s.gold_qid)
        if s.gold_qid in [c.get("qid") for c in s.candidates]
        else 99
        for s in samples
    ]
    return {f"r@{c}": float(np.mean([f < c for f in found])) for c in (1, 10)}


def main() -> None:
    """Build the KGs and their dense indexes, measure, print JSON rows and a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="../shared/data", type=Path)
    parser.add_argument("--work", default="/tmp/i2cr-candidates", type=Path)
    parser.add_argument("--distractors", type=int, default=1_000_000)
    parser.add_argument("--dense-distractors", type=int, default=50_000)
    parser.add_argument("--richpedia", type=int, default=1000, help="Richpedia-MEL queries")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-dense", action="store_true", help="fuzzy and alias sources only")
    parser.add_argument(
        "--ranker-check",
        action="store_true",
        help="only the first-stage ranker, on the grown KG (the real one with --distractors 0)",
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    real = real_entities(args.data)
    counts = mention_counts(load_dataset(args.data / "wikimel/wikimel_train.json"))
    real_store = args.work / f"kg_{len(real)}.sqlite"
    build(real, real_store, PriorTables(counts))
    big = grown(real, len(real) + args.distractors, args.seed) if args.distractors else []
    big_store = args.work / f"kg_{len(big)}.sqlite"
    if big:
        build(big, big_store, PriorTables(counts))
    del big
    rates = {}
    dense_limit = len(real) + args.dense_distractors
    if not args.no_dense:
        rates["real"] = embed(real_store, None)
        if args.distractors:
            adopt_vectors(real_store, big_store, len(real))
            rates["grown"] = embed(big_store, dense_limit)
    if args.ranker_check:
        # The largest KG built: the grown one when --distractors is given.
        store = big_store if args.distractors else real_store
        dense = None if args.no_dense else DenseIndex(store, EMBEDDER)
        kg = HybridKG(store, dense, sources=SOURCES)
        print(json.dumps({"kg_entities": len(kg), "ranker_check": ranker_check(kg, args.data)}))
        return
    queries = query_sets(args.data, args.richpedia, args.seed)
    stores = [real_store, *([big_store] if args.distractors else [])]
    rows = []
    for store in stores:
        dense = None if args.no_dense else DenseIndex(store, EMBEDDER)
        kg = HybridKG(store, dense, sources=SOURCES)
        for name, items in queries.items():
            result = evaluate(kg, items)
            row = {
                "kg_entities": len(kg),
                "dense_entities": len(dense) if dense else 0,
                "queries": f"{name} ({len(items)})",
                **result,
            }
            print(json.dumps(row), flush=True)
            rows.append(row)
    given = given_candidates_recall(args.data)
    print(
        json.dumps(
            {
                "given_candidates_wikimel_dev": given,
                "embed_per_s": rates,
                "precision": resolve_precision("auto"),
                "load": os.getloadavg(),
            }
        )
    )
    print_table(rows, given)


def print_table(rows: list[dict[str, Any]], given: dict[str, float]) -> None:
    """Markdown: one row per KG x query set x source."""
    print("\n| KG (dense) | queries | source | R@1 | R@10 | R@50 | p50 ms (CPU) |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        for name in ("fuzzy", "alias", "dense", *FUSIONS):
            if name in row:
                r = row[name]
                print(
                    f"| {row['kg_entities']:,} ({row['dense_entities']:,}) | {row['queries']} | "
                    f"{name} | {100 * r['r@1']:.1f} | {100 * r['r@10']:.1f} | "
                    f"{100 * r['r@50']:.1f} | {r['p50_ms']:.1f} ({r['cpu_p50_ms']:.1f}) |"
                )
    print(
        f"\nWikiMEL dev, given candidates: R@1 {100 * given['r@1']:.1f}, "
        f"R@10 {100 * given['r@10']:.1f}"
    )


if __name__ == "__main__":
    main()
