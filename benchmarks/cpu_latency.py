"""CPU latency of the default graph: precision x selector mode x threads, on the same mentions.

    nice -n 10 python benchmarks/cpu_latency.py [--size 100] [--precisions float32,bfloat16]
        [--modes generate,score] [--threads 1,2] [--out benchmarks/results/cpu_latency]

Each configuration runs in its own subprocess (OMP_NUM_THREADS and torch.set_num_threads set
to its thread count), so its peak RSS is its own and no model or cache is shared. The graph
runs without the eval selector cache: every selector call is timed for real. A warm-up
mention outside the subset loads the models first; its seconds are reported as start-up.

Per configuration: seconds per mention (median, mean, p90), seconds per selector call for a
mention's first call and for its later ones (re-selections after ICR, VIF clue rounds),
selector calls per mention, peak RSS, top-1, and how often its answers agree with the first
configuration's on the same mentions. Writes `<out>.json` and a Markdown table `<out>.md`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from i2cr.batch import sample_rows
from i2cr.datasets import Sample
from i2cr.errors import InputError

DATASET = "../shared/data/wikimel/wikimel_dev.json"
MODES = ("generate", "score")


@dataclasses.dataclass(frozen=True)
class Config:
    """One measured configuration."""

    precision: str
    mode: str
    threads: int

    @property
    def label(self) -> str:
        """A short name, e.g. 'bfloat16 generate 1t'."""
        return f"{self.precision} {self.mode} {self.threads}t"


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of `values` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summary(values: list[float]) -> dict[str, float | None]:
    """Median, mean and p90 of `values`, rounded; None when there are none."""
    if not values:
        return {"median": None, "mean": None, "p90": None}
    return {
        "median": round(statistics.median(values), 4),
        "mean": round(statistics.fmean(values), 4),
        "p90": round(percentile(values, 0.9), 4),
    }


def selector_calls(attempts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per selector call: the attempts list may repeat a try (ICR's kept best)."""
    calls: dict[tuple[int, int], dict[str, Any]] = {}
    for attempt in attempts:
        calls.setdefault((attempt["round"], attempt["try_index"]), attempt)
    return [calls[key] for key in sorted(calls)]


def graph_rows(samples: list[Sample]) -> list[tuple[str, dict[str, Any]]]:
    """(id, graph input with its gold answer) of each sample; a bad sample stops the run."""
    rows = []
    for sample_id, row in sample_rows(samples):
        if isinstance(row, InputError):
            raise SystemExit(f"{sample_id}: {row}")
        rows.append((sample_id, row))
    return rows


def worker(
    config: Config, dataset: str, image_dir: str | None, size: int, seed: int
) -> dict[str, Any]:
    """Link the subset under `config` in this process and measure it."""
    import torch

    torch.set_num_threads(config.threads)
    from i2cr.batch import link_one
    from i2cr.context import Context
    from i2cr.datasets import load_release
    from i2cr.evals.metrics import hit_at
    from i2cr.evals.runner import choose_subset
    from i2cr.graph import graph

    samples = load_release(dataset, image_dir)
    subset = choose_subset(samples, size, seed)
    chosen = {s.id for s in subset}
    warm_up = next(s for s in samples if s.id not in chosen)
    context = Context(precision=config.precision, selector_mode=config.mode)  # type: ignore[arg-type]

    started = time.perf_counter()
    for _, row in graph_rows([warm_up]):
        link_one(graph, row, context)
    start_up = time.perf_counter() - started

    mentions: list[float] = []
    first_calls: list[float] = []
    later_calls: list[float] = []
    calls_per_mention: list[int] = []
    answers: dict[str, str | None] = {}
    hits = 0
    for sample_id, row in graph_rows(subset):
        record = link_one(graph, row, context)
        calls = selector_calls(record["attempts"])
        if any(call["cached"] for call in calls):
            raise RuntimeError(f"{sample_id}: a selector reply came from a cache")
        mentions.append(record["seconds"])
        calls_per_mention.append(len(calls))
        if calls:
            first_calls.append(calls[0]["seconds"])
            later_calls.extend(call["seconds"] for call in calls[1:])
        answers[sample_id] = record["result"]["entity"]
        hits += hit_at({**record, "gold": row["gold"], "id": sample_id}, 1)
    return {
        "config": dataclasses.asdict(config),
        "mentions": len(mentions),
        "start_up_s": round(start_up, 3),
        "mention_s": summary(mentions),
        "first_call_s": summary(first_calls),
        "later_call_s": summary(later_calls),
        "later_calls": len(later_calls),
        "calls_per_mention": round(statistics.fmean(calls_per_mention), 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "top1": round(hits / len(mentions), 4),
        "answers": answers,
    }


def run_config(config: Config, args: argparse.Namespace) -> dict[str, Any]:
    """Run one configuration in a fresh subprocess with its thread count."""
    threads = str(config.threads)
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        command = [
            sys.executable,
            __file__,
            "--worker",
            json.dumps(dataclasses.asdict(config)),
            "--result",
            str(result),
            "--dataset",
            args.dataset,
            *(["--image-dir", args.image_dir] if args.image_dir else []),
            "--size",
            str(args.size),
            "--seed",
            str(args.seed),
        ]
        subprocess.run(command, env=env, check=True)
        return dict(json.loads(result.read_text(encoding="utf-8")))


def agreement(left: dict[str, str | None], right: dict[str, str | None]) -> float:
    """Share of shared mentions where both configurations answered the same entity."""
    shared = left.keys() & right.keys()
    return round(sum(left[i] == right[i] for i in shared) / len(shared), 4) if shared else 0.0


def markdown(results: list[dict[str, Any]]) -> str:
    """The results as a Markdown table (agreement is with the first row's answers)."""
    lines = [
        "| precision | mode | threads | s / mention (median, p90) | first call s | later call s "
        "(n) | calls / mention | start-up s | peak RSS MiB | top-1 | agreement |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results:
        config = row["config"]
        lines.append(
            f"| {config['precision']} | {config['mode']} | {config['threads']} "
            f"| {row['mention_s']['median']}, {row['mention_s']['p90']} "
            f"| {row['first_call_s']['median']} "
            f"| {row['later_call_s']['median']} ({row['later_calls']}) "
            f"| {row['calls_per_mention']} | {row['start_up_s']} | {row['peak_rss_mib']} "
            f"| {row['top1']:.3f} | {row['agreement']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def configs(args: argparse.Namespace) -> list[Config]:
    """The configurations asked for."""
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(modes) - set(MODES)
    if unknown:
        raise SystemExit(f"unknown selector modes {sorted(unknown)}; known: {list(MODES)}")
    return [
        Config(precision.strip(), mode, int(threads))
        for precision in args.precisions.split(",")
        for mode in modes
        for threads in args.threads.split(",")
    ]


def main() -> None:
    """Run every configuration and write the JSON and Markdown results."""
    from i2cr.models.precision import cpu_supports_bfloat16

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=DATASET)
    parser.add_argument("--image-dir", help="folder of the dataset's images")
    parser.add_argument("--size", type=int, default=100, help="mentions in the seeded subset")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precisions", default="float32,bfloat16")
    parser.add_argument("--modes", default="generate,score", help="selector modes to run")
    parser.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    parser.add_argument("--out", default="benchmarks/results/cpu_latency")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        config = Config(**json.loads(args.worker))
        measured = worker(config, args.dataset, args.image_dir, args.size, args.seed)
        Path(args.result).write_text(json.dumps(measured), encoding="utf-8")
        return

    results = []
    for config in configs(args):
        print(f"running {config.label} on {args.size} mentions", flush=True)
        results.append(run_config(config, args))
    for row in results:
        row["agreement"] = agreement(row["answers"], results[0]["answers"])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "dataset": args.dataset,
        "size": args.size,
        "seed": args.seed,
        "machine": {
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "bfloat16_instructions": cpu_supports_bfloat16(),
        },
        "agreement_with": results[0]["config"] if results else None,
        "results": results,
    }
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    table = markdown(results)
    out.with_suffix(".md").write_text(table, encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
