"""Build the evaluation report (Markdown, JSON, PNG plots) from the results files alone."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from i2cr.evals.configs import BY_NAME
from i2cr.evals.metrics import KS, OUTCOMES, hit_at, is_labelled, summarize
from i2cr.evals.runner import RELEASED, RUNS

REPORT = "RESULTS.md"
SUMMARY = "results.json"
NOTES = "NOTES.md"  # hand-written notes on the runs, copied into the report
PLOTS = "plots"

RERUN = [
    "",
    "Rerun everything (results resume; a changed setting needs a fresh --out folder; the "
    "selector cache in `runs/selector_cache.sqlite` is keyed by selector, adapter and prompt):",
    "",
    "```",
    "i2cr eval suite --dataset ../shared/data/wikimel/wikimel_dev.json --suite paper --out evals",
    "i2cr eval suite --dataset ../shared/data/wikidiverse/wikidiverse_dev_fulldesc.json "
    "--suite paper --out evals   # NIL in the data: allow_nil=true is set automatically",
    "i2cr eval sweep --dataset ../shared/data/wikimel/wikimel_dev.json --out evals",
    "i2cr eval --report --out evals   # rebuild this file from runs/ without running anything",
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
)

# Configurations shown per round (paper Figure 4), with their line styles in the plot.
ROUND_STYLES = {"full": "-o", "full_zeroshot": ":^", "all_in_one": "--s"}

TABLE2_GROUPS = ["baseline", "method", "rounds", "zero_shot", "ranked"]

GROUP_TITLES = {
    "baseline": "Baselines, the method, the zero-shot selector, DIM first (paper Table 2)",
    "switches": "Ablation of ICR / IAV / VIF (paper Table 3)",
    "vif_tools": "VIF with subsets of the image-to-text tools (paper Table 4)",
    "clue_order": "Order of the clue tools (paper Figure 5)",
    "sweep": "Threshold and fallback sweep (dev split)",
    "rules": "Repeated and unnamed answers; the output ranking rule",
}


def read_records(path: Path) -> list[dict[str, Any]]:
    """The complete lines of a results file (a line cut by a kill is ignored)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def collect(out: Path) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    """Summaries by dataset, order and config of every results file under `out/runs`."""
    found: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
    for results in sorted((out / RUNS).glob("*/*/*.jsonl")):
        order_dir = results.parent
        meta_path = results.with_suffix(".meta.json")
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
        meta.setdefault("group", BY_NAME[results.stem].group if results.stem in BY_NAME else "")
        known = BY_NAME.get(results.stem)
        meta.setdefault("label", known.title if known else results.stem)
        records = read_records(results)
        entry = {"summary": summarize(records), "meta": meta, "records": records}
        found.setdefault(order_dir.parent.name, {}).setdefault(order_dir.name, {})[results.stem] = (
            entry
        )
    return found


def _orders(runs: dict[str, Any]) -> list[str]:
    return sorted(runs, key=lambda o: (o != RELEASED, o))


def _configs(runs: dict[str, Any], groups: Iterable[str]) -> list[str]:
    wanted = set(groups)
    names: dict[str, None] = {}
    for order in _orders(runs):
        for name, entry in runs[order].items():
            if entry["meta"]["group"] in wanted:
                names[name] = None
    known = [n for n in BY_NAME if n in names]
    return known + sorted(n for n in names if n not in BY_NAME)


def _entries(runs: dict[str, Any], names: list[str]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(configuration, order, run) for each configuration that ran, in table order."""
    for name in names:
        for order in _orders(runs):
            entry = runs[order].get(name)
            if entry is not None:
                yield name, order, entry


def _pct(p: dict[str, Any] | None, ci: bool = False) -> str:
    if not p or p["total"] == 0 or math.isnan(p["rate"]):
        return "–"
    text = f"{100 * p['rate']:.1f}"
    return f"{text} [{100 * p['low']:.1f}, {100 * p['high']:.1f}]" if ci else text


def _label(runs: dict[str, Any], name: str) -> str:
    for order in runs.values():
        if name in order:
            return str(order[name]["meta"].get("label") or name)
    return name


def _commands(runs: dict[str, Any], names: Iterable[str]) -> list[str]:
    commands: dict[str, None] = {}
    for order in _orders(runs):
        for name in names:
            for session in runs[order].get(name, {}).get("meta", {}).get("sessions", []):
                commands[session["command"]] = None
    return list(commands)


def _command_block(runs: dict[str, Any], names: Iterable[str]) -> list[str]:
    commands = _commands(runs, names)
    if not commands:
        return []
    return ["", "Made by:", "", "```", *commands, "```"]


def markdown_table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    """Lines of a Markdown table."""
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(cells) + " |" for cells in rows),
    ]


def accuracy_table(runs: dict[str, Any], names: list[str]) -> list[str]:
    """Markdown rows: top-1 (with 95% CI), top-3 and top-5 in every candidate order."""
    orders = _orders(runs)
    header = ["configuration", "n"]
    for order in orders:
        header += [f"top-1 {order} [95% CI]", f"top-3 {order}", f"top-5 {order}"]
    rows = []
    for name in names:
        counts = {runs[o][name]["summary"]["labelled"] for o in orders if name in runs[o]}
        cells = [_label(runs, name), "/".join(str(c) for c in sorted(counts))]
        for order in orders:
            accuracy = runs[order].get(name, {}).get("summary", {}).get("accuracy", {})
            cells += [_pct(accuracy.get(f"top{k}"), ci=k == 1) for k in KS]
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
    for name, order, entry in _entries(runs, names):
        c = entry["summary"]["cost"]
        sessions = entry["meta"].get("sessions", [])
        lookups = sum(s.get("cache_lookups", 0) for s in sessions)
        hits = sum(s.get("cache_hits", 0) for s in sessions)
        rows.append(
            [
                _label(runs, name),
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
    for name, order, entry in _entries(runs, names):
        answers = entry["summary"]["answers"]
        rules = ", ".join(f"{k} {v}" for k, v in answers["resolved_by"].items()) or "–"
        shares = [_pct(answers["outcomes"][o]) for o in OUTCOMES]
        rows.append(
            [_label(runs, name), order, str(answers["tries"]), str(answers["reselections"])]
            + shares
            + [rules]
        )
    return markdown_table(header, rows)


def nil_table(runs: dict[str, Any], names: list[str]) -> list[str]:
    """Markdown rows: NIL precision and recall (with 95% CIs) per configuration and order."""
    header = ["configuration", "order", "NIL precision [95% CI]", "NIL recall [95% CI]"]
    rows = []
    for name, order, entry in _entries(runs, names):
        nil = entry["summary"].get("nil")
        if nil:
            rows.append(
                [
                    _label(runs, name),
                    order,
                    *(
                        f"{_pct(nil[part], True)} ({nil[part]['hits']}/{nil[part]['total']})"
                        for part in ("precision", "recall")
                    ),
                ]
            )
    return markdown_table(header, rows)


# The ranker-alone run each graph run's first stage (`ranker` setting) is paired with.
RANKER_ALONE = {"embedder": "embedder", "dim": "dim", "cross_encoder": "cross_encoder"}


def paired_table(runs: dict[str, Any], names: list[str]) -> list[str]:
    """Markdown rows: each graph run against its ranker alone, top-1 hits on the same mentions."""
    header = ["configuration", "order", "ranker alone", "both", "graph only", "ranker only"]
    rows = []
    for name, order, entry in _entries(runs, names):
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
        rows.append(
            [_label(runs, name), order, _label(runs, alone_name)] + [str(c) for c in counts]
        )
    return markdown_table(header, rows)


def round_table(runs: dict[str, Any], names: list[str]) -> list[str]:
    """Markdown rows: top-1 if runs stopped after each round, and how many reached it."""
    header = [
        "configuration",
        "order",
        "round",
        "clue tools (runs)",
        "top-1 [95% CI]",
        "runs reaching it",
    ]
    rows = []
    for name, order, entry in _entries(runs, names):
        for row in entry["summary"]["per_round"]:
            clue = ", ".join(f"{t} {n}" for t, n in row.get("clue_tools", {}).items())
            rows.append(
                [
                    _label(runs, name),
                    order,
                    str(row["round"]),
                    clue,
                    _pct(row["accuracy"], True),
                    str(row["reached"]),
                ]
            )
    return markdown_table(header, rows)


def _plot_bars(runs: dict[str, Any], names: list[str], title: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    orders = _orders(runs)
    width = 0.8 / max(1, len(orders))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * len(names) + 2), 4.2))
    for i, order in enumerate(orders):
        rates: list[float] = []
        positions: list[float] = []
        errors: list[list[float]] = [[], []]
        for j, name in enumerate(names):
            p = runs[order].get(name, {}).get("summary", {}).get("accuracy", {}).get("top1")
            if not p or not p["total"]:
                continue
            positions.append(j + i * width)
            rates.append(100 * p["rate"])
            errors[0].append(max(0.0, 100 * (p["rate"] - p["low"])))
            errors[1].append(max(0.0, 100 * (p["high"] - p["rate"])))
        ax.bar(positions, rates, width, yerr=errors, capsize=2, label=order)
    ax.set_xticks([j + width * (len(orders) - 1) / 2 for j in range(len(names))])
    counts = {
        n: max(runs[o][n]["summary"]["labelled"] for o in orders if n in runs[o]) for n in names
    }
    ax.set_xticklabels(
        [f"{_label(runs, n)} (n={counts[n]})" for n in names], rotation=35, ha="right", fontsize=8
    )
    ax.set_ylabel("top-1 accuracy (%), 95% CI")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, title="candidates", title_fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot_rounds(runs: dict[str, Any], title: str, path: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    drawn = False
    for order in _orders(runs):
        for name, style in ROUND_STYLES.items():
            rows = runs[order].get(name, {}).get("summary", {}).get("per_round", [])
            if not rows:
                continue
            drawn = True
            ax.plot(
                [r["round"] for r in rows],
                [100 * r["accuracy"]["rate"] for r in rows],
                style,
                label=f"{_label(runs, name)} ({order})",
            )
    if not drawn:
        plt.close(fig)
        return None
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, 100)
    ax.set_xlabel("after round (0 = text only, then one clue per round)")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _section(
    lines: list[str], out: Path, dataset: str, runs: dict[str, Any], group: str, groups: list[str]
) -> None:
    names = _configs(runs, groups)
    if not names:
        return
    # Reference rows: TES alone beside the baselines; the full method above each ablation.
    reference = "tes_only" if group == "baseline" else "full"
    if any(reference in o for o in runs.values()):
        names = [*names, reference] if group == "baseline" else [reference, *names]
    lines += ["", f"### {GROUP_TITLES[group]}", ""]
    plot = _plot_bars(
        runs, names, f"{dataset}: {GROUP_TITLES[group]}", _plot_path(out, dataset, group)
    )
    lines += [f"![{group}]({plot.relative_to(out).as_posix()})", ""]
    lines += accuracy_table(runs, names)
    lines += _command_block(runs, names)


def _plot_path(out: Path, dataset: str, name: str) -> Path:
    return out / PLOTS / f"{dataset}_{name}.png"


def dataset_section(out: Path, dataset: str, runs: dict[str, Any]) -> list[str]:
    """The report part of one dataset: every table and plot its results allow."""
    full = next((o["full"] for o in runs.values() if "full" in o), None)
    lines = [f"## {dataset}", ""]
    if full and full["meta"].get("settings"):
        s = full["meta"]["settings"]
        keys = SHOWN_SETTINGS
        lines.append("Settings of `full`: " + ", ".join(f"`{k}={s.get(k)!r}`" for k in keys))
    lines.append(
        f"Candidate orders: {', '.join(_orders(runs))} (shuffled-S: each mention's candidates "
        "permuted by a generator seeded with S and the mention id). A dataset name ending in "
        "`-subsetN-seedS` is a seeded random subset of N mentions."
    )
    _section(lines, out, dataset, runs, "baseline", TABLE2_GROUPS)
    _section(lines, out, dataset, runs, "switches", ["switches"])
    _section(lines, out, dataset, runs, "vif_tools", ["vif_tools"])
    _section(lines, out, dataset, runs, "clue_order", ["clue_order"])
    _section(lines, out, dataset, runs, "rules", ["rules"])
    answered = [
        n for n in ["full", *_configs(runs, ["rules"])] if any(n in o for o in runs.values())
    ]
    if answered:
        lines += ["", "### What the selector's answers named (share of tries, %)", ""]
        lines += outcome_table(runs, answered)
    round_names = [n for n in ROUND_STYLES if any(n in o for o in runs.values())]
    plot = _plot_rounds(runs, f"{dataset}: accuracy per round", _plot_path(out, dataset, "rounds"))
    if plot:
        lines += ["", "### Accuracy per round and all clues in one round (paper Figure 4)", ""]
        lines += [f"![rounds]({plot.relative_to(out).as_posix()})", ""]
        lines += round_table(runs, round_names)
        lines += _command_block(runs, round_names)
    graph_names = _configs(runs, [*TABLE2_GROUPS[1:], "switches", "vif_tools", "clue_order"])
    if any(runs[o][n]["summary"].get("nil") for o in runs for n in runs[o]):
        lines += ["", "### NIL answers", ""]
        lines += nil_table(runs, _configs(runs, [*TABLE2_GROUPS, "switches"]))
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
    from i2cr.evals.sweep import sweep_section

    for dataset, runs in found.items():
        lines += sweep_section(dataset, runs)
    md_path = out / REPORT
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [md_path, json_path, *sorted((out / PLOTS).glob("*.png"))]
