"""Ranked instruction data: sample by sample against the batched embedding of `build_examples`.

    OMP_NUM_THREADS=1 python benchmarks/finetune_data_batching.py [--samples 400]

Both build the same examples (asserted) from the first N WikiMEL train samples with the
embedder ranker keeping 5 and one clue prompt per sample; the embedding cache is cleared before
each, and the model is loaded before timing.
"""

from __future__ import annotations

import argparse
import time

from i2cr.datasets import load_release
from i2cr.finetune.data import DataOptions, build_examples
from i2cr.models import embedder


def main() -> None:
    """Time both ways and print the seconds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--dataset", default="../shared/data/wikimel/wikimel_train.json")
    args = parser.parse_args()
    samples = load_release(args.dataset)[: args.samples]
    options = DataOptions(clues="one", ranker="embedder", ranker_keep=5)
    embedder.load_embedder(options.ranking_context.embedder)

    embedder._embeddings.clear()
    start = time.perf_counter()
    one_by_one = [example for sample in samples for example in build_examples([sample], options)]
    sample_by_sample = time.perf_counter() - start

    embedder._embeddings.clear()
    start = time.perf_counter()
    batched = build_examples(samples, options)
    batched_seconds = time.perf_counter() - start

    assert batched == one_by_one
    print(
        f"{len(samples)} samples, {len(batched)} examples: "
        f"sample by sample {sample_by_sample:.1f} s, batched {batched_seconds:.1f} s"
    )


if __name__ == "__main__":
    main()
