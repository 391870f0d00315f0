"""The default graph on WikiMEL dev with candidates from the KG, beside the dataset's own.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/kg_end_to_end.py
        --store /tmp/i2cr-candidates/kg_34335.sqlite --size 100 --arms dataset,shuffled,fuzzy

The store is the benchmark-entity KG of benchmarks/candidate_generation.py (with its dense
index for the hybrid arm). Arms: `dataset` (the released candidates), `shuffled` (the same,
seeded per sample), `fuzzy` and `hybrid` (no candidates: the retrieve node searches the KG
with `kg_retrieval` set so). The mentions are the seeded subset `i2cr eval --subset N` takes
(i2cr.evals.runner.choose_subset, seed 0), run without images (the carried Azure clues feed
VIF). Each arm's records go to `<work>/<arm>.jsonl` as they finish; a rerun links only the
mentions missing there. Printed per arm: top-1 of the graph, and of taking the first candidate
the graph's first stage (the default embedder ranker) hands TES.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from i2cr import graph
from i2cr.context import Context
from i2cr.datasets import Sample, load_dataset
from i2cr.evals.runner import choose_subset

ARMS = ("dataset", "shuffled", "fuzzy", "hybrid")


def arm_input(sample: Sample, arm: str) -> dict[str, Any]:
    """The graph input of one mention in one arm."""
    data = sample.graph_input()
    data["image"] = None
    if arm == "shuffled":
        candidates = list(sample.candidates)
        random.Random(f"0:{sample.id}").shuffle(candidates)
        data["candidates"] = candidates
    elif arm in ("fuzzy", "hybrid"):
        data["candidates"] = []
    return data


def run_arm(samples: list[Sample], arm: str, store: Path, out: Path) -> None:
    """Link every mention of the arm not yet in its records file."""
    done = set()
    if out.is_file():
        done = {json.loads(line)["id"] for line in out.read_text().splitlines() if line}
    settings: dict[str, Any] = {}
    if arm in ("fuzzy", "hybrid"):
        settings = {"kg": str(store), "kg_retrieval": arm}
    context = Context(**settings)
    with out.open("a", encoding="utf-8") as sink:
        for sample in samples:
            if sample.id in done:
                continue
            start = time.perf_counter()
            try:
                updates: dict[str, Any] = {}
                for step in graph.stream(arm_input(sample, arm), context=context):
                    for update in step.values():
                        updates.update(update or {})
                result = updates["result"]
                first = updates["candidates"][0].get("qid")
                row = {
                    "id": sample.id,
                    "gold": sample.gold_qid,
                    "qid": result.get("qid"),
                    "first": first,
                    "error": None,
                }
            except Exception as err:  # a failed mention is a wrong answer, recorded
                row = {
                    "id": sample.id,
                    "gold": sample.gold_qid,
                    "qid": None,
                    "first": None,
                    "error": f"{type(err).__name__}: {err}",
                }
            row["seconds"] = time.perf_counter() - start
            sink.write(json.dumps(row) + "\n")
            sink.flush()


def summary(out: Path) -> dict[str, Any]:
    """Top-1 of the graph and of the first stage's first candidate."""
    rows = [json.loads(line) for line in out.read_text().splitlines() if line]
    return {
        "mentions": len(rows),
        "top1": sum(r["qid"] == r["gold"] for r in rows) / len(rows),
        "first_stage_top1": sum(r["first"] == r["gold"] for r in rows) / len(rows),
        "errors": sum(bool(r["error"]) for r in rows),
        "seconds_per_mention": sum(r["seconds"] for r in rows) / len(rows),
    }


def main() -> None:
    """Run the arms in turn and print one JSON line per arm."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="../shared/data", type=Path)
    parser.add_argument("--store", required=True, type=Path)
    parser.add_argument("--work", default="/tmp/i2cr-kg-end-to-end", type=Path)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--arms", default="dataset,shuffled,fuzzy,hybrid")
    args = parser.parse_args()
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = sorted(set(arms) - set(ARMS))
    if unknown:
        parser.error(f"unknown arms {unknown}; known: {list(ARMS)}")
    args.work.mkdir(parents=True, exist_ok=True)
    samples = load_dataset(args.data / "wikimel/wikimel_dev.json")
    chosen = [replace(s, image=None) for s in choose_subset(samples, args.size, 0)]
    for arm in arms:
        out = args.work / f"{arm}.jsonl"
        run_arm(chosen, arm, args.store, out)
        print(json.dumps({"arm": arm, **summary(out)}), flush=True)


if __name__ == "__main__":
    main()
