"""Training the cross-encoder: a softmax over each mention's candidate list (gold vs the rest)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch
from torch.nn import functional

from i2cr.datasets import Sample
from i2cr.rankers.cross_encoder.model import HEAD_PREFIXES, CrossEncoderConfig, build_model
from i2cr.rankers.cross_encoder.ranker import CrossEncoderRanker, pair_logits
from i2cr.rankers.cross_encoder.texts import entity_side, mention_side
from i2cr.rankers.dim.features import gold_index


@dataclass
class TrainSettings:
    """Optimisation settings; `seed` fixes the head's initialisation and the data order."""

    epochs: int = 1
    lr: float = 5e-5
    head_lr: float = 1e-3  # the new head starts near zero; at the encoder's rate it barely moves
    mentions_per_step: int = 4
    seed: int = 0
    eval_every: int = 0  # training mentions between evaluations (0: at the end only)

    def as_dict(self) -> dict[str, object]:
        """The settings as JSON-ready values."""
        return asdict(self)


def with_gold(samples: Sequence[Sample]) -> list[Sample]:
    """The samples whose gold entity is among their candidates (the ones a ranker can learn)."""
    return [s for s in samples if gold_index(s) >= 0]


def top1(ranker: CrossEncoderRanker, samples: Sequence[Sample]) -> float:
    """Share of samples whose gold candidate scores best (gold absent: a miss)."""
    right = 0
    for sample in samples:
        scores = ranker.sample_scores(sample)
        gold = gold_index(sample)
        right += gold >= 0 and max(range(len(scores)), key=lambda i: scores[i]) == gold
    return right / max(len(samples), 1)


def _step_loss(ranker: CrossEncoderRanker, batch: Sequence[Sample]) -> torch.Tensor:
    queries, docs, sizes, golds = [], [], [], []
    for sample in batch:
        query = mention_side(sample.mention, sample.context, sample.clues)
        queries += [query] * len(sample.candidates)
        docs += [entity_side(c, ranker.config.desc_chars) for c in sample.candidates]
        sizes.append(len(sample.candidates))
        golds.append(gold_index(sample))
    logits = pair_logits(ranker.tokenizer, ranker.model, ranker.config, queries, docs)
    losses = [
        functional.cross_entropy(group.unsqueeze(0), torch.tensor([gold]))
        for group, gold in zip(logits.split(sizes), golds, strict=True)
    ]
    return torch.stack(losses).mean()


def train(
    samples: Sequence[Sample],
    config: CrossEncoderConfig,
    settings: TrainSettings,
    evaluate: Callable[[CrossEncoderRanker, int], None] | None = None,
    log: Callable[[str], None] = print,
) -> tuple[CrossEncoderRanker, list[dict[str, float]]]:
    """Train on the samples with gold; `evaluate(ranker, mentions_seen)` runs every eval_every."""
    tokenizer, model = build_model(config, settings.seed)
    ranker = CrossEncoderRanker(config, tokenizer, model)
    usable = with_gold(samples)
    head = [
        p for n, p in model.named_parameters() if p.requires_grad and n.startswith(HEAD_PREFIXES)
    ]
    body = [
        p
        for n, p in model.named_parameters()
        if p.requires_grad and not n.startswith(HEAD_PREFIXES)
    ]
    optimizer = torch.optim.AdamW(
        [{"params": body, "lr": settings.lr}, {"params": head, "lr": settings.head_lr}],
        weight_decay=0.01,
    )
    steps = settings.epochs * -(-len(usable) // settings.mentions_per_step)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1 - s / max(steps, 1))
    order = random.Random(settings.seed)
    history: list[dict[str, float]] = []
    seen, started, next_eval = 0, time.perf_counter(), settings.eval_every
    for epoch in range(settings.epochs):
        shuffled = list(usable)
        order.shuffle(shuffled)
        for start in range(0, len(shuffled), settings.mentions_per_step):
            batch = shuffled[start : start + settings.mentions_per_step]
            model.train()
            loss = _step_loss(ranker, batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            seen += len(batch)
            elapsed = time.perf_counter() - started
            history.append({"epoch": epoch + 1, "mentions": seen, "loss": loss.item()})
            if seen % (10 * settings.mentions_per_step) == 0:
                log(f"{seen} mentions, loss {loss.item():.3f}, {elapsed / seen:.2f} s/mention")
            if evaluate is not None and settings.eval_every and seen >= next_eval:
                model.eval()
                evaluate(CrossEncoderRanker(config, tokenizer, model), seen)  # no stale scores
                next_eval += settings.eval_every
    model.eval()
    return CrossEncoderRanker(config, tokenizer, model), history
