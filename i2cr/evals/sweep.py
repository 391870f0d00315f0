"""Choose alpha, beta (or beta_text) and the fallback rule on a dev split.

Each (alpha, beta) pair is one graph run; the fallback rule only changes which try answers
when IAV never passed, so both rules are scored from the same records with the finalize
node's own `choose`.
"""

from __future__ import annotations

import itertools
import statistics
from typing import Any

from i2cr.evals.configs import EvalConfig
from i2cr.evals.metrics import gold_name, is_labelled, same_entity, wilson
from i2cr.evals.report import markdown_table
from i2cr.evals.runner import RELEASED, RunRequest, run_request
from i2cr.outcome import choose

FALLBACKS = ("text_only", "best_score")
SWEPT = ("alpha", "beta", "beta_text")


def _values(text: str, name: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--{name.replace('_', '-')} {text!r}: expected numbers") from None


def sweep_configs(alphas: str, beta_texts: str, betas: str) -> list[EvalConfig]:
    """One graph configuration per threshold combination (fallback scored afterwards)."""
    grid = {
        "alpha": _values(alphas, "alpha"),
        "beta_text": _values(beta_texts, "beta_text"),
        "beta": _values(betas, "beta"),
    }
    axes = {name: values for name, values in grid.items() if values}
    configs = []
    for combination in itertools.product(*axes.values()):
        settings: dict[str, object] = dict(zip(axes, combination, strict=True))
        name = "sweep_" + "_".join(f"{k}{v:g}" for k, v in settings.items())
        label = ", ".join(f"{k}={v:g}" for k, v in settings.items())
        configs.append(
            EvalConfig(name, "sweep", {**settings, "fallback": "text_only"}, label=label)
        )
    return configs


def run_sweep(request: RunRequest, alphas: str, beta_texts: str, betas: str) -> None:
    """Run the grid on a dev split (refused for other splits: tune on dev only)."""
    if "dev" not in request.dataset.name:
        raise ValueError(f"{request.dataset}: sweep thresholds on a dev split only")
    request.configs = sweep_configs(alphas, beta_texts, betas)
    run_request(request)


def fallback_top1(records: list[dict[str, Any]], fallback: str) -> dict[str, Any]:
    """Top-1 accuracy of the records had the finalize step used `fallback`."""
    runs = [r for r in records if is_labelled(r)]
    hits = 0
    for record in runs:
        if record.get("error") or not record.get("attempts"):
            continue
        answer, _ = choose(record["attempts"], fallback)
        hits += same_entity(answer["entity"], gold_name(record))
    return wilson(hits, len(runs)).as_dict()


def sweep_rows(runs: dict[str, Any]) -> list[dict[str, Any]]:
    """Per threshold combination and fallback: top-1 in each order and the shuffled mean."""
    rows = []
    names = sorted(
        {n for o in runs.values() for n, e in o.items() if e["meta"]["group"] == "sweep"}
    )
    for name in names:
        for fallback in FALLBACKS:
            row: dict[str, Any] = {"config": name, "fallback": fallback, "orders": {}}
            for order, configs in runs.items():
                if name in configs:
                    entry = configs[name]
                    row["settings"] = {k: entry["meta"]["settings"][k] for k in SWEPT}
                    row["orders"][order] = fallback_top1(entry["records"], fallback)
            shuffled = [p["rate"] for o, p in row["orders"].items() if o != RELEASED]
            row["shuffled_mean"] = statistics.fmean(shuffled) if shuffled else float("nan")
            rows.append(row)
    return rows


def best_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The combination with the best shuffled top-1 (released top-1 breaks ties)."""
    return max(
        rows,
        key=lambda r: (r["shuffled_mean"], r["orders"].get(RELEASED, {}).get("rate", 0.0)),
    )


def sweep_section(dataset: str, runs: dict[str, Any]) -> list[str]:
    """The report's sweep table for one dataset, with the chosen values."""
    rows = sweep_rows(runs)
    if not rows:
        return []
    orders = sorted(runs, key=lambda o: (o != RELEASED, o))
    header = ["alpha", "beta", "beta_text", "fallback", *(f"top-1 {o}" for o in orders)]
    cells = [
        [
            *(f"{row['settings'][k]:g}" for k in SWEPT),
            row["fallback"],
            *(
                f"{100 * row['orders'][o]['rate']:.1f}" if o in row["orders"] else "–"
                for o in orders
            ),
        ]
        for row in rows
    ]
    lines = [
        "",
        f"## Sweep on {dataset} (choosing alpha, beta and the fallback rule)",
        "",
        *markdown_table(header, cells),
    ]
    best = best_row(rows)
    chosen = ", ".join(f"{k}={v:g}" for k, v in best["settings"].items())
    lines += [
        "",
        f"Chosen (best mean top-1 over the shuffled orders): {chosen}, "
        f"fallback={best['fallback']}.",
    ]
    commands = {
        s["command"]: None
        for o in runs.values()
        for n, e in o.items()
        if e["meta"]["group"] == "sweep"
        for s in e["meta"].get("sessions", [])
    }
    lines += ["", "Made by:", "", "```", *commands, "```"]
    return lines
