"""ICR / IAV (clue-text) score quantiles on a dev subset: gold vs other candidates (no LLM).

Run from the project root:
`OMP_NUM_THREADS=1 python evals/score_separation.py > evals/score_separation.json` (WikiMEL dev,
200 mentions), or with a dataset and a subset size:
`python evals/score_separation.py ../shared/data/wikidiverse/wikidiverse_dev_fulldesc.json 0`
(0: all mentions). Guides the alpha / beta_text grid of `i2cr eval sweep` for the default
embedder (minilm).
"""

import json
import sys

from i2cr.datasets import load_release
from i2cr.evals.metrics import same_entity
from i2cr.evals.runner import choose_subset
from i2cr.models.embedder import cosine
from i2cr.nodes.common import entity_text

dataset = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/wikimel/wikimel_dev.json"
size = int(sys.argv[2]) if len(sys.argv) > 2 else 200
samples = choose_subset(load_release(dataset), size or None, 0)
icr_gold, icr_other, iav_gold, iav_other, best_is_gold = [], [], [], [], 0
for s in samples:
    texts = [entity_text(c) for c in s.candidates]
    icr = cosine("minilm", f"{s.mention} {s.context}".strip(), texts)
    clue = " ".join(dict.fromkeys(t for t in s.clues.values() if t))
    iav = cosine("minilm", clue, texts) if clue else [None] * len(texts)
    for c, a, b in zip(s.candidates, icr, iav, strict=True):
        gold = same_entity(c["name"], s.gold_name)
        (icr_gold if gold else icr_other).append(a)
        if b is not None:
            (iav_gold if gold else iav_other).append(b)


def q(v):
    """Quantiles 10/25/50/75/90 of v."""
    v = sorted(v)
    return {p: round(v[int(p / 100 * (len(v) - 1))], 3) for p in (10, 25, 50, 75, 90)}


out = {
    "icr_gold": q(icr_gold),
    "icr_other": q(icr_other),
    "iav_text_gold": q(iav_gold),
    "iav_text_other": q(iav_other),
    "n_mentions": len(samples),
}
for a in (0.2, 0.25, 0.3, 0.35, 0.4, 0.5):
    out[f"alpha{a}"] = {
        "gold_pass": round(sum(x > a for x in icr_gold) / len(icr_gold), 3),
        "other_pass": round(sum(x > a for x in icr_other) / len(icr_other), 3),
    }
for b in (0.1, 0.15, 0.2, 0.25, 0.3):
    out[f"beta_text{b}"] = {
        "gold_pass": round(sum(x >= b for x in iav_gold) / len(iav_gold), 3),
        "other_pass": round(sum(x >= b for x in iav_other) / len(iav_other), 3),
    }
print(json.dumps(out, indent=1))
