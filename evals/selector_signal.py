"""Compare the local selector's candidate log-likelihoods with the embedder on dev.

Does the selector know anything the embedder does not? No graph runs here.

For each mention the selector prompt is built as the graph builds it, and the local model's
log-likelihood of every candidate's answer line (`<|ANSWER|>: name` and the end of the turn) is
read off: the selector's choice with decoding restricted to the candidates. It is compared with
the embedder's cosine ranking, alone and fused (log-likelihood + w x cosine), and counted per
mention: both right, only the embedder, only the selector, neither.

Run from the project root (about 0.5 s per mention on one CPU thread, bfloat16):
`OMP_NUM_THREADS=1 python evals/selector_signal.py --adapter ADAPTER --keep 5 --size 100`
"""

import argparse
import json

from i2cr.datasets import load_release
from i2cr.evals.metrics import same_entity
from i2cr.evals.runner import choose_subset, shuffle_candidates
from i2cr.finetune.data import answer_text
from i2cr.models.local_chat import LocalChatModel
from i2cr.ranking import best_first, embedder_scores
from i2cr.selection import build_messages

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--dataset", default="../shared/data/wikimel/wikimel_dev.json")
parser.add_argument("--base", default="smollm2")
parser.add_argument("--adapter", default="", help="LoRA adapter folder, hub id or shipped name")
parser.add_argument("--keep", type=int, default=10, help="embedder's top candidates in the prompt")
parser.add_argument("--size", type=int, default=100, help="seeded subset of mentions")
parser.add_argument("--desc-chars", type=int, default=120)
args = parser.parse_args()

selector = LocalChatModel(base=args.base, adapter=args.adapter)
samples = shuffle_candidates(choose_subset(load_release(args.dataset), args.size, 0), 0)

rows = []
for s in samples:
    cos = embedder_scores("minilm", s.mention, s.context, s.candidates)
    kept = best_first(cos)[: args.keep]
    candidates = [s.candidates[i] for i in kept]
    messages = build_messages(
        mention=s.mention,
        context=s.context,
        candidates=candidates,
        desc_chars=args.desc_chars,
    )
    names = [c["name"] for c in candidates]
    scores = selector.score_continuations(messages, [answer_text(n) for n in names])
    rows.append(
        {
            "gold": [same_entity(n, s.gold_name) for n in names],
            "lm": [score.log_prob for score in scores],
            "lm_mean": [score.log_prob / score.tokens for score in scores],
            "cos": [cos[i] for i in kept],
        }
    )


def accuracy(weight: float | None, lm: str = "lm") -> float:
    """Top-1 of log-likelihood (`lm`: summed, or "lm_mean" per token) + weight x cosine.

    Weight None: cosine alone.
    """
    hits = 0
    for r in rows:
        scores = r["cos"]
        if weight is not None:
            scores = [a + weight * b for a, b in zip(r[lm], r["cos"], strict=True)]
        hits += r["gold"][max(range(len(scores)), key=scores.__getitem__)]
    return round(hits / len(rows), 3)


def outcome(r: dict) -> str:
    """Which of the embedder and the selector put the gold entity first."""
    emb = r["gold"][max(range(len(r["cos"])), key=r["cos"].__getitem__)]
    lm = r["gold"][max(range(len(r["lm"])), key=r["lm"].__getitem__)]
    return {(1, 1): "both", (1, 0): "embedder_only", (0, 1): "selector_only"}.get(
        (int(emb), int(lm)), "neither"
    )


outcomes = [outcome(r) for r in rows]
print(
    json.dumps(
        {
            "settings": vars(args),
            "mentions": len(rows),
            "top1_embedder": accuracy(None),
            "top1_selector": accuracy(0.0),
            "top1_selector_mean_per_token": accuracy(0.0, "lm_mean"),
            "top1_fused": {w: accuracy(w) for w in (1, 3, 5, 10, 20, 40)},
            "outcomes": {k: outcomes.count(k) for k in sorted(set(outcomes))},
        },
        indent=1,
    )
)
