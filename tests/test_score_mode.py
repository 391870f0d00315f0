"""`selector_mode="score"` in the graph: the best-scored open candidate; its ranking, the top-K."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, NamedTuple

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import BaseMessage

from i2cr import graph
from i2cr.context import Context
from i2cr.models.chat import register_chat_model
from i2cr.nodes.select import CANNOT_SCORE

_specs = itertools.count()


class Score(NamedTuple):
    log_prob: float
    tokens: int


class ScoringChat(FakeListChatModel):
    """Scores each answer line by the first name of the table it names; counts the calls."""

    table: dict[str, float] = {}
    calls: list[list[str]] = []

    def score_continuations(
        self, messages: Sequence[BaseMessage], continuations: Sequence[str]
    ) -> list[Score]:
        self.calls.append(list(continuations))
        return [Score(self._score(text), 3) for text in continuations]

    def _score(self, text: str) -> float:
        return next(v for k, v in self.table.items() if text.endswith(k))


def scorer(table: dict[str, float], **settings: Any) -> tuple[ScoringChat, Context]:
    spec = f"test:scoring-{next(_specs)}"
    model = ScoringChat(responses=["<|ANSWER|>: Don Rendell"], table=table, calls=[])
    register_chat_model(spec, model)
    fixed = {"ranker": "none", "alpha": 0.4, "beta_text": 0.15, "selector_mode": "score"}
    return model, Context(**{"selector": spec, **fixed, **settings})


HIGH = {"Ruth": 0.9, "Ed": 0.9, "Don": 0.9}
SCORES = {"Ruth Rendell": -3.0, "Ed Rendell": -0.5, "Don Rendell": -1.0, "nil": -2.0}


def test_the_best_scored_candidate_is_selected_and_its_ranking_fills_the_top_k(scores, mention):
    model, context = scorer(SCORES, top_k=3, use_vif=False)
    scores(icr=HIGH, iav=HIGH)
    out = graph.invoke(mention, context=context)
    assert out["result"]["entity"] == "Ed Rendell"
    [attempt] = out["attempts"]
    assert attempt["match"] == "scored" and attempt["raw_answer"] == "<|ANSWER|>: Ed Rendell"
    assert attempt["scores"] == [-3.0, -0.5, -1.0]
    ranked = [e["name"] for e in out["result"]["top_k"]]
    assert ranked == ["Ed Rendell", "Don Rendell", "Ruth Rendell"]
    assert len(model.calls) == 1 and "<|ANSWER|>: nil" not in model.calls[0]


def test_a_reselection_takes_the_best_scored_candidate_not_excluded(scores, mention):
    model, context = scorer(SCORES, use_vif=False)
    scores(icr={"Ruth": 0.9, "Ed": 0.1, "Don": 0.9}, iav=HIGH)
    out = graph.invoke(mention, context=context)
    assert [(a["entity"], a["decision"]) for a in out["attempts"]] == [
        ("Ed Rendell", "icr_fail"),
        ("Don Rendell", "iav_pass"),
    ]
    assert out["result"]["entity"] == "Don Rendell"
    assert len(model.calls) == 2


def test_nil_scored_above_every_open_candidate_is_the_answer(scores, mention):
    _, context = scorer({**SCORES, "nil": -0.1}, allow_nil=True)
    scores(icr=HIGH, iav=HIGH)
    out = graph.invoke(mention, context=context)
    assert out["result"]["nil"] is True
    assert out["attempts"][0]["match"] == "nil"


def test_a_selector_that_cannot_score_generates_with_a_warning(scripted, scores, mention):
    _, context = scripted("<|ANSWER|>: Don Rendell", selector_mode="score", use_vif=False)
    scores(icr=HIGH, iav=HIGH)
    out = graph.invoke(mention, context=context)
    assert out["result"]["entity"] == "Don Rendell"
    assert out["attempts"][0]["match"] == "exact"
    assert out["warnings"].count(CANNOT_SCORE) == 1


@pytest.mark.slow
def test_the_default_local_selector_scores_real_candidates(mention):
    context = Context(selector_mode="score", ranker="none", use_vif=False, top_k=3)
    out = graph.invoke(mention, context=context)
    first = out["attempts"][0]
    assert first["match"] == "scored"
    assert len(first["scores"]) == 3 and all(s < 0 for s in first["scores"])
    ranked = sorted(range(3), key=lambda i: -first["scores"][i])
    assert first["selected"] == ranked[0]
    names = [c["name"] for c in mention["candidates"]]
    assert {e["name"] for e in out["result"]["top_k"]} == set(names)
