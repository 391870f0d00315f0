"""Metrics on result records: top-K accuracy, NIL precision/recall, cost, per-round accuracy.

Top-K accuracy follows the paper: a mention counts at K when its gold entity is among the first
K entities of the output ranking. Entities match by name (underscores read as spaces, case
ignored), as in I2CR's evaluation. A NIL answer takes rank 1 of the ranking, so a NIL gold is a
hit exactly when the linker answered NIL. A ranking shorter than K (fewer candidates) is used
as it is; a record with an error, or no result, is a miss at every K.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from i2cr.datasets import NIL_LABEL
from i2cr.outcome import NIL_DECISIONS, round_answers

KS = (1, 3, 5)
Z_95 = 1.959963984540054

Record = dict[str, Any]


@dataclass(frozen=True)
class Proportion:
    """A count out of a total, its rate and Wilson 95% interval."""

    hits: int
    total: int
    rate: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float | int]:
        """Plain JSON form."""
        return asdict(self)


def wilson(hits: int, total: int, z: float = Z_95) -> Proportion:
    """`hits` out of `total` with the Wilson score interval (nan rate when total is 0)."""
    if total == 0:
        return Proportion(0, 0, math.nan, math.nan, math.nan)
    rate = hits / total
    denominator = 1 + z * z / total
    centre = (rate + z * z / (2 * total)) / denominator
    half = z * math.sqrt(rate * (1 - rate) / total + z * z / (4 * total * total)) / denominator
    return Proportion(hits, total, rate, max(0.0, centre - half), min(1.0, centre + half))


def bootstrap_mean_ci(
    values: Sequence[float], seed: int = 0, resamples: int = 2000
) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of the mean (seeded, so reports are reproducible)."""
    if not values:
        return math.nan, math.nan
    rng = random.Random(seed)
    count = len(values)
    means = sorted(sum(rng.choices(values, k=count)) / count for _ in range(resamples))
    return means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1]


def same_entity(left: str | None, right: str | None) -> bool:
    """Names of the same entity (None is NIL); underscores read as spaces, case ignored."""
    if left is None or right is None:
        return left is None and right is None
    return left.replace("_", " ").strip().casefold() == right.replace("_", " ").strip().casefold()


def gold_name(record: Record) -> str | None:
    """The gold entity's name, None for a NIL gold; KeyError when the record has no gold."""
    name = (record.get("gold") or {}).get("name")
    if name is None:
        raise KeyError(f"record {record.get('id')!r} has no gold answer")
    return None if name == NIL_LABEL else str(name)


def is_labelled(record: Record) -> bool:
    """The record carries a gold answer."""
    return bool((record.get("gold") or {}).get("name"))


def ranking(record: Record) -> list[str | None]:
    """The output ranking of entity names; None stands for NIL (rank 1 when answered)."""
    result = record.get("result")
    if record.get("error") or not result:
        return []
    names: list[str | None] = [None] if result["nil"] else []
    names += [entity["name"] for entity in result["top_k"]]
    return names


def hit_at(record: Record, k: int) -> bool:
    """The gold entity is among the first k of the record's ranking."""
    gold = gold_name(record)
    return any(same_entity(name, gold) for name in ranking(record)[:k])


def top_k_accuracy(records: Sequence[Record], k: int) -> Proportion:
    """Share of labelled records whose gold entity is in the top k."""
    labelled = [r for r in records if is_labelled(r)]
    return wilson(sum(hit_at(r, k) for r in labelled), len(labelled))


def nil_scores(records: Sequence[Record]) -> dict[str, Proportion]:
    """NIL precision (NIL answers that are right) and recall (NIL golds answered NIL)."""
    labelled = [r for r in records if is_labelled(r) and not r.get("error") and r.get("result")]
    answered = [r for r in labelled if r["result"]["nil"]]
    nil_gold = [r for r in labelled if gold_name(r) is None]
    return {
        "precision": wilson(sum(gold_name(r) is None for r in answered), len(answered)),
        "recall": wilson(sum(r["result"]["nil"] for r in nil_gold), len(nil_gold)),
    }


def timed(record: Record) -> bool:
    """The record's seconds are real: no selector call of it was served from a cache.

    Records written before calls were marked cached do not say, so they do not count.
    """
    result = record["result"]
    return result["selector_calls"] == 0 or result.get("selector_cached") == 0


def cost(records: Sequence[Record]) -> dict[str, float]:
    """Selector calls and seconds per linked mention: mean (bootstrap 95% CI) and median.

    Seconds come from the mentions whose selector calls all ran (`timed`, counted in
    `timed`); with none, the seconds are nan rather than a cache's near-zero time.
    """
    linked = [r for r in records if not r.get("error") and r.get("result")]
    calls = [float(r["result"]["selector_calls"]) for r in linked]
    seconds = [float(r["seconds"]) for r in linked if timed(r)]
    summary: dict[str, float] = {
        "timed": len(seconds),
        "cached_calls": sum(r["result"].get("selector_cached", 0) for r in linked),
    }
    for name, values in (("calls", calls), ("seconds", seconds)):
        low, high = bootstrap_mean_ci(values)
        summary[f"{name}_mean"] = statistics.fmean(values) if values else math.nan
        summary[f"{name}_mean_low"], summary[f"{name}_mean_high"] = low, high
        summary[f"{name}_median"] = statistics.median(values) if values else math.nan
    return summary


OUTCOMES = ("exact", "contained", "fuzzy", "repeated", "unparsable", "scored", "nil")


def answer_outcomes(records: Sequence[Record]) -> dict[str, Any]:
    """Share of selector tries by what the answer named, and by the rule that resolved them.

    A round's kept best-of-failed try repeats an earlier try's record, so each try counts once.
    """
    attempts = [a for r in records if not r.get("error") for a in r.get("attempts") or []]
    outcomes = Counter(a["match"] for a in attempts)
    rules = Counter(a.get("resolved_by") for a in attempts if a.get("resolved_by"))
    total = len(attempts)
    return {
        "tries": total,
        "reselections": sum(a["try_index"] > 0 for a in attempts),
        "outcomes": {o: wilson(outcomes.get(o, 0), total).as_dict() for o in OUTCOMES},
        "resolved_by": dict(rules.most_common()),
    }


def round_answer(record: Record, last_round: int) -> str | None:
    """The entity (None for NIL) the run held after `last_round`: that round's closing try.

    A run that ended earlier keeps its last answer; the final fallback rule is not applied.
    """
    answers = [a for a in round_answers(record.get("attempts") or []) if a["round"] <= last_round]
    if not answers:
        raise ValueError(f"record {record.get('id')!r} has no closed round")
    closing = answers[-1]
    return None if closing["decision"] in NIL_DECISIONS else closing["entity"]


def per_round_accuracy(records: Sequence[Record]) -> list[dict[str, Any]]:
    """Top-1 accuracy if every run had stopped after round r, and how many runs reached r."""
    runs = [r for r in records if is_labelled(r) and not r.get("error") and r.get("attempts")]
    if not runs:
        return []
    last = max(a["round"] for r in runs for a in r["attempts"])
    rows = []
    for round_index in range(last + 1):
        hits = sum(same_entity(round_answer(r, round_index), gold_name(r)) for r in runs)
        tools = Counter(
            a["clue_tool"] or "text only"
            for r in runs
            for a in r["attempts"]
            if a["round"] == round_index and a["try_index"] == 0
        )
        rows.append(
            {
                "round": round_index,
                "accuracy": wilson(hits, len(runs)).as_dict(),
                "reached": sum(tools.values()),
                "clue_tools": dict(tools.most_common()),
            }
        )
    return rows


def calibration(records: Sequence[Record], bins: int = 10) -> dict[str, Any] | None:
    """How well the answers' `confidence` predicts a top-1 hit: ECE and the reliability table.

    None when no answer carries a confidence (a linker without one).
    """
    from i2cr.rankers.fitting import expected_calibration_error

    scored = [
        (float(r["result"]["confidence"]), hit_at(r, 1))
        for r in records
        if is_labelled(r) and r.get("result") and r["result"].get("confidence") is not None
    ]
    if not scored:
        return None
    table = []
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = [(c, h) for c, h in scored if low < c <= high or (b == 0 and c == 0)]
        if inside:
            table.append(
                {
                    "low": low,
                    "high": high,
                    "answers": len(inside),
                    "confidence": statistics.fmean(c for c, _ in inside),
                    "accuracy": statistics.fmean(h for _, h in inside),
                }
            )
    confidences, hits = zip(*scored, strict=True)
    return {
        "answers": len(scored),
        "ece": expected_calibration_error(list(confidences), list(hits), bins),
        "reliability": table,
    }


def summarize(records: Sequence[Record]) -> dict[str, Any]:
    """Every metric of one results file, as plain JSON."""
    labelled = [r for r in records if is_labelled(r)]
    summary: dict[str, Any] = {
        "mentions": len(records),
        "labelled": len(labelled),
        "errors": sum(1 for r in records if r.get("error")),
        "nil_gold": sum(1 for r in labelled if gold_name(r) is None),
        "accuracy": {f"top{k}": top_k_accuracy(records, k).as_dict() for k in KS},
        "cost": cost(records),
        "answers": answer_outcomes(records),
        "per_round": per_round_accuracy(records),
        "selector_asked": sum(
            1 for r in records if r.get("result") and r["result"]["selector_calls"] > 0
        ),
    }
    calibrated = calibration(records)
    if calibrated is not None:
        summary["calibration"] = calibrated
    if summary["nil_gold"] or any((r.get("result") or {}).get("nil") for r in records):
        summary["nil"] = {name: p.as_dict() for name, p in nil_scores(records).items()}
    return summary
