"""Ranker-alone figures (DIM, embedder alone, first candidate) and graph-run summaries."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import torch

from i2cr.datasets import Sample
from i2cr.errors import InputError
from i2cr.evals.runner import RELEASED, shuffle_candidates
from i2cr.jsonl import json_lines
from i2cr.rankers.dim.features import Features, featurize
from i2cr.rankers.dim.model import DimFusion
from i2cr.rankers.dim.train import TOP_KS, scores_of, top_k_accuracy


@dataclass
class RankingRow:
    """Top-k accuracy of one ranker on one candidate order."""

    ranker: str
    order: str
    samples: int
    top: dict[int, float]


def baseline_scores(features: Features) -> dict[str, torch.Tensor]:
    """Scores of the reference rankers: the embedder alone and 'always candidate #1'."""
    absent = ~features.entity_present
    embedder = torch.einsum("bnd,bd->bn", features.entities, features.context)
    position = -torch.arange(features.entities.shape[1], dtype=torch.float32)
    return {
        "embedder alone": embedder.masked_fill(absent, float("-inf")),
        "candidate #1": position.expand_as(embedder).masked_fill(absent, float("-inf")),
    }


def ranking_table(
    model: DimFusion, samples: list[Sample], shuffle_seed: int, cache: Path | None = None
) -> list[RankingRow]:
    """Top-1/3/5 of DIM and the baselines, in the released order and shuffled with a seed."""
    rows = []
    orders = {
        RELEASED: samples,
        f"shuffled-{shuffle_seed}": shuffle_candidates(samples, shuffle_seed),
    }
    for order, ordered in orders.items():
        features = featurize(
            ordered, model.config.embedder, cache=cache, image_encoder=model.config.image_encoder
        )
        rankers = {"DIM": scores_of(model, features), **baseline_scores(features)}
        for name, scores in rankers.items():
            top = top_k_accuracy(scores, features.gold, TOP_KS)
            rows.append(RankingRow(name, order, len(ordered), top))
    return rows


def format_rows(rows: list[RankingRow]) -> str:
    """A markdown table of ranking rows."""
    header = "| ranker | order | n | " + " | ".join(f"top-{k}" for k in TOP_KS) + " |"
    lines = [header, "|" + " --- |" * (3 + len(TOP_KS))]
    for row in rows:
        figures = " | ".join(f"{100 * row.top[k]:.1f}" for k in TOP_KS)
        lines.append(f"| {row.ranker} | {row.order} | {row.samples} | {figures} |")
    return "\n".join(lines)


def _records(path: Path) -> dict[str, dict]:
    records = {}
    for _, record in json_lines(path):
        if isinstance(record, InputError):
            raise record
        records[record["id"]] = record
    return records


def _correct(record: dict) -> bool:
    result, gold = record.get("result"), record.get("gold") or {}
    if not result:
        return False
    if gold.get("qid") and result.get("qid"):
        return bool(result["qid"] == gold["qid"])
    return bool(result.get("entity") == gold.get("name"))


def summarize_runs(paths: list[Path]) -> str:
    """Accuracy, selector calls and median seconds per mention of graph results, on shared ids."""
    runs = {path: _records(path) for path in paths}
    shared = set.intersection(*(set(r) for r in runs.values())) if runs else set()
    lines = ["| run | n | top-1 | selector calls / mention | median s / mention | errors |"]
    lines.append("| --- | --- | --- | --- | --- | --- |")
    for path, records in runs.items():
        rows = [records[i] for i in sorted(shared)]
        n = len(rows) or 1
        accuracy = sum(_correct(r) for r in rows) / n
        calls = sum((r.get("result") or {}).get("selector_calls", 0) for r in rows) / n
        seconds = statistics.median([r.get("seconds", 0.0) for r in rows] or [0.0])
        errors = sum(1 for r in rows if r.get("error"))
        lines.append(
            f"| {path.stem} | {len(rows)} | {100 * accuracy:.1f} | {calls:.2f} | {seconds:.1f} | "
            f"{errors} |"
        )
    return "\n".join(lines)
