"""Scoring candidates with a trained cross-encoder, loaded once per folder."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from math import inf
from pathlib import Path
from typing import Any

import torch

from i2cr.datasets.sample import Sample
from i2cr.rankers.cross_encoder.model import CrossEncoderConfig, load_model
from i2cr.rankers.cross_encoder.texts import entity_side, mention_side
from i2cr.state import Candidate

PAIRS_PER_BATCH = 64
NIL_FILE = "nil.json"
PAIRS_KEPT = 20_000


def shipped_weights() -> Path:
    """The folder of the cross-encoder shipped with the package (trained on WikiMEL train)."""
    return Path(str(resources.files("i2cr") / "assets" / "cross_encoder"))


def pair_logits(
    tokenizer: Any, model: Any, config: CrossEncoderConfig, queries: list[str], docs: list[str]
) -> torch.Tensor:
    """The model's logit for each (query, doc) pair, with gradients when the model trains."""
    batch = tokenizer(
        queries,
        docs,
        truncation=True,
        max_length=config.max_length,
        padding=True,
        return_tensors="pt",
    )
    return model(**batch).logits.squeeze(-1)


class CrossEncoderRanker:
    """Scores a mention's candidates by reading the mention side and each entity together."""

    def __init__(
        self,
        config: CrossEncoderConfig,
        tokenizer: Any,
        model: Any,
        nil_threshold: float | None = None,
    ) -> None:
        """Wrap a trained model (in evaluation mode) with its tokenizer, config and NIL rule."""
        self.config, self.tokenizer, self.model = config, tokenizer, model
        self.nil_threshold = nil_threshold
        # The graph scores the same pairs to rank, to check NIL and in ICR's first round, and
        # an evaluation scores them again in another candidate order: pairs are kept.
        self._known: OrderedDict[tuple[str, str], float] = OrderedDict()

    def sample_scores(self, sample: Sample) -> list[float]:
        """`scores` of a dataset sample's candidates, with its carried clues."""
        return self.scores(
            mention=sample.mention,
            context=sample.context,
            candidates=sample.candidates,
            clues=sample.clues,
        )

    def scores(
        self,
        *,
        mention: str,
        candidates: list[Candidate],
        context: str = "",
        clues: Mapping[str, str] | None = None,
    ) -> list[float]:
        """One logit per candidate, in the candidates' order (higher: more likely the one)."""
        query = mention_side(mention, context, clues)
        docs = [entity_side(c, self.config.desc_chars) for c in candidates]
        missing = list(dict.fromkeys(d for d in docs if (query, d) not in self._known))
        if missing:
            self._score_new(query, missing)
        for doc in docs:
            self._known.move_to_end((query, doc))
        scores = [self._known[(query, d)] for d in docs]
        while len(self._known) > PAIRS_KEPT:
            self._known.popitem(last=False)
        return scores

    def says_nil(self, scores: list[float]) -> bool:
        """True when a NIL threshold is saved and no score reaches it."""
        return self.nil_threshold is not None and max(scores, default=-inf) < self.nil_threshold

    def _score_new(self, query: str, docs: list[str]) -> None:
        with torch.inference_mode():
            for start in range(0, len(docs), PAIRS_PER_BATCH):
                chunk = docs[start : start + PAIRS_PER_BATCH]
                values = pair_logits(
                    self.tokenizer, self.model, self.config, [query] * len(chunk), chunk
                )
                for doc, value in zip(chunk, values.reshape(-1).tolist(), strict=True):
                    self._known[(query, doc)] = value


def save_nil_threshold(folder: str | Path, rule: Mapping[str, object]) -> Path:
    """Save a NIL rule (its threshold and how it was learned) beside the weights."""
    path = Path(folder) / NIL_FILE
    path.write_text(json.dumps(dict(rule), indent=2) + "\n", encoding="utf-8")
    return path


def read_nil_threshold(folder: str | Path) -> float | None:
    """The NIL threshold saved with the weights, or None."""
    path = Path(folder) / NIL_FILE
    if not path.is_file():
        return None
    return float(json.loads(path.read_text(encoding="utf-8"))["threshold"])


@lru_cache(maxsize=2)
def load_cross_encoder(folder: str = "") -> CrossEncoderRanker:
    """The ranker saved in `folder` (the shipped one when empty), loaded once."""
    source = folder or shipped_weights()
    return CrossEncoderRanker(*load_model(source), nil_threshold=read_nil_threshold(source))
