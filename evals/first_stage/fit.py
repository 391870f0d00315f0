"""Fit the combined first stage on WikiMEL val by k-fold, and report it beside every signal.

    python evals/first_stage/fit.py            # evals/first_stage/report.json + reliability plot
    python evals/first_stage/fit.py --save     # also write the shipped weights

Reads the signal files of `collect.py` (evals/first_stage/signals/). Top-1 is reported in the
released candidate order and in a seeded shuffle (ties go to the earlier candidate, so a
tie-prone signal gains from the released order). Val figures are out of fold: each mention is
scored, and its confidence calibrated, by weights fitted on the other folds. Dev and
WikiDiverse dev are scored by the weights and calibration fitted on all of val (never fitted
or chosen on).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
from pathlib import Path

import numpy as np

from i2cr.rankers.combined import COMBINED_SIGNALS, Combination, shipped_weights
from i2cr.rankers.fitting import (
    calibrated,
    calibration_features,
    expected_calibration_error,
    feature_matrix,
    fit_calibration,
    fit_weights,
    fold_of,
    softmax,
)

HERE = Path(__file__).parent
SIGNALS_DIR = HERE / "signals"
FOLDS = 5
L2 = 0.01
SINGLE = ("embedder", "dim", "cross_encoder", "name", "clue", "ocr_name")


def read(name: str) -> list[dict]:
    """The rows of a signal file."""
    path = SIGNALS_DIR / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def shuffled_positions(row: dict, seed: int = 0) -> list[int]:
    """A seeded permutation of the mention's candidates (the shuffled order)."""
    order = list(range(len(row["signals"]["embedder"])))
    random.Random(f"{seed}:{row['id']}").shuffle(order)
    return order


def top(scores: np.ndarray, order: list[int]) -> int:
    """The best candidate, ties to the one first in `order`."""
    return max(order, key=lambda i: (scores[i], -order.index(i)))


def hits(rows: list[dict], scores: list[np.ndarray], shuffled: bool) -> list[bool]:
    """Whether each mention's best-scored candidate is its gold one."""
    right = []
    for row, s in zip(rows, scores, strict=True):
        order = shuffled_positions(row) if shuffled else list(range(len(s)))
        right.append(row["gold"] >= 0 and top(s, order) == row["gold"])
    return right


def signal_scores(rows: list[dict], name: str) -> list[np.ndarray]:
    """One signal's scores of each mention's candidates."""
    return [np.asarray(r["signals"][name], dtype=np.float64) for r in rows]


def fitted(rows: list[dict], names: tuple[str, ...]) -> np.ndarray:
    """The listwise weights fitted on `rows`."""
    lists = [feature_matrix(r["signals"], names) for r in rows]
    return fit_weights(lists, [r["gold"] for r in rows], L2)


def scored(rows: list[dict], names: tuple[str, ...], weights: np.ndarray) -> list[np.ndarray]:
    """The combined scores of each mention's candidates."""
    return [feature_matrix(r["signals"], names) @ weights for r in rows]


def folds(rows: list[dict]) -> list[tuple[list[int], list[int]]]:
    """(fit on, score) positions of each fold."""
    which = [fold_of(r["id"], FOLDS) for r in rows]
    return [
        ([i for i, f in enumerate(which) if f != k], [i for i, f in enumerate(which) if f == k])
        for k in range(FOLDS)
    ]


def out_of_fold(rows: list[dict], names: tuple[str, ...]) -> list[np.ndarray]:
    """Each mention's combined scores from weights fitted on the other folds."""
    scores: list[np.ndarray] = [np.zeros(0)] * len(rows)
    for train, test in folds(rows):
        weights = fitted([rows[i] for i in train], names)
        for i in test:
            scores[i] = feature_matrix(rows[i]["signals"], names) @ weights
    return scores


def top_features(rows: list[dict], scores: list[np.ndarray], names: tuple[str, ...]):
    """The calibration features of each mention's best candidate."""
    features = []
    for row, s in zip(rows, scores, strict=True):
        best = int(np.argmax(s))
        raw = [row["signals"][n][best] for n in names]
        features.append(calibration_features(float(softmax(s)[best]), raw))
    return features


def accuracy(right: list[bool]) -> float:
    """Top-1 in percent."""
    return round(100 * sum(right) / len(right), 1)


def paired(a: list[bool], b: list[bool]) -> dict[str, int]:
    """Mentions right only under the first, and only under the second."""
    return {
        "only_this": sum(x and not y for x, y in zip(a, b, strict=True)),
        "only_signal": sum(y and not x for x, y in zip(a, b, strict=True)),
    }


def reliability(confidence: list[float], right: list[bool], bins: int = 10) -> list[dict]:
    """Per bin of confidence: mentions, mean confidence, accuracy."""
    edges = np.linspace(0, 1, bins + 1)
    rows = []
    for low, high in itertools.pairwise(edges):
        inside = [i for i, c in enumerate(confidence) if low < c <= high or (low == 0 and c == 0)]
        if inside:
            rows.append(
                {
                    "bin": f"{low:.1f}-{high:.1f}",
                    "mentions": len(inside),
                    "confidence": round(float(np.mean([confidence[i] for i in inside])), 3),
                    "accuracy": round(float(np.mean([right[i] for i in inside])), 3),
                }
            )
    return rows


def plot(table: list[dict], path: Path) -> None:
    """The reliability diagram of a table of `reliability`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    axes.plot(
        [r["confidence"] for r in table],
        [r["accuracy"] for r in table],
        marker="o",
        label="combined first stage",
    )
    for r in table:
        axes.annotate(str(r["mentions"]), (r["confidence"], r["accuracy"]), fontsize=7)
    axes.set(xlabel="confidence", ylabel="accuracy", title="WikiMEL val, out of fold")
    axes.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    """Report the signals and the combination; save the shipped one with --save."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", action="store_true", help="write the shipped weights")
    args = parser.parse_args()
    val, dev, diverse = read("wikimel_val"), read("wikimel_dev"), read("wikidiverse_dev")
    report: dict = {"folds": FOLDS, "l2": L2, "mentions": {"val": len(val), "dev": len(dev)}}
    data = {"val": val, "dev": dev}
    single = {
        name: {
            f"{split}_{order}": hits(rows, signal_scores(rows, name), order == "shuffled")
            for split, rows in data.items()
            for order in ("released", "shuffled")
        }
        for name in SINGLE
    }
    report["first_candidate"] = {s: accuracy([r["gold"] == 0 for r in d]) for s, d in data.items()}
    report["gold_among_candidates"] = {
        s: accuracy([r["gold"] >= 0 for r in d]) for s, d in data.items()
    }
    report["single"] = {n: {k: accuracy(v) for k, v in s.items()} for n, s in single.items()}
    subsets = {}
    for size in range(2, len(SINGLE) + 1):
        for names in itertools.combinations(SINGLE, size):
            oof = out_of_fold(val, names)
            subsets["+".join(names)] = {
                "val_released": accuracy(hits(val, oof, False)),
                "val_shuffled": accuracy(hits(val, oof, True)),
            }
    report["subsets_val_out_of_fold"] = dict(
        sorted(subsets.items(), key=lambda kv: -kv[1]["val_shuffled"])
    )
    names = COMBINED_SIGNALS
    weights = fitted(val, names)
    scores = {"val": out_of_fold(val, names), "dev": scored(dev, names, weights)}
    combined: dict = {"signals": list(names)}
    for split, rows in data.items():
        for order in ("released", "shuffled"):
            right = hits(rows, scores[split], order == "shuffled")
            combined[f"{split}_{order}"] = {
                "top1": accuracy(right),
                "paired_vs": {n: paired(right, single[n][f"{split}_{order}"]) for n in SINGLE},
            }
    # The calibration: fitted out of fold on val's out-of-fold scores, to report its error.
    val_features = top_features(val, scores["val"], names)
    val_right = hits(val, scores["val"], False)
    confidence = [0.0] * len(val)
    for train, test in folds(val):
        calibration = fit_calibration(
            [val_features[i] for i in train], [val_right[i] for i in train]
        )
        for i in test:
            confidence[i] = calibrated(val_features[i], calibration)
    calibration = fit_calibration(val_features, val_right)
    dev_confidence = [calibrated(f, calibration) for f in top_features(dev, scores["dev"], names)]
    dev_right = hits(dev, scores["dev"], False)
    table = reliability(confidence, val_right)
    combined["val_ece_out_of_fold"] = round(expected_calibration_error(confidence, val_right), 4)
    combined["dev_ece"] = round(expected_calibration_error(dev_confidence, dev_right), 4)
    combined["val_reliability"] = table
    plot(table, HERE / "reliability_val.png")
    diverse_scores = scored(diverse, names, weights)
    combined["wikidiverse_dev_top1"] = accuracy(hits(diverse, diverse_scores, False))
    combined["weights"] = dict(zip(names, map(float, weights), strict=True))
    combined["calibration"] = calibration
    report["combined"] = combined
    (HERE / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    shown = {k: v for k, v in report.items() if k != "subsets_val_out_of_fold"}
    print(json.dumps(shown, indent=1))
    print(json.dumps(dict(list(report["subsets_val_out_of_fold"].items())[:8]), indent=1))
    if args.save:
        Combination(
            signals=names,
            weights=tuple(map(float, weights)),
            calibration=calibration,
            metadata={
                "fitted_on": "wikimel_val",
                "mentions": len(val),
                "l2": L2,
                "command": "python evals/first_stage/fit.py --save",
            },
        ).save(shipped_weights())


if __name__ == "__main__":
    main()
