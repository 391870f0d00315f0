"""Run configurations over a dataset into resumable results files, one per configuration.

Layout under the output folder: `runs/<dataset>/<order>/<config>.jsonl` (one record per
mention, written by `i2cr.batch.run_batch`; `i2cr eval --compress` packs it as `.jsonl.gz`,
which the next run on it unpacks) and a `<config>.meta.json` beside it holding the full
settings, the command, and the selector-cache counts of each session. `<order>` is `released`
or `shuffled-<seed>`: each sample's candidates permuted by a seeded generator.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from functools import partial
from pathlib import Path
from typing import Any, Literal

from i2cr.batch import BatchSummary, Engine, Linker, run_batch, sample_rows, thread_engine
from i2cr.context import Context
from i2cr.datasets import Sample, load_release
from i2cr.evals.baselines import (
    FirstCandidate,
    FirstStageRanking,
)
from i2cr.evals.cache import attach_cache, detach_cache
from i2cr.evals.configs import EvalConfig
from i2cr.evals.records import PLAIN, RELEASED, RUNS, meta_path, unpack_for_run
from i2cr.models.precision import resolve_precision
from i2cr.rankers.signal_cache import attach_signal_cache, detach_signal_cache
from i2cr.subsets import seeded_subset

CACHE_FILE = "selector_cache.sqlite"
SIGNAL_CACHE_FILE = "signal_cache.sqlite"
# The benchmarks carry Azure AI Vision clues (the paper's provider): the evals read those and no
# other tool's, unless `--set clue_providers=...` says otherwise.
BENCHMARK_SETTINGS = {"clue_providers": "carried"}


def order_name(seed: int | None) -> str:
    """The folder name of a candidate order: released, or shuffled with a seed."""
    return RELEASED if seed is None else f"shuffled-{seed}"


def shuffle_candidates(samples: Sequence[Sample], seed: int) -> list[Sample]:
    """Copies of the samples, each one's candidates permuted by a generator seeded per sample.

    The permutation depends only on the seed and the sample id, so it is the same in every
    run, configuration and subset.
    """
    shuffled = []
    for sample in samples:
        candidates = list(sample.candidates)
        random.Random(f"{seed}:{sample.id}").shuffle(candidates)
        shuffled.append(replace(sample, candidates=candidates))
    return shuffled


def choose_subset(samples: Sequence[Sample], size: int | None, seed: int) -> list[Sample]:
    """A seeded random subset of `size` samples in dataset order (all when size is None)."""
    return seeded_subset(samples, size, seed)


def dataset_label(dataset: str | Path, size: int | None, total: int, seed: int) -> str:
    """The folder name of a dataset run: the file's stem, plus the subset when not all."""
    stem = Path(dataset).name.removesuffix(".json")
    return stem if size is None or size >= total else f"{stem}-subset{size}-seed{seed}"


def make_linker(config: EvalConfig) -> Linker:
    """The graph, or the baseline the configuration names."""
    if config.linker == "first_candidate":
        return FirstCandidate()
    if config.linker == "graph":
        from i2cr.graph import graph

        return graph
    return FirstStageRanking(config.linker)


# The settings each baseline reads; a graph run reads all but its `_unread` ones.
BASELINE_READS: dict[str, tuple[str, ...]] = {
    "first_candidate": (),
    "embedder": ("embedder", "precision"),
    "dim": ("ranker_weights", "precision"),
    "cross_encoder": ("ranker_weights", "ranker_dim_weight", "ranker_nil", "allow_nil"),
    "combined": ("ranker_weights", "precision"),
}


def _unread(settings: dict[str, Any]) -> set[str]:
    """Graph settings that cannot change this run's answers."""
    unread = {"top_k"}  # it only shortens the output list
    if settings["ranker"] == "none":
        unread.add("ranker_keep")
    if settings["ranker"] not in ("dim", "cross_encoder"):
        unread.add("ranker_weights")
    if not settings["use_icr"]:
        unread |= {"alpha", "max_reselect"}
    if not settings["use_iav"]:
        unread |= {"beta", "beta_text"}
    return unread


def _resolved_adapter(settings: dict[str, Any]) -> str:
    """The adapter a run's settings select, with 'auto' and 'none' resolved."""
    selector, adapter = settings["selector"], settings["selector_adapter"]
    return Context(selector=selector, selector_adapter=adapter).adapter


def _comparable(settings: dict[str, Any], linker: str) -> dict[str, Any]:
    if linker in BASELINE_READS:
        return {k: settings.get(k) for k in BASELINE_READS[linker]}
    unread = _unread(settings)
    return {k: v for k, v in settings.items() if k not in unread}


def _check_meta(meta_file: Path, settings: dict[str, Any], linker: str) -> dict[str, Any]:
    """The existing meta data, after checking the results were made with the same settings."""
    if not meta_file.exists():
        return {"sessions": []}
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    # A field added to Context after the run counts as having had its default then.
    defaults = {f.name: f.default for f in fields(Context)}
    earlier = defaults | meta["settings"]
    earlier["selector_adapter"] = _resolved_adapter(earlier)
    earlier["precision"] = resolve_precision(earlier["precision"])
    before = _comparable(earlier, linker)
    changed = {
        k: (before.get(k), v)
        for k, v in _comparable(settings, linker).items()
        if before.get(k) != v
    }
    if changed:
        details = ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changed.items())
        raise ValueError(
            f"{meta_file.with_suffix('').with_suffix(PLAIN)} was made with other settings "
            f"({details}); use another --output folder or delete those results"
        )
    return dict(meta)


@dataclass
class RunRequest:
    """What to run: a dataset, configurations, candidate orders and shared settings."""

    dataset: Path
    configs: list[EvalConfig]
    out: Path = Path("evals")
    seeds: list[int | None] = field(default_factory=lambda: [None, 0])
    settings: dict[str, object] = field(default_factory=dict)
    subset: int | None = None
    subset_seed: int = 0
    image_dir: Path | None = None
    workers: int = 1
    cache: bool = True
    progress: bool = True
    engine: Literal["threads", "ray"] = "threads"
    ray_address: str | None = None
    command: str = field(default_factory=lambda: " ".join(["i2cr", *sys.argv[1:]]))


def run_config(
    samples: Sequence[Sample], config: EvalConfig, results: Path, request: RunRequest
) -> BatchSummary:
    """Link the samples with one configuration into `results` (resuming), and note the session."""
    settings = Context(
        **{**BENCHMARK_SETTINGS, **request.settings, **config.settings}  # type: ignore[arg-type]
    )
    meta_file = meta_path(results)
    recorded = {
        **asdict(settings),
        "selector_adapter": settings.adapter,
        "precision": resolve_precision(settings.precision),
    }
    meta = _check_meta(meta_file, recorded, config.linker)
    unpack_for_run(results)  # a packed earlier run resumes as plain JSONL
    meta.update(config=config.name, group=config.group, label=config.title, settings=recorded)
    started = time.time()
    session: dict[str, Any] = {
        "command": request.command,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "finished": False,
        "machine": {"cpus": os.cpu_count(), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")},
    }
    meta["sessions"].append(session)
    # Written before the run too, so a killed run still names its settings and command.
    meta_file.parent.mkdir(parents=True, exist_ok=True)
    meta_file.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    cache = None
    use_cache = request.cache and config.linker == "graph"
    engine: Engine = thread_engine
    if request.engine == "ray":
        from i2cr.batch_ray import RayEngine

        # Each worker reads and fills the cache file itself (its hits are not counted here).
        cache_path = (request.out / RUNS / CACHE_FILE).resolve()
        setup = partial(attach_cache, path=cache_path) if use_cache else None
        engine = RayEngine(request.ray_address, setup=setup)
    elif use_cache:
        cache = attach_cache(settings, request.out / RUNS / CACHE_FILE)
    # First-stage scores are kept across runs (threads only): a pair is scored once.
    signals = None
    if request.cache and request.engine == "threads":
        signals = attach_signal_cache(request.out / RUNS / SIGNAL_CACHE_FILE)
    try:
        summary = run_batch(
            make_linker(config),
            sample_rows(samples),
            results,
            settings,
            total=len(samples),
            progress=request.progress,
            workers=request.workers,
            # Results live at <out>/runs/<dataset label>/<candidate order>/<config>.jsonl.
            metadata={
                "dataset": results.parent.parent.name,
                "order": results.parent.name,
                "config": config.name,
            },
            engine=engine,
        )
        session.update(
            finished=True, linked=summary.linked, failed=summary.failed, skipped=summary.skipped
        )
    finally:
        session["seconds"] = round(time.time() - started, 1)
        if cache is not None:
            session.update(cache_lookups=cache.lookups, cache_hits=cache.hits)
            detach_cache(settings, cache)
        if signals is not None:
            session.update(signal_lookups=signals.lookups, signal_hits=signals.hits)
            detach_signal_cache()
        meta_file.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return summary


def dataset_settings(samples: Sequence[Sample], settings: dict[str, object]) -> dict[str, object]:
    """Settings for a dataset: NIL answers are allowed when it has NIL mentions, unless set."""
    if "allow_nil" not in settings and any(s.is_nil for s in samples):
        return {**settings, "allow_nil": True}
    return settings


def run_request(request: RunRequest) -> list[Path]:
    """Run every configuration in every candidate order; returns the results files."""
    samples = load_release(request.dataset, request.image_dir)
    chosen = choose_subset(samples, request.subset, request.subset_seed)
    request.settings = dataset_settings(chosen, request.settings)
    label = dataset_label(request.dataset, request.subset, len(samples), request.subset_seed)
    written = []
    for seed in request.seeds:
        ordered = chosen if seed is None else shuffle_candidates(chosen, seed)
        for config in request.configs:
            results = request.out / RUNS / label / order_name(seed) / f"{config.name}{PLAIN}"
            print(f"{label} {order_name(seed)} {config.name}: {len(ordered)} mentions -> {results}")
            summary = run_config(ordered, config, results, request)
            print(
                f"  linked {summary.linked}, failed {summary.failed}, "
                f"already done {summary.skipped}"
            )
            written.append(results)
    return written
