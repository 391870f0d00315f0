r"""Does a selector know anything its first stage does not? One-pass scoring on dev, no graph.

For each mention the first stage (the embedder's cosine ranking and/or the shipped DIM ranker)
keeps its top `--keep` candidates; the selector prompt is built as the graph builds it, and the
selector scores every kept candidate's answer line in one pass (`score_candidates`, as
`selector_mode="score"` does): its choice is the best-scored name. Per ranker, each mention
counts as both right, ranker only, selector only or neither (gold missing from the kept
candidates is "neither"), beside each one's top-1, how often the selector picks the ranker's
first candidate, and the fused top-1 of log-probability + w x ranker score.

`--present shuffled` lists the kept candidates in a seeded random order instead of the
ranker's: a selector that only copies candidate #1 then falls apart. The mentions and their
candidate order are those of `i2cr eval` (seeded subset and shuffle, seed 0).

`--base` is any local base as `selector="local:<base>"` takes it: 'smollm2', a `.gguf` file, a
checkpoint folder (e.g. from `evals/assemble_models.py`) or a hub id; `--adapter` a LoRA
folder or shipped adapter name. Run from the project root, e.g.

    OMP_NUM_THREADS=1 python evals/selector_signal.py --rankers embedder dim \
        --base ~/.cache/i2cr/models/qwen2.5-coder-0.5b-instruct-bf16 --keep 5 --size 100

(SmolLM2-135M: about 0.5 s per mention and ranker on one CPU thread in bfloat16.)
"""

import argparse
import json
import random
import time
from pathlib import Path

from i2cr.datasets import Sample, load_release
from i2cr.evals.metrics import same_entity
from i2cr.evals.runner import choose_subset, shuffle_candidates
from i2cr.models.local_chat import LocalChatModel
from i2cr.models.scoring import score_candidates
from i2cr.ranking import best_first, embedder_scores
from i2cr.selection import build_messages

FUSION_WEIGHTS = (1, 3, 10, 30)
OUTCOMES = ("both", "ranker_only", "selector_only", "neither")

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--dataset", default="../shared/data/wikimel/wikimel_dev.json")
parser.add_argument("--base", default="smollm2", help="as selector='local:<base>'")
parser.add_argument("--adapter", default="", help="LoRA adapter folder, hub id or shipped name")
parser.add_argument("--rankers", nargs="+", choices=["embedder", "dim"], default=["embedder"])
parser.add_argument("--embedder", default="minilm", help="the embedder ranker's model")
parser.add_argument("--ranker-weights", default="", help="DIM weights folder (shipped if empty)")
parser.add_argument("--present", nargs="+", choices=["ranked", "shuffled"], default=["ranked"])
parser.add_argument("--keep", type=int, default=5, help="ranker's top candidates in the prompt")
parser.add_argument("--size", type=int, default=100, help="seeded subset of mentions")
parser.add_argument("--desc-chars", type=int, default=120)
parser.add_argument("--precision", default="auto", choices=["auto", "bfloat16", "float32"])
parser.add_argument("--output", type=Path, help="write the summary and per-mention rows (JSON)")
args = parser.parse_args()


def ranker_scores(name: str, samples: list[Sample]) -> list[list[float]]:
    """Each sample's candidate scores under a first-stage ranker."""
    if name == "embedder":
        return [
            embedder_scores(
                args.embedder, s.mention, s.context, s.candidates, precision=args.precision
            )
            for s in samples
        ]
    from i2cr.rankers.dim.ranker import load_ranker

    return load_ranker(args.ranker_weights).score_samples(samples, args.precision)


def argmax(values: list[float]) -> int:
    """Position of the largest value (the first of ties)."""
    return max(range(len(values)), key=values.__getitem__)


def score_run(samples: list[Sample], scores: list[list[float]], present: str) -> list[dict]:
    """Per mention: gold flags, ranker scores and selector log-probs of the kept candidates."""
    rows = []
    for sample, sample_scores in zip(samples, scores, strict=True):
        kept = best_first(sample_scores)[: args.keep]
        shown = list(kept)
        if present == "shuffled":
            random.Random(f"present:{sample.id}").shuffle(shown)
        candidates = [sample.candidates[i] for i in shown]
        messages = build_messages(
            mention=sample.mention,
            context=sample.context,
            candidates=candidates,
            desc_chars=args.desc_chars,
        )
        names = [c["name"] for c in candidates]
        log_probs = score_candidates(selector, messages, names)
        if log_probs is None:
            raise SystemExit(f"selector {args.base!r} cannot score candidates")
        rows.append(
            {
                "id": sample.id,
                "names": names,
                "gold": [same_entity(n, sample.gold_name) for n in names],
                "ranker": [sample_scores[i] for i in shown],
                "lm": log_probs,
            }
        )
    return rows


def outcome(row: dict) -> str:
    """Which of the ranker and the selector put the gold entity first."""
    ranker_right = row["gold"][argmax(row["ranker"])]
    selector_right = row["gold"][argmax(row["lm"])]
    return OUTCOMES[2 * (not ranker_right) + (not selector_right)]


def summary(rows: list[dict], wrong_for_all: set[str]) -> dict:
    """Top-1 figures and the outcome table of one run."""
    n = len(rows)

    def top1(weight: float | None) -> float:
        hits = 0
        for r in rows:
            s = (
                r["ranker"]
                if weight is None
                else [a + weight * b for a, b in zip(r["lm"], r["ranker"], strict=True)]
            )
            hits += r["gold"][argmax(s)]
        return round(hits / n, 3)

    outcomes = [outcome(r) for r in rows]
    return {
        "mentions": n,
        "gold_kept": sum(any(r["gold"]) for r in rows),
        "top1_ranker": top1(None),
        "top1_selector": top1(0.0),
        "top1_fused": {w: top1(w) for w in FUSION_WEIGHTS},
        "selector_picks_ranker_first": round(
            sum(argmax(r["lm"]) == argmax(r["ranker"]) for r in rows) / n, 3
        ),
        "outcomes": {k: outcomes.count(k) for k in OUTCOMES},
        "selector_right_where_every_ranker_wrong": sum(
            r["id"] in wrong_for_all and r["gold"][argmax(r["lm"])] for r in rows
        ),
    }


selector = LocalChatModel(base=args.base, adapter=args.adapter, precision=args.precision)
samples = shuffle_candidates(choose_subset(load_release(args.dataset), args.size, 0), 0)
scores = {name: ranker_scores(name, samples) for name in args.rankers}
wrong_for_all = {
    s.id
    for k, s in enumerate(samples)
    if not any(
        same_entity(s.candidates[argmax(scores[name][k])]["name"], s.gold_name)
        for name in args.rankers
    )
}
runs: dict[str, dict] = {}
rows_by_run: dict[str, list[dict]] = {}
for name in args.rankers:
    for present in args.present:
        started = time.monotonic()
        rows = score_run(samples, scores[name], present)
        key = f"{name}/{present}"
        runs[key] = summary(rows, wrong_for_all) | {
            "seconds_per_mention": round((time.monotonic() - started) / len(rows), 2)
        }
        rows_by_run[key] = rows
        print(f"{key}: {json.dumps(runs[key])}", flush=True)

settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
result = {"settings": settings, "runs": runs}
print(json.dumps(result, indent=1))
print("\n| run | top-1 ranker | top-1 selector | both | ranker only | selector only | neither |")
print("|---|---|---|---|---|---|---|")
for key, run in runs.items():
    o = run["outcomes"]
    print(
        f"| {key} | {run['top1_ranker']} | {run['top1_selector']} | {o['both']} | "
        f"{o['ranker_only']} | {o['selector_only']} | {o['neither']} |"
    )
if args.output:
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result | {"rows": rows_by_run}, indent=1) + "\n")
