"""Compare the local selector's candidate log-likelihoods with the embedder on dev.

Does the selector know anything the embedder does not? No graph runs here.

For each mention the selector prompt is built as the graph builds it, and the local model's
log-likelihood of every candidate's answer line (`<|ANSWER|>: name` and the end of the turn) is
read off: the selector's choice with decoding restricted to the candidates. It is compared with
the embedder's cosine ranking, alone and fused (log-likelihood + w x cosine), and counted per
mention: both right, only the embedder, only the selector, neither.

Run from the project root (about 3-6 s per mention on one CPU thread):
`OMP_NUM_THREADS=1 python evals/selector_signal.py --adapter ADAPTER --keep 5 --size 100`
"""

import argparse
import copy
import json

import torch

from i2cr.datasets import load_release
from i2cr.evals.metrics import same_entity
from i2cr.evals.runner import choose_subset, shuffle_candidates
from i2cr.finetune.data import answer_text
from i2cr.models.local_chat import load_causal_lm, to_chat_messages
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

model, tokenizer = load_causal_lm(args.base, args.adapter)
samples = shuffle_candidates(choose_subset(load_release(args.dataset), args.size, 0), 0)


def chat_ids(messages: list[dict[str, str]], generation_prompt: bool) -> list[int]:
    """Token ids of a chat under the model's template."""
    encoded = tokenizer.apply_chat_template(
        messages, add_generation_prompt=generation_prompt, tokenize=True, return_dict=True
    )
    return list(encoded["input_ids"])


def answer_log_likelihoods(messages: list[dict[str, str]], names: list[str]) -> list[float]:
    """Log P(answer line of each name | prompt), reusing the prompt's key-value cache."""
    prompt = chat_ids(messages, generation_prompt=True)
    scores = []
    with torch.inference_mode():
        head = model(input_ids=torch.tensor([prompt]), use_cache=True)
        for name in names:
            answer = {"role": "assistant", "content": answer_text(name)}
            tail = chat_ids([*messages, answer], generation_prompt=False)[len(prompt) :]
            ids = torch.tensor([tail])
            rest = model(input_ids=ids, past_key_values=copy.deepcopy(head.past_key_values))
            logits = torch.cat([head.logits[:, -1:], rest.logits[:, :-1]], dim=1)
            picked = logits.log_softmax(-1)[0, torch.arange(len(tail)), ids[0]]
            scores.append(float(picked.sum()))
    return scores


rows = []
for s in samples:
    cos = embedder_scores("minilm", s.mention, s.context, s.candidates)
    kept = best_first(cos)[: args.keep]
    candidates = [s.candidates[i] for i in kept]
    messages = to_chat_messages(
        build_messages(
            mention=s.mention,
            context=s.context,
            candidates=candidates,
            desc_chars=args.desc_chars,
        )
    )
    names = [c["name"] for c in candidates]
    rows.append(
        {
            "gold": [same_entity(n, s.gold_name) for n in names],
            "lm": answer_log_likelihoods(messages, names),
            "cos": [cos[i] for i in kept],
        }
    )


def accuracy(weight: float | None) -> float:
    """Top-1 of log-likelihood + weight x cosine (None: cosine alone)."""
    hits = 0
    for r in rows:
        scores = r["cos"]
        if weight is not None:
            scores = [a + weight * b for a, b in zip(r["lm"], r["cos"], strict=True)]
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
            "top1_fused": {w: accuracy(w) for w in (1, 3, 5, 10, 20, 40)},
            "outcomes": {k: outcomes.count(k) for k in sorted(set(outcomes))},
        },
        indent=1,
    )
)
