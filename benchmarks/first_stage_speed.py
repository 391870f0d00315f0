"""Seconds per mention of the default linker: the combined first stage alone, and the graph.

    OMP_NUM_THREADS=1 python benchmarks/first_stage_speed.py --size 100 \
        > benchmarks/results/first_stage_speed.json

A seeded subset of WikiMEL val, one thread, no caches on disk: the models load once (timed
apart), then each mention is timed. The first stage alone runs on one half of the subset and
the graph on the other (a mention scored once is remembered in the process). The graph runs
with its defaults, so it asks the selector only where the first stage is unsure; its first
call also loads the selector.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from i2cr.context import Context
from i2cr.datasets import load_dataset
from i2cr.evals.runner import choose_subset
from i2cr.rankers import load_first_stage

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "wikimel" / "wikimel_val.json"


def quantiles(values: list[float]) -> dict[str, float]:
    """Median and 90th percentile, in seconds."""
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 3),
        "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 3),
        "mean": round(statistics.fmean(ordered), 3),
    }


def main() -> None:
    """Time the first stage, then the graph, on the same mentions."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dataset", default=str(DATA))
    args = parser.parse_args()
    torch.set_num_threads(1)
    samples = choose_subset(load_dataset(args.dataset), args.size, args.seed)
    settings = Context()
    ranker = load_first_stage(settings)
    assert ranker is not None
    started = time.perf_counter()
    ranker.rank(samples[0])
    load = time.perf_counter() - started
    halves = samples[1::2], samples[2::2]
    stage = []
    for sample in halves[0]:
        started = time.perf_counter()
        ranker.rank(sample)
        stage.append(time.perf_counter() - started)
    from i2cr.graph import graph

    linked, asked = [], 0
    for sample in halves[1]:
        started = time.perf_counter()
        out = graph.invoke(sample.graph_input(), context=settings)
        linked.append(time.perf_counter() - started)
        asked += out["result"]["selector_calls"] > 0
    print(
        json.dumps(
            {
                "command": "OMP_NUM_THREADS=1 python benchmarks/first_stage_speed.py "
                f"--size {args.size} --seed {args.seed}",
                "machine": {
                    "processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(),
                    "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
                },
                "mentions": {"first_stage": len(halves[0]), "graph": len(halves[1])},
                "first_stage_load_and_first_mention_s": round(load, 2),
                "first_stage_s": quantiles(stage),
                "graph_s": quantiles(linked),
                "graph_asked_selector": asked,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
