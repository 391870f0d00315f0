"""Write every first-stage signal of a dataset's candidates to a JSONL file (one mention a line).

    OMP_NUM_THREADS=1 python evals/first_stage/collect.py ../shared/data/wikimel/wikimel_val.json \
        evals/first_stage/signals/wikimel_val.jsonl

Resumes: mentions already in the output are skipped. `gold` is the gold candidate's position
(-1: not among the candidates; "nil" labels are -1 too, with `nil: true`). Every score also
goes to the evaluations' signal cache (evals/runs/signal_cache.sqlite; rows already in the
output are copied there), so `i2cr eval` scores no pair again.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from i2cr.datasets import load_dataset
from i2cr.rankers.dim.features import gold_index
from i2cr.rankers.signal_cache import attach_signal_cache, pair_key
from i2cr.rankers.signals import SIGNALS, signal_scores

CACHE = Path(__file__).parents[1] / "runs" / "signal_cache.sqlite"


def main() -> None:
    """Collect the signals of the dataset's mentions not yet in the output."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("output")
    parser.add_argument("--embedder", default="minilm")
    args = parser.parse_args()
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    done = {}
    if output.exists():
        rows = (json.loads(line) for line in output.read_text().splitlines() if line)
        done = {row["id"]: row for row in rows}
    samples = load_dataset(args.dataset)
    cache = attach_signal_cache(CACHE)
    for sample in samples:
        for name, scores in done.get(sample.id, {}).get("signals", {}).items():
            keys = [pair_key(name, args.embedder, sample, c) for c in sample.candidates]
            cache.put(zip(keys, scores, strict=True))
    samples = [s for s in samples if s.id not in done]
    with output.open("a", encoding="utf-8") as out:
        for n, sample in enumerate(samples, 1):
            started = time.perf_counter()
            scores = signal_scores(sample, tuple(SIGNALS), args.embedder, "float32")
            row = {
                "id": sample.id,
                "gold": gold_index(sample),
                "nil": sample.is_nil,
                "seconds": round(time.perf_counter() - started, 4),
                "signals": scores,
            }
            out.write(json.dumps(row) + "\n")
            if n % 100 == 0:
                print(f"{n}/{len(samples)}", flush=True)


if __name__ == "__main__":
    main()
