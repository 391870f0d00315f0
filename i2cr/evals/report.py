"""Build the evaluation report (Markdown, JSON, PNG plots) from the results files alone."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from i2cr.evals.plots import (
    PLOTS,
    ROUND_STYLES,
    plot_bars,
    plot_path,
    plot_reliability,
    plot_rounds,
)
from i2cr.evals.records import RUNS, candidate_orders, collect, command_block, configs_in
from i2cr.evals.sweep import sweep_section
from i2cr.evals.tables import (
    accuracy_table,
    calibration_table,
    cost_table,
    nil_table,
    outcome_table,
    paired_table,
    round_table,
)

REPORT = "RESULTS.md"
SUMMARY = "results.json"
NOTES = "NOTES.md"  # hand-written notes on the runs, copied into the report

RERUN = [
    "",
    "Rerun everything (results resume; a changed setting needs a fresh --output folder; the "
    "selector cache in `runs/selector_cache.sqlite` is keyed by selector, adapter and prompt):",
    "",
    "```",
    "python evals/first_stage/collect.py ../shared/data/wikimel/wikimel_val.json "
    "evals/first_stage/signals/wikimel_val.jsonl   # and dev, WikiDiverse: the score cache",
    "i2cr eval suite --dataset ../shared/data/wikimel/wikimel_val.json --suite first_stage "
    "--output evals",
    "i2cr eval suite --dataset ../shared/data/wikimel/wikimel_dev.json --suite paper "
    "--output evals",
    "i2cr eval suite --dataset ../shared/data/wikidiverse/wikidiverse_dev_fulldesc.json "
    "--suite paper --output evals   # NIL in the data: allow_nil=true is set automatically",
    "i2cr eval sweep --dataset ../shared/data/wikimel/wikimel_dev.json --output evals",
    "i2cr eval --report --output evals   # rebuild this file from runs/ without running anything",
    "```",
    "",
    "Add `--set selector_adapter=DIR` (or any `--set FIELD=VALUE`) for another selector, "
    "`--subset N` for a seeded random subset, `--workers N` for concurrent mentions.",
]

SHOWN_SETTINGS = (
    "selector",
    "selector_adapter",
    "embedder",
    "clip_pretrained",
    "alpha",
    "beta",
    "beta_text",
    "iav_without_encoder",
    "fallback",
    "clue_order",
    "allow_nil",
    "ranker",
    "ranker_keep",
    "selector_below",
    "nil_below",
)

TABLE2_GROUPS = ["baseline", "method", "rounds", "zero_shot", "ranked"]

GROUP_TITLES = {
    "baseline": "Baselines, the method, the zero-shot selector, DIM first (paper Table 2)",
    "switches": "Ablation of ICR / IAV / VIF (paper Table 3)",
    "vif_tools": "VIF with subsets of the image-to-text tools (paper Table 4)",
    "clue_order": "Order of the clue tools (paper Figure 5)",
    "sweep": "Threshold and fallback sweep (dev split)",
    "rules": "Repeated and unnamed answers; the output ranking rule",
}


def _section(
    lines: list[str], out: Path, dataset: str, runs: dict[str, Any], group: str, groups: list[str]
) -> None:
    names = configs_in(runs, groups)
    if not names:
        return
    # Reference rows: TES alone beside the baselines; the full method above each ablation.
    reference = "tes_only" if group == "baseline" else "full"
    if any(reference in o for o in runs.values()):
        names = [*names, reference] if group == "baseline" else [reference, *names]
    lines += ["", f"### {GROUP_TITLES[group]}", ""]
    plot = plot_bars(
        runs, names, f"{dataset}: {GROUP_TITLES[group]}", plot_path(out, dataset, group)
    )
    lines += [f"![{group}]({plot.relative_to(out).as_posix()})", ""]
    lines += accuracy_table(runs, names)
    lines += command_block(runs, names)


def dataset_section(out: Path, dataset: str, runs: dict[str, Any]) -> list[str]:
    """The report part of one dataset: every table and plot its results allow."""
    full = next((o["full"] for o in runs.values() if "full" in o), None)
    lines = [f"## {dataset}", ""]
    if full and full["meta"].get("settings"):
        s = full["meta"]["settings"]
        keys = SHOWN_SETTINGS
        lines.append("Settings of `full`: " + ", ".join(f"`{k}={s.get(k)!r}`" for k in keys))
    shown = ", ".join(candidate_orders(runs))
    lines.append(
        f"Candidate orders: {shown} (shuffled-S: each mention's candidates "
        "permuted by a generator seeded with S and the mention id). A dataset name ending in "
        "`-subsetN-seedS` is a seeded random subset of N mentions."
    )
    _section(lines, out, dataset, runs, "baseline", TABLE2_GROUPS)
    _section(lines, out, dataset, runs, "switches", ["switches"])
    _section(lines, out, dataset, runs, "vif_tools", ["vif_tools"])
    _section(lines, out, dataset, runs, "clue_order", ["clue_order"])
    _section(lines, out, dataset, runs, "rules", ["rules"])
    answered = [
        n for n in ["full", *configs_in(runs, ["rules"])] if any(n in o for o in runs.values())
    ]
    if answered:
        lines += ["", "### What the selector's answers named (share of tries, %)", ""]
        lines += outcome_table(runs, answered)
    round_names = [n for n in ROUND_STYLES if any(n in o for o in runs.values())]
    plot = plot_rounds(runs, f"{dataset}: accuracy per round", plot_path(out, dataset, "rounds"))
    if plot:
        lines += ["", "### Accuracy per round and all clues in one round (paper Figure 4)", ""]
        lines += [f"![rounds]({plot.relative_to(out).as_posix()})", ""]
        lines += round_table(runs, round_names)
        lines += command_block(runs, round_names)
    graph_names = configs_in(runs, [*TABLE2_GROUPS[1:], "switches", "vif_tools", "clue_order"])
    if any(runs[o][n]["summary"].get("nil") for o in runs for n in runs[o]):
        lines += ["", "### NIL answers", ""]
        lines += nil_table(runs, configs_in(runs, [*TABLE2_GROUPS, "switches"]))
    confident = configs_in(runs, [*TABLE2_GROUPS, "switches"])
    if calibration_table(runs, confident)[2:]:
        lines += ["", "### Confidence: calibration and the selector's gate", ""]
        plot = plot_reliability(
            runs,
            "full",
            f"{dataset}: reliability of `full`",
            plot_path(out, dataset, "reliability"),
        )
        if plot:
            lines += [f"![reliability]({plot.relative_to(out).as_posix()})", ""]
        lines += calibration_table(runs, confident)
    if graph_names and paired_table(runs, graph_names)[2:]:
        lines += ["", "### Graph against its own first stage (top-1 hits, same mentions)", ""]
        lines += paired_table(runs, graph_names)
    if graph_names:
        lines += ["", "### Cost per mention (paper Table 6)", ""]
        lines += cost_table(runs, graph_names)
        lines += [
            "",
            "Seconds are wall time on this machine, from the timed mentions only: those whose "
            "selector calls all ran (none answered from the selector cache). Records made "
            "before calls were marked cached are not timed.",
        ]
    return lines


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def build_report(out: Path) -> list[Path]:
    """Write RESULTS.md, results.json and plots/*.png under `out` from `out/runs`.

    `out/NOTES.md`, when present, is copied in after the introduction.
    """
    out = Path(out)
    found = collect(out)
    if not found:
        raise FileNotFoundError(f"no results under {out / RUNS}: run `i2cr eval suite` first")
    summary = {
        dataset: {
            order: {
                name: {
                    "summary": entry["summary"],
                    "settings": entry["meta"].get("settings"),
                    "sessions": entry["meta"].get("sessions"),
                }
                for name, entry in configs.items()
            }
            for order, configs in runs.items()
        }
        for dataset, runs in found.items()
    }
    json_path = out / SUMMARY
    json_path.write_text(json.dumps(_plain(summary), indent=1), encoding="utf-8")
    lines = [
        "# Evaluation results",
        "",
        "Built by `i2cr eval --report` from the results under `runs/` (measured on this "
        "project's machines; every figure comes with the command that made it). Top-K as in "
        "the paper: the gold entity among the first K of the output ranking, matched by name; "
        "a NIL answer is rank 1. 95% CIs: Wilson for accuracies, bootstrap for mean seconds.",
    ]
    notes = out / NOTES
    if notes.exists():
        lines += ["", notes.read_text(encoding="utf-8").strip()]
    lines += RERUN
    for dataset, runs in found.items():
        lines += ["", *dataset_section(out, dataset, runs)]
    for dataset, runs in found.items():
        lines += sweep_section(dataset, runs)
    md_path = out / REPORT
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [md_path, json_path, *sorted((out / PLOTS).glob("*.png"))]
