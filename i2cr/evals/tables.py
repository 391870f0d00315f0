"""The report's Markdown tables: accuracy, cost, answer outcomes, NIL and per-round rows."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from i2cr.evals.metrics import KS, OUTCOMES, hit_at, is_labelled
from i2cr.evals.records import candidate_orders, entries, label


def pct(p: dict[str, Any] | None, ci: bool = False) -> str:
    """A proportion as a percentage cell (with its 95% CI when `ci`); a dash when empty."""
    if not p or p["total"] == 0 or math.isnan(p["rate"]):
        return "–"
    text = f"{100 * p['rate']:.1f}"
    return f"{text} [{100 * p['low']:.1f}, {100 * p['high']:.1f}]" if ci else text


def markdown_table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    """Lines of a Markdown table."""
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(cells) + " |" for cells in rows),
    ]


def accuracy_table(runs: dict[str, Any], names: list[str]) -> list[str]:
    """Markdown rows: top-1 (with 95% CI), top-3 and top-5 in every candidate order."""
    orders = candidate_orders(runs)
    header = ["configuration", "n"]
    for order in orders:
        header += [f"top-1 {order} [95% CI]", f"top-3 {order}", f"top-5 {order}"]
    rows = []
    for name in names:
        counts = {runs[o][name]["summary"]["labelled"] for o in orders if name in runs[o]}
        cells = [label(runs, name), "/".join(str(c) for c in sorted(counts))]
        for order in orders:
            accuracy = runs[order].get(name, {}).get("summary", {}).get("accuracy", {})
            cells += [pct(accuracy.get(f"top{k}"), ci=k == 1) for k in KS]
        rows.append(cells)
    return markdown_table(header, rows)


def _seconds(cost: dict[str, Any]) -> list[str]:
    """Cells: timed mentions, mean seconds (CI), median; none when every mention hit a cache."""
    timed = int(cost.get("timed", 0))
    if not timed:
        return ["0 (cached)", "–", "–"]
    return [
        str(timed),
        f"{cost['seconds_mean']:.2f} [{cost['seconds_mean_low']:.2f}, "
        f"{cost['seconds_mean_high']:.2f}]",
        f"{cost['seconds_median']:.2f}",
    ]


def cost_table(runs: dict[str, Any], names: list[str]) -> list[str]:
    """Markdown rows: selector calls and seconds per mention, cache hits, errors."""
    header = [
        "configuration",
        "order",
        "calls mean",
        "calls median",
        "timed mentions",
        "s/mention mean [95% CI]",
        "s/mention median",
        "selector cache hits",
        "errors",
    ]
    rows = []
    for name, order, entry in entries(runs, names):
        c = entry["summary"]["cost"]
        sessions = entry["meta"].get("sessions", [])
        lookups = sum(s.get("cache_lookups", 0) for s in sessions)
        hits = sum(s.get("cache_hits", 0) for s in sessions)
        rows.append(
            [
                label(runs, name),
                order,
                f"{c['calls_mean']:.2f}",
                f"{c['calls_median']:.1f}",
                *_seconds(c),
                f"{hits}/{lookups}" if lookups else "–",
                str(entry["summary"]["errors"]),
            ]
        )
    return markdown_table(header, rows)


def outcome_table(runs: dict[str, Any], names: list[str]) -> list[str]:
    """Markdown rows: share of selector tries by what the answer named, per configuration."""
    header = ["configuration", "order", "tries", "re-selections", *OUTCOMES, "resolved by rule"]
    rows = []
    for name, order, entry in entries(runs, names):
        answers = entry["summary"]["answers"]
        rules = ", ".join(f"{k} {v}" for k, v in answers["resolved_by"].items()) or "–"
        shares = [pct(answers["outcomes"][o]) for o in OUTCOMES]
        rows.append(
            [label(runs, name), order, str(answers["tries"]), str(answers["reselections"])]
            + shares
            + [rules]
        )
    return markdown_table(header, rows)


def nil_table(runs: dict[str, Any], names: list[str]) -> list[str]:
    """Markdown rows: NIL precision and recall (with 95% CIs) per configuration and order."""
    header = ["configuration", "order", "NIL precision [95% CI]", "NIL recall [95% CI]"]
    rows = []
    for name, order, entry in entries(runs, names):
        nil = entry["summary"].get("nil")
        if nil:
            rows.append(
                [
                    label(runs, name),
                    order,
                    *(
                        f"{pct(nil[part], True)} ({nil[part]['hits']}/{nil[part]['total']})"
                        for part in ("precision", "recall")
                    ),
                ]
            )
    return markdown_table(header, rows)


# The ranker-alone run each graph run's first stage (`ranker` setting) is paired with.
RANKER_ALONE = {
    "embedder": "embedder",
    "dim": "dim",
    "cross_encoder": "cross_encoder",
    "combined": "combined",
}


def paired_table(runs: dict[str, Any], names: list[str]) -> list[str]:
    """Markdown rows: each graph run against its ranker alone, top-1 hits on the same mentions."""
    header = ["configuration", "order", "ranker alone", "both", "graph only", "ranker only"]
    rows = []
    for name, order, entry in entries(runs, names):
        settings = entry["meta"].get("settings") or {}
        alone_name = RANKER_ALONE.get(str(settings.get("ranker")), "")
        if alone_name == "cross_encoder" and settings.get("ranker_dim_weight"):
            alone_name = "cross_encoder_dim"
        alone = runs[order].get(alone_name)
        if alone is None:
            continue
        graph_hits = {r["id"]: hit_at(r, 1) for r in entry["records"] if is_labelled(r)}
        ranker_hits = {r["id"]: hit_at(r, 1) for r in alone["records"] if is_labelled(r)}
        shared = graph_hits.keys() & ranker_hits.keys()
        counts = [
            sum(graph_hits[i] and ranker_hits[i] for i in shared),
            sum(graph_hits[i] and not ranker_hits[i] for i in shared),
            sum(ranker_hits[i] and not graph_hits[i] for i in shared),
        ]
        rows.append([label(runs, name), order, label(runs, alone_name), *map(str, counts)])
    return markdown_table(header, rows)


def round_table(runs: dict[str, Any], names: list[str]) -> list[str]:
    """Markdown rows: top-1 if runs stopped after each round, and how many reached it."""
    header = ["configuration", "order", "round", "clue tools (runs)", "top-1 [95% CI]"]
    header.append("runs reaching it")
    rows = []
    for name, order, entry in entries(runs, names):
        for row in entry["summary"]["per_round"]:
            clue = ", ".join(f"{t} {n}" for t, n in row.get("clue_tools", {}).items())
            reached = [pct(row["accuracy"], True), str(row["reached"])]
            rows.append([label(runs, name), order, str(row["round"]), clue, *reached])
    return markdown_table(header, rows)


def calibration_table(runs: dict[str, Any], names: list[str]) -> list[str]:
    """Markdown rows: answers with a confidence, their ECE, and the share asking the selector."""
    header = ["configuration", "order", "answers with a confidence", "ECE (10 bins)"]
    header.append("mentions that asked the selector")
    rows = []
    for name, order, entry in entries(runs, names):
        summary = entry["summary"]
        calibrated = summary.get("calibration")
        if not calibrated:
            continue
        asked = summary.get("selector_asked", 0)
        rows.append(
            [
                label(runs, name),
                order,
                str(calibrated["answers"]),
                f"{calibrated['ece']:.3f}",
                f"{asked} ({100 * asked / max(1, summary['mentions']):.1f}%)",
            ]
        )
    return markdown_table(header, rows)
