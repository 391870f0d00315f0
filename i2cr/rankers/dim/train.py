"""Training DIM with the N-pair loss, keeping the epoch that ranks the dev split best."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from i2cr.rankers.dim.features import Features
from i2cr.rankers.dim.model import DimConfig, DimFusion, n_pair_loss

TOP_KS = (1, 3, 5)


@dataclass
class TrainSettings:
    """Optimisation settings."""

    epochs: int = 30
    lr: float = 1e-3
    batch_size: int = 64
    weight_decay: float = 1e-4
    seed: int = 0


def top_k_accuracy(
    scores: torch.Tensor, gold: torch.Tensor, ks: Sequence[int] = TOP_KS
) -> dict[int, float]:
    """Share of samples whose gold candidate is among the k best scores (absent gold: a miss)."""
    order = scores.argsort(dim=1, descending=True)
    hit_rank = (order == gold.unsqueeze(1)).float().argmax(dim=1)
    found = gold >= 0
    return {k: float(((hit_rank < k) & found).float().mean()) for k in ks}


def scores_of(model: DimFusion, features: Features) -> torch.Tensor:
    """Candidate scores in evaluation mode, without gradients."""
    model.eval()
    with torch.inference_mode():
        return model(features)


def train(
    train_set: Features,
    dev_set: Features,
    config: DimConfig,
    settings: TrainSettings,
    log: Callable[[str], None] = print,
) -> tuple[DimFusion, list[dict[str, float]]]:
    """Train from scratch; return the model of the best dev top-1 epoch and each epoch's figures."""
    torch.manual_seed(settings.seed)
    model = DimFusion(config)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    usable = torch.nonzero(train_set.gold >= 0).squeeze(1)
    generator = torch.Generator().manual_seed(settings.seed)
    history: list[dict[str, float]] = []
    best_state, best_key = copy.deepcopy(model.state_dict()), (-1.0, 0.0)
    for epoch in range(1, settings.epochs + 1):
        model.train()
        total = 0.0
        for batch in usable[torch.randperm(len(usable), generator=generator)].split(
            settings.batch_size
        ):
            loss = n_pair_loss(model(train_set.select(batch)), train_set.gold[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        dev_scores = scores_of(model, dev_set)
        dev = top_k_accuracy(dev_scores, dev_set.gold)
        row = {
            "epoch": float(epoch),
            "train_loss": total / len(usable),
            "dev_loss": float(n_pair_loss(dev_scores, dev_set.gold)),
            **{f"dev_top{k}": v for k, v in dev.items()},
        }
        history.append(row)
        log(
            f"epoch {epoch}: train loss {row['train_loss']:.4f}, dev loss {row['dev_loss']:.4f}, "
            + ", ".join(f"dev top-{k} {v:.3f}" for k, v in dev.items())
        )
        key = (dev[1], -row["dev_loss"])
        if key > best_key:
            best_state, best_key = copy.deepcopy(model.state_dict()), key
    model.load_state_dict(best_state)
    model.eval()
    return model, history
