"""Fit the combined first stage on WikiMEL val by k-fold, and report it beside every signal.

    python evals/first_stage/fit.py            # report (evals/first_stage/report.json + .md)
    python evals/first_stage/fit.py --save     # also write the shipped weights

Reads the signal files of `collect.py` (evals/first_stage/signals/). Top-1 is reported in the
released candidate order and in a seeded shuffle (ties go to the earlier candidate, so a
tie-prone signal gains from the released order). Val figures are out of fold: each mention is
scored by weights fitted on the other folds. Dev and WikiDiverse dev are scored by the weights
fitted on all of val (never fitted or chosen on).
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
    right = []
    for row, s in zip(rows, scores, strict=True):
        order = shuffled_positions(row) if shuffled else list(range(len(s)))
        right.append(row["gold"] >= 0 and top(s, order) == row["gold"])
    return right


def signal_scores(rows: list[dict], name: str) -> list[np.ndarray]:
    return [np.asarray(r["signals"][name], dtype=np.float64) for r in rows]


def combined_scores(train: list[dict], test: list[dict], names: tuple[str, ...]):
    weights = fit_weights(
        [feature_matrix(r["signals"], names) for r in train], [r["gold"] for r in train], L2
    )
    return [feature_matrix(r["signals"], names) @ weights for r in test], weights


def out_of_fold(rows: list[dict], names: tuple[str, ...]) -> list[np.ndarray]:
    scores: dict[str, np.ndarray] = {}
    for fold in range(FOLDS):
        train = [r for r in rows if fold_of(r["id"], FOLDS) != fold]
        test = [r for r in rows if fold_of(r["id"], FOLDS) == fold]
        for row, s in zip(test, combined_scores(train, test, names)[0], strict=True):
            scores[row["id"]] = s
    return [scores[r["id"]] for r in rows]


def accuracy(right: list[bool]) -> float:
    return round(100 * sum(right) / len(right), 1)


def paired(a: list[bool], b: list[bool]) -> dict[str, int]:
    return {
        "only_first": sum(x and not y for x, y in zip(a, b, strict=True)),
        "only_second": sum(y and not x for x, y in zip(a, b, strict=True)),
    }


def oof_confidence(rows: list[dict], scores: list[np.ndarray]) -> tuple[list[float], list[bool]]:
    """Calibrated top-candidate confidence, the calibration itself fitted out of fold."""
    tops = [float(softmax(s).max()) for s in scores]
    right = hits(rows, scores, shuffled=False)
    conf = [0.0] * len(rows)
    for fold in range(FOLDS):
        inside = [i for i, r in enumerate(rows) if fold_of(r["id"], FOLDS) == fold]
        outside = [i for i, r in enumerate(rows) if fold_of(r["id"], FOLDS) != fold]
        calibration = fit_calibration([tops[i] for i in outside], [right[i] for i in outside])
        for i in inside:
            conf[i] = calibrated(tops[i], calibration)
    return conf, right


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", action="store_true", help="write the shipped weights")
    args = parser.parse_args()
    val, dev, diverse = read("wikimel_val"), read("wikimel_dev"), read("wikidiverse_dev")
    report: dict = {"folds": FOLDS, "l2": L2, "val_mentions": len(val), "dev_mentions": len(dev)}
    singles = {}
    for name in SINGLE:
        singles[name] = {
            "val": hits(val, signal_scores(val, name), False),
            "val_shuffled": hits(val, signal_scores(val, name), True),
            "dev": hits(dev, signal_scores(dev, name), False),
            "dev_shuffled": hits(dev, signal_scores(dev, name), True),
        }
    report["first_candidate"] = {
        "val": accuracy([r["gold"] == 0 for r in val]),
        "dev": accuracy([r["gold"] == 0 for r in dev]),
    }
    report["single"] = {n: {k: accuracy(v) for k, v in s.items()} for n, s in singles.items()}
    subsets = {}
    for size in range(2, len(SINGLE) + 1):
        for names in itertools.combinations(SINGLE, size):
            oof = out_of_fold(val, names)
            subsets["+".join(names)] = {
                "val": accuracy(hits(val, oof, False)),
                "val_shuffled": accuracy(hits(val, oof, True)),
            }
    report["combinations_val_out_of_fold"] = dict(
        sorted(subsets.items(), key=lambda kv: -kv[1]["val_shuffled"])
    )
    names = COMBINED_SIGNALS
    oof = out_of_fold(val, names)
    chosen = {"signals": list(names), "val": {}, "dev": {}}
    for shuffled in (False, True):
        key = "shuffled" if shuffled else "released"
        right = hits(val, oof, shuffled)
        chosen["val"][key] = {
            "top1": accuracy(right),
            "paired_vs": {
                n: paired(right, singles[n]["val_shuffled" if shuffled else "val"])
                for n in SINGLE
            },
        }
    weights = fit_weights([feature_matrix(r["signals"], names) for r in val], [r["gold"] for r in val], L2)
    dev_scores = [feature_matrix(r["signals"], names) @ weights for r in dev]
    for shuffled in (False, True):
        key = "shuffled" if shuffled else "released"
        right = hits(dev, dev_scores, shuffled)
        chosen["dev"][key] = {
            "top1": accuracy(right),
            "paired_vs": {
                n: paired(right, singles[n]["dev_shuffled" if shuffled else "dev"])
                for n in SINGLE
            },
        }
    conf, right = oof_confidence(val, oof)
    chosen["val_ece_out_of_fold"] = round(expected_calibration_error(conf, right), 4)
    tops = [float(softmax(s).max()) for s in oof]
    calibration = fit_calibration(tops, hits(val, oof, False))
    dev_conf = [calibrated(float(softmax(s).max()), calibration) for s in dev_scores]
    chosen["dev_ece"] = round(expected_calibration_error(dev_conf, hits(dev, dev_scores, False)), 4)
    diverse_scores = [feature_matrix(r["signals"], names) @ weights for r in diverse]
    chosen["wikidiverse_dev"] = {
        "top1": accuracy(hits(diverse, diverse_scores, False)),
        "mean_confidence": round(
            float(np.mean([calibrated(float(softmax(s).max()), calibration) for s in diverse_scores])), 3
        ),
    }
    chosen["weights"] = dict(zip(names, map(float, weights), strict=True))
    chosen["calibration"] = calibration
    report["combined"] = chosen
    (HERE / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "combinations_val_out_of_fold"}, indent=1))
    print(json.dumps(dict(list(report["combinations_val_out_of_fold"].items())[:12]), indent=1))
    if args.save:
        Combination(
            signals=names,
            weights=tuple(map(float, weights)),
            calibration=calibration,
            metadata={"fitted_on": "wikimel_val", "mentions": len(val), "l2": L2},
        ).save(shipped_weights())


if __name__ == "__main__":
    main()
