"""Prefix-cache reuse, prompt-lookup greedy decoding and continuation scoring on real SmolLM2.

Every answer is checked against plain `model.generate` (greedy, token by token) and every
score against a full forward pass over prompt + continuation.
"""

from __future__ import annotations

import threading

import pytest
import torch
from helpers import CANDIDATES
from transformers import DynamicCache

from i2cr.models import decoding
from i2cr.models.decoding import greedy_decode, prompt_lookup_draft
from i2cr.models.kv_cache import PrefixCacheStore, common_prefix_length
from i2cr.models.local_chat import (
    LocalChatModel,
    answer_turn_ids,
    chat_ids,
    likely_answers,
    stop_token_ids,
    to_chat_messages,
)
from i2cr.selection import build_messages

ADAPTER = "smollm2-wikimel-emb5"
CONTEXT = "Governor Rendell signed the state budget in Harrisburg on Tuesday."
FIRST = build_messages(mention="Rendell", context=CONTEXT, candidates=CANDIDATES)
RESELECTION = build_messages(
    mention="Rendell", context=CONTEXT, candidates=CANDIDATES, excluded=["Ed Rendell"]
)
VIF_ROUND = build_messages(
    mention="Rendell", context=CONTEXT, candidates=CANDIDATES, clue="a man at a podium"
)


@pytest.fixture(scope="module")
def chat() -> LocalChatModel:
    return LocalChatModel(adapter=ADAPTER)


def prompt_of(chat: LocalChatModel, messages) -> list[int]:
    _, tokenizer = chat._load()
    return chat_ids(tokenizer, to_chat_messages(messages), generation_prompt=True)


def plain_greedy(chat: LocalChatModel, messages, max_new_tokens: int) -> list[int]:
    model, _ = chat._load()
    ids = torch.tensor([prompt_of(chat, messages)])
    with torch.inference_mode():
        output = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=max_new_tokens,
            do_sample=False,
        )
    return output[0, ids.shape[1] :].tolist()


def test_draft_copies_what_followed_the_last_ngram():
    assert prompt_lookup_draft([5, 1, 2, 3, 4, 9, 1, 2], max_tokens=2) == [3, 4]
    assert prompt_lookup_draft([7, 8, 9, 8], max_tokens=5) == [9, 8]
    assert prompt_lookup_draft([1, 2, 3], max_tokens=4) == []


def test_draft_falls_back_on_earlier_sequences_after_the_prompt():
    earlier = [(9, 1, 2, 8, 6), (1, 2, 7)]
    assert prompt_lookup_draft([4, 1, 2], max_tokens=3, earlier=earlier) == [8, 6]
    assert prompt_lookup_draft([1, 2, 5, 1, 2], max_tokens=2, earlier=earlier) == [5, 1]
    assert prompt_lookup_draft([3, 6], max_tokens=2, earlier=earlier) == []  # ends a sequence


def cache_of(length: int, value: float = 0.0) -> DynamicCache:
    tensor = torch.full((1, 1, length, 2), value)
    return DynamicCache(ddp_cache_data=[(tensor, tensor)])


def keep(store: PrefixCacheStore, ids: list[int], value: float = 0.0) -> None:
    store.keep(ids, cache_of(len(ids), value), len(ids), torch.full((1, 3), value))


def test_store_reuses_the_longest_shared_prefix_but_never_the_last_token():
    store = PrefixCacheStore(size=2)
    keep(store, [1, 2, 3, 4], 1.0)
    keep(store, [1, 2, 9], 2.0)
    reused = store.reuse([1, 2, 3, 7])
    assert reused.length == 3 and reused.logits is None
    assert reused.cache is not None and reused.cache.get_seq_length() == 3
    assert float(reused.cache.layers[0].keys[0, 0, 0, 0]) == 1.0
    assert store.reuse([1, 2, 3]).length == 2
    assert store.reuse([1, 2, 3, 4, 5], logits_needed=3).length == 2
    assert store.reuse([8, 1]) == (None, 0, None)


def test_a_prompt_read_before_exactly_gets_its_logits_back():
    store = PrefixCacheStore(size=2)
    keep(store, [1, 2, 3], 4.0)
    reused = store.reuse([1, 2, 3])
    assert reused.length == 3 and reused.cache is not None
    assert reused.logits is not None and reused.logits.tolist() == [[4.0] * 3]
    assert store.reuse([1, 2, 3], logits_needed=2).logits is None  # only one position kept


def test_store_hands_out_copies_and_forgets_the_least_recent():
    store = PrefixCacheStore(size=2)
    keep(store, [1, 2, 3])
    copy = store.reuse([1, 2, 3, 4]).cache
    assert copy is not None
    copy.layers[0].keys.fill_(5.0)
    assert float(store.reuse([1, 2, 3, 4]).cache.layers[0].keys.max()) == 0.0
    keep(store, [4, 5])
    keep(store, [6, 7])
    assert store.reuse([1, 2, 3, 4]).cache is None
    store.keep([8, 9], cache_of(1), 2, torch.zeros(1, 3))  # ids and cache disagree: not kept
    assert store.reuse([8, 9, 1]).cache is None


def test_store_is_safe_to_share_between_threads():
    store = PrefixCacheStore(size=4)

    def work(offset: int) -> None:
        for i in range(200):
            ids = [offset, i % 7, 3]
            keep(store, ids)
            reused = store.reuse([*ids, 1])
            assert reused.cache is not None and reused.cache.get_seq_length() == reused.length

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store._entries) == 4


@pytest.mark.slow
def test_reselection_and_vif_prompts_share_a_long_prefix(chat):
    first = prompt_of(chat, FIRST)
    assert common_prefix_length(first, prompt_of(chat, RESELECTION)) > 0.6 * len(first)
    assert common_prefix_length(first, prompt_of(chat, VIF_ROUND)) > 40  # the system turn


@pytest.mark.slow
@pytest.mark.parametrize("max_new_tokens", [32, 5])
def test_cached_greedy_answers_are_plain_greedy_answers(chat, max_new_tokens):
    model, tokenizer = chat._load()
    store = PrefixCacheStore()
    stops = stop_token_ids(model, tokenizer)
    for messages in (FIRST, RESELECTION, VIF_ROUND, RESELECTION):
        prompt = prompt_of(chat, messages)
        reused = store.reuse(prompt)
        answer = greedy_decode(model, prompt, store, max_new_tokens, stops)
        assert answer == plain_greedy(chat, messages, max_new_tokens)
    assert reused.length == len(prompt) and reused.logits is not None  # read nothing again


@pytest.mark.slow
def test_a_previous_answer_drafts_the_opening_of_the_next(chat, monkeypatch):
    model, tokenizer = chat._load()
    stops = stop_token_ids(model, tokenizer)
    passes: list[int] = []
    forward = decoding._logits
    monkeypatch.setattr(
        decoding, "_logits", lambda *args, **kw: passes.append(1) or forward(*args, **kw)
    )
    prompt = prompt_of(chat, RESELECTION)
    cold = greedy_decode(model, prompt, PrefixCacheStore(), 32, stops)
    cold_passes = len(passes)
    store = PrefixCacheStore()
    greedy_decode(model, prompt_of(chat, VIF_ROUND), store, 32, stops)
    passes.clear()
    assert greedy_decode(model, prompt, store, 32, stops) == cold
    assert len(passes) < cold_passes


def count_passes(monkeypatch) -> list[int]:
    passes: list[int] = []
    forward = decoding._logits
    monkeypatch.setattr(
        decoding, "_logits", lambda *args, **kw: passes.append(1) or forward(*args, **kw)
    )
    return passes


def answer_hints(chat: LocalChatModel, messages, answers: list[str]) -> list[list[int]]:
    _, tokenizer = chat._load()
    turns = to_chat_messages(messages)
    prompt = chat_ids(tokenizer, turns, generation_prompt=True)
    return [answer_turn_ids(tokenizer, turns, prompt, answer) for answer in answers]


@pytest.mark.slow
def test_hinted_answers_are_plain_greedy_answers_and_a_right_hint_takes_one_pass(chat, monkeypatch):
    model, tokenizer = chat._load()
    stops = stop_token_ids(model, tokenizer)
    passes = count_passes(monkeypatch)
    for messages in (FIRST, RESELECTION):
        prompt = prompt_of(chat, messages)
        expected = plain_greedy(chat, messages, 32)
        right = [tokenizer.decode(expected, skip_special_tokens=True)]
        wrong = [f"<|ANSWER|>: {c['name']}" for c in CANDIDATES if c["name"] not in right[0]]
        for hints in (right + wrong, wrong, wrong + right):
            hinted = answer_hints(chat, messages, hints)
            assert greedy_decode(model, prompt, PrefixCacheStore(), 32, stops, hinted) == expected
        passes.clear()
        hinted = answer_hints(chat, messages, right)
        assert greedy_decode(model, prompt, PrefixCacheStore(), 32, stops, hinted) == expected
        assert len(passes) == 1


@pytest.mark.slow
def test_the_chat_model_drafts_the_likely_answers_it_is_given(chat, monkeypatch):
    passes = count_passes(monkeypatch)
    plain = LocalChatModel(adapter=ADAPTER, prefix_cache_size=0).invoke(FIRST).content
    unhinted = len(passes)
    passes.clear()
    with likely_answers(["<|ANSWER|>: Don Rendell", plain]):
        hinted = LocalChatModel(adapter=ADAPTER, prefix_cache_size=0).invoke(FIRST).content
    assert hinted == plain
    assert len(passes) < unhinted


@pytest.mark.slow
def test_chat_model_answers_as_plain_greedy_decoding(chat):
    _, tokenizer = chat._load()
    for messages in (FIRST, RESELECTION):
        reply = chat.invoke(messages)
        expected = plain_greedy(chat, messages, chat.max_new_tokens)
        assert reply.content == tokenizer.decode(expected, skip_special_tokens=True).strip()
        assert reply.response_metadata["completion_tokens"] == len(expected)
    assert reply.content.startswith("<|ANSWER|>:")


@pytest.mark.slow
def test_scores_match_a_full_forward_pass_per_continuation():
    chat = LocalChatModel(adapter=ADAPTER, precision="float32")
    model, tokenizer = chat._load()
    answers = [f"<|ANSWER|>: {c['name']}" for c in CANDIDATES] + ["<|ANSWER|>: Rendell Jr."]
    scores = chat.score_continuations(RESELECTION, answers)
    chat_turns = to_chat_messages(RESELECTION)
    prompt = chat_ids(tokenizer, chat_turns, generation_prompt=True)
    for answer, score in zip(answers, scores, strict=True):
        turn = answer_turn_ids(tokenizer, chat_turns, prompt, answer)
        assert turn[-1] == tokenizer.eos_token_id and score.tokens == len(turn)
        with torch.inference_mode():
            logits = model(input_ids=torch.tensor([prompt + turn])).logits[0].float()
        steps = logits[len(prompt) - 1 : -1].log_softmax(-1)
        naive = float(steps[torch.arange(len(turn)), torch.tensor(turn)].sum())
        assert score.log_prob == pytest.approx(naive, abs=2e-3)
    # scoring again, now on the cached prompt, gives the same numbers
    again = chat.score_continuations(RESELECTION, answers)
    assert [s.log_prob for s in again] == pytest.approx([s.log_prob for s in scores], abs=2e-3)
