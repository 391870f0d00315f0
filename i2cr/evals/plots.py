"""The report's PNG plots: top-1 bars per configuration and accuracy per round."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from i2cr.evals.records import candidate_orders, label

PLOTS = "plots"

# Configurations shown per round (paper Figure 4), with their line styles in the plot.
ROUND_STYLES = {"full": "-o", "full_zeroshot": ":^", "all_in_one": "--s"}


def plot_bars(runs: dict[str, Any], names: list[str], title: str, path: Path) -> Path:
    """Draw top-1 (95% CI) per configuration, one bar per candidate order, into `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    orders = candidate_orders(runs)
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
        [f"{label(runs, n)} (n={counts[n]})" for n in names], rotation=35, ha="right", fontsize=8
    )
    ax.set_ylabel("top-1 accuracy (%), 95% CI")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, title="candidates", title_fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_rounds(runs: dict[str, Any], title: str, path: Path) -> Path | None:
    """Draw top-1 after each round for `ROUND_STYLES` into `path`; None when none ran."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    drawn = False
    for order in candidate_orders(runs):
        for name, style in ROUND_STYLES.items():
            rows = runs[order].get(name, {}).get("summary", {}).get("per_round", [])
            if not rows:
                continue
            drawn = True
            ax.plot(
                [r["round"] for r in rows],
                [100 * r["accuracy"]["rate"] for r in rows],
                style,
                label=f"{label(runs, name)} ({order})",
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


def plot_path(out: Path, dataset: str, name: str) -> Path:
    """Where the plot `name` of a dataset goes under the report folder."""
    return out / PLOTS / f"{dataset}_{name}.png"


def plot_reliability(runs: dict[str, Any], name: str, title: str, path: Path) -> Path | None:
    """Draw accuracy against confidence per bin for `name` in every order; None without any."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tables = {
        order: runs[order][name]["summary"].get("calibration")
        for order in candidate_orders(runs)
        if name in runs[order]
    }
    tables = {order: table for order, table in tables.items() if table}
    if not tables:
        return None
    fig, ax = plt.subplots(figsize=(4.8, 4.5))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="calibrated")
    for order, table in tables.items():
        bins = table["reliability"]
        ax.plot(
            [b["confidence"] for b in bins],
            [b["accuracy"] for b in bins],
            "-o",
            label=f"{label(runs, name)}, {order} (ECE {table['ece']:.3f})",
        )
    ax.set_xlabel("confidence (bin mean)")
    ax.set_ylabel("top-1 accuracy in the bin")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
