"""`score_candidates`: the seam of selector_mode="score", for local and OpenAI-compatible chats."""

from __future__ import annotations

import math

import pytest
from helpers import CANDIDATES
from langchain_core.language_models import FakeListChatModel
from langchain_openai import ChatOpenAI

from i2cr.finetune.data import answer_text
from i2cr.models.local_chat import LocalChatModel
from i2cr.models.scoring import answer_for, path_log_prob, score_candidates
from i2cr.selection import build_messages, parse_answer
from i2cr.testing.openai_stub import Reply, completion, serve

MESSAGES = build_messages(
    mention="Rendell",
    context="Governor Rendell signed the state budget in Harrisburg on Tuesday.",
    candidates=CANDIDATES,
)
NAMES = [c["name"] for c in CANDIDATES]


def step(token: str, logprob: float, *alternatives: tuple[str, float]) -> dict:
    listed = [{"token": token, "logprob": logprob}] + [
        {"token": t, "logprob": lp} for t, lp in alternatives
    ]
    return {"token": token, "logprob": logprob, "top_logprobs": listed}


# "<|ANSWER|>: Ed Rendell" as a server might split it, with alternatives at the name.
ANSWER_TOKENS = [
    step("<|ANSWER|>:", -0.1),
    step(" Ed", -0.5, (" Ruth", -1.5), (" Don", -3.0)),
    step(" Rendell", -0.2, (" Ren", -4.0)),
    step("\n", -0.3, (" Jr", -2.0)),
]


def test_answer_lines_are_the_ones_fine_tuning_trains():
    assert answer_for("Ed_Rendell") == answer_text("Ed_Rendell") == "<|ANSWER|>: Ed Rendell"


def test_the_generated_name_scores_its_path_and_the_others_where_they_leave_it():
    assert path_log_prob(ANSWER_TOKENS, "<|ANSWER|>: Ed Rendell") == pytest.approx(-1.1)
    assert path_log_prob(ANSWER_TOKENS, "<|ANSWER|>: Ruth Rendell") == pytest.approx(-1.6)
    assert path_log_prob(ANSWER_TOKENS, "<|ANSWER|>: Ed Rendell Jr") == pytest.approx(-2.8)
    # not among the alternatives: bounded by the least likely one listed
    assert path_log_prob(ANSWER_TOKENS, "<|ANSWER|>: Mike Rendell") == pytest.approx(-3.1)
    # a name the answer runs past: it must end where the answer goes on
    assert path_log_prob(ANSWER_TOKENS, "<|ANSWER|>: Ed") == pytest.approx(-0.6 + -4.0)
    assert path_log_prob(ANSWER_TOKENS[:3], "<|ANSWER|>: Ed Rendell") == pytest.approx(-0.8)
    assert path_log_prob(ANSWER_TOKENS[:2], "<|ANSWER|>: Ed Rendell") == -math.inf


def test_a_chat_model_that_cannot_score_gets_none():
    assert score_candidates(FakeListChatModel(responses=["x"]), MESSAGES, NAMES) is None


def remote_selector(base_url: str) -> ChatOpenAI:
    return ChatOpenAI(model="stub", base_url=base_url, api_key="none", temperature=0)


def test_a_server_without_logprobs_gets_none():
    with serve(lambda attempt: Reply()) as server:
        assert score_candidates(remote_selector(server.base_url), MESSAGES, NAMES) is None


def test_a_server_with_logprobs_ranks_the_names():
    body = completion("<|ANSWER|>: Ed Rendell")
    body["choices"][0]["logprobs"] = {"content": ANSWER_TOKENS, "refusal": None}
    with serve(lambda attempt: Reply(body=body)) as server:
        scores = score_candidates(remote_selector(server.base_url), MESSAGES, NAMES)
    assert scores is not None
    assert scores[1] == pytest.approx(-1.1)  # Ed Rendell, the answer
    assert scores[0] == pytest.approx(-1.6) and scores[2] == pytest.approx(-3.1)


@pytest.mark.slow
def test_local_scores_are_the_answer_lines_log_probabilities():
    chat = LocalChatModel(adapter="smollm2-wikimel-emb5", precision="float32")
    scores = score_candidates(chat, MESSAGES, NAMES)
    assert scores is not None and all(s < 0 for s in scores)
    expected = chat.score_continuations(MESSAGES, [answer_text(n) for n in NAMES])
    assert scores == pytest.approx([s.log_prob for s in expected], abs=1e-3)
    generated = parse_answer(str(chat.invoke(MESSAGES).content), CANDIDATES, allow_nil=False)
    assert max(range(3), key=scores.__getitem__) == generated.index
