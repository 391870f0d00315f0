"""Issue 27 step 1: the cross-encoder trained on a seeded half of WikiMEL train (fold check).

Prints dev top-1 every `--eval-every` training mentions and the s/mention of training, then
writes each mention's candidate scores (dev and the held-out half) for the blend study.
Run: OMP_NUM_THREADS=1 python benchmarks/cross_encoder_signal.py --out /tmp/ce_half
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import torch

from i2cr.datasets import load_release
from i2cr.rankers.cross_encoder.model import CrossEncoderConfig, save_model
from i2cr.rankers.cross_encoder.train import TrainSettings, top1, train

DATA = Path("../shared/data/wikimel")


def main() -> None:
    """Train on half of train, print the dev curve, save the scores."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--fold-size", type=int, default=500)
    parser.add_argument("--no-caption", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    samples = load_release(DATA / "wikimel_train.json")
    dev = load_release(DATA / "wikimel_dev.json")
    if args.no_caption:
        for s in [*samples, *dev]:
            s.clues = {}
    ids = list(range(len(samples)))
    random.Random(args.seed).shuffle(ids)
    half = len(ids) // 2
    part = [samples[i] for i in ids[:half]]
    held_out = [samples[i] for i in ids[half:]][: args.fold_size]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def evaluate(ranker, seen: int) -> None:  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        print(
            f"CURVE {seen} train mentions: dev top-1 {100 * top1(ranker, dev):.1f} "
            f"({time.perf_counter() - started:.0f} s)",
            flush=True,
        )

    started = time.perf_counter()
    settings = TrainSettings(seed=args.seed, eval_every=args.eval_every)
    ranker, _ = train(
        part, CrossEncoderConfig(), settings, evaluate, log=lambda m: print(m, flush=True)
    )
    print(f"trained in {time.perf_counter() - started:.0f} s", flush=True)
    save_model(ranker.model, ranker.config, out / "model")
    for name, rows in (("dev", dev), ("fold", held_out)):
        scores = {
            s.id: ranker.scores(
                mention=s.mention, context=s.context, candidates=s.candidates, clues=s.clues
            )
            for s in rows
        }
        (out / f"{name}_scores.json").write_text(json.dumps(scores))
        print(f"FINAL {name} top-1 {100 * top1(ranker, rows):.1f} (n={len(rows)})", flush=True)
    (out / "fold_ids.json").write_text(json.dumps([s.id for s in held_out]))


if __name__ == "__main__":
    main()
