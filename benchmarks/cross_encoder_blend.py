"""Issue 27: blend the cross-encoder's scores with DIM's or the embedder's (weight chosen on dev).

Reads the per-mention scores `cross_encoder_signal.py` wrote (or scores dev with the ranker
saved in the folder), z-scores each ranker's scores within a mention, and reports top-1 of
(1 - w) * cross-encoder + w * other for w in 0, 0.1, ..., 1 on dev and on the held-out half
of train. DIM was trained on all of train, so its fold figures are optimistic.
Run: OMP_NUM_THREADS=1 python benchmarks/cross_encoder_blend.py /tmp/ce_half
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from i2cr.datasets import Sample, load_release
from i2cr.rankers.cross_encoder.ranker import load_cross_encoder
from i2cr.rankers.dim.features import gold_index
from i2cr.rankers.dim.ranker import load_ranker
from i2cr.ranking import embedder_scores

DATA = Path("../shared/data/wikimel")


def zscores(values: list[float]) -> list[float]:
    """Scores relative to the mention's others."""
    spread = statistics.pstdev(values) or 1.0
    mean = statistics.fmean(values)
    return [(v - mean) / spread for v in values]


def top1(samples: list[Sample], ce: dict, other: list[list[float]], weight: float) -> float:
    """Top-1 of the blend."""
    right = 0
    for sample, extra in zip(samples, other, strict=True):
        blend = [
            (1 - weight) * a + weight * b
            for a, b in zip(zscores(ce[sample.id]), zscores(extra), strict=True)
        ]
        right += max(range(len(blend)), key=lambda i: blend[i]) == gold_index(sample)
    return 100 * right / len(samples)


def main() -> None:
    """Print the blend table for DIM and the embedder."""
    folder = Path(sys.argv[1])
    train = {s.id: s for s in load_release(DATA / "wikimel_train.json")}
    sets = {"dev": load_release(DATA / "wikimel_dev.json")}
    if (folder / "fold_ids.json").is_file():
        sets["fold"] = [train[i] for i in json.loads((folder / "fold_ids.json").read_text())]
    dim = load_ranker()
    for name, samples in sets.items():
        path = folder / f"{name}_scores.json"
        if not path.is_file():  # a saved ranker folder: score the split with it
            ranker = load_cross_encoder(str(folder))
            scores = {
                s.id: ranker.scores(
                    mention=s.mention, context=s.context, candidates=s.candidates, clues=s.clues
                )
                for s in samples
            }
            path = Path(f"/tmp/{folder.name}_{name}_scores.json")
            path.write_text(json.dumps(scores))
        ce = json.loads(path.read_text())
        others = {
            "DIM": dim.score_samples(samples),
            "embedder": [
                embedder_scores("minilm", s.mention, s.context, s.candidates) for s in samples
            ],
        }
        for other, scores in others.items():
            row = [f"{top1(samples, ce, scores, w / 10):.1f}" for w in range(11)]
            print(f"| {name} | {other} | " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
