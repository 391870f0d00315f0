"""Greedy decoding and continuation scoring for a local causal LM, on cached prompt prefixes.

Both read a prompt once, starting after its longest prefix held in a `PrefixCacheStore`.
Greedy decoding drafts the next tokens from the caller's likely completions (hints), from
the prompt itself and from the store's recent prompts with their answers (prompt-lookup
decoding: a selector's answer copies a candidate name from its prompt, and opens as its
previous answers did) and keeps the drafted tokens that the model's own greedy choice
confirms, so the answer is the same as token-by-token greedy decoding, in a few forward
passes instead of one per token.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import torch
from transformers import DynamicCache

from i2cr.models.kv_cache import PrefixCacheStore, cache_prefix, common_prefix_length

DRAFT_TOKENS = 10
DRAFT_NGRAM = 3


def prompt_lookup_draft(
    ids: Sequence[int],
    max_tokens: int,
    ngram: int = DRAFT_NGRAM,
    earlier: Sequence[Sequence[int]] = (),
) -> list[int]:
    """The tokens that followed the latest earlier occurrence of the last n-gram of `ids`.

    The longest n-gram (`ngram` tokens down to one) found earlier wins; it is looked for in
    `ids`, then in the `earlier` sequences in their order (a previous prompt with its answer
    drafts an answer's opening, which the prompt holds nowhere). [] for none.
    """
    # Each source with where a match must end by: in `ids`, before its last n-gram.
    sources = [(ids, len(ids) - 1), *((sequence, len(sequence)) for sequence in earlier)]
    for size in range(min(ngram, len(ids) - 1), 0, -1):
        tail = list(ids[-size:])
        for source, end in sources:
            for start in range(end - size, -1, -1):
                if source[start] == tail[0] and list(source[start : start + size]) == tail:
                    follow = start + size
                    draft = list(source[follow : follow + max_tokens])
                    if draft:
                        return draft
    return []


def _logits(model: Any, ids: Sequence[int], cache: DynamicCache, keep: int = 0) -> torch.Tensor:
    """Logits of the model after each of `ids` (the last `keep` only, 0: all), growing `cache`."""
    tensor = torch.tensor([list(ids)], device=model.device)
    return model(input_ids=tensor, cache=cache, use_cache=True, logits_to_keep=keep).logits[0]


def _read(
    model: Any, ids: Sequence[int], store: PrefixCacheStore, keep: int = 1
) -> tuple[torch.Tensor, DynamicCache]:
    """The logits after each of the last `keep` tokens of `ids`, and a cache of all of `ids`.

    Only the tokens after the longest stored prefix are read, and at least `keep` of them,
    unless `ids` were read before exactly so.
    """
    reused = store.reuse(ids, logits_needed=keep)
    if reused.cache is not None and reused.logits is not None:
        return reused.logits, reused.cache
    cache = reused.cache or DynamicCache(config=model.config)
    return _logits(model, ids[reused.length :], cache, keep=keep), cache


def _token_log_probs(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """The log-probability of ids[..., j] under logits[..., j, :], in float32."""
    return logits.float().log_softmax(-1).gather(-1, ids[..., None])[..., 0]


def _finished(completion: Sequence[int], stop_ids: Collection[int], max_new_tokens: int) -> bool:
    return bool(completion) and (completion[-1] in stop_ids or len(completion) >= max_new_tokens)


def hinted_draft(
    completion: Sequence[int], hints: Sequence[Sequence[int]], max_tokens: int
) -> list[int]:
    """The rest of the first hint that starts with `completion` (at most `max_tokens`), or []."""
    done = len(completion)
    for hint in hints:
        if len(hint) > done and list(hint[:done]) == list(completion):
            return list(hint[done : done + max_tokens])
    return []


def _accept(
    completion: list[int],
    draft: Sequence[int],
    predicted: Sequence[int],
    cache: DynamicCache,
    stop_ids: Collection[int],
    max_new_tokens: int,
) -> None:
    """Extend `completion` by the drafted tokens that greedy choices confirm, and one more.

    The rejected drafted tokens are dropped from `cache`.
    """
    accepted = common_prefix_length(draft, predicted)
    if accepted < len(draft):
        cache.crop(accepted - len(draft))
    for token in [*draft[:accepted], predicted[accepted]]:
        completion.append(token)
        if _finished(completion, stop_ids, max_new_tokens):
            break


def greedy_decode(
    model: Any,
    prompt: Sequence[int],
    store: PrefixCacheStore,
    max_new_tokens: int,
    stop_ids: Collection[int],
    hints: Sequence[Sequence[int]] = (),
) -> list[int]:
    """The greedy completion of `prompt`, ending with a stop token or at `max_new_tokens`.

    `hints` are likely completions (a selector's answer naming each candidate), drafted first:
    the first is read with the prompt, so an answer that is a hint may take one forward pass.
    The prompt and completion's cache is left in `store` for the next call.
    """
    earlier = store.sequences()
    completion: list[int] = []
    with torch.inference_mode():
        reused = store.reuse(prompt)
        if reused.cache is not None and reused.logits is not None:  # read before exactly so
            cache, prompt_logits = reused.cache, reused.logits
            completion.append(int(prompt_logits[-1].argmax()))
        else:
            cache = reused.cache or DynamicCache(config=model.config)
            draft = hinted_draft([], hints, max_new_tokens - 1)
            logits = _logits(model, [*prompt[reused.length :], *draft], cache, keep=len(draft) + 1)
            prompt_logits = logits[:1]
            _accept(completion, draft, logits.argmax(-1).tolist(), cache, stop_ids, max_new_tokens)
        while not _finished(completion, stop_ids, max_new_tokens):
            budget = max_new_tokens - len(completion)
            draft = hinted_draft(completion, hints, budget) or prompt_lookup_draft(
                [*prompt, *completion], min(DRAFT_TOKENS, budget), earlier=earlier
            )
            predicted = _logits(model, [completion[-1], *draft], cache).argmax(-1).tolist()
            _accept(completion, draft, predicted, cache, stop_ids, max_new_tokens)
        sequence = [*prompt, *completion]
        excess = cache.get_seq_length() - len(sequence)
        if excess > 0:
            cache.crop(-excess)
        store.keep(sequence[: cache.get_seq_length()], cache, len(prompt), prompt_logits)
    return completion


def continuation_log_probs(
    model: Any,
    prompt: Sequence[int],
    continuations: Sequence[Sequence[int]],
    store: PrefixCacheStore,
) -> list[float]:
    """The log-probability of each continuation (token ids) after `prompt`, summed over tokens.

    One forward pass reads the prompt (after its cached prefix) and the tokens that every
    continuation starts with (the answer tag); one batched pass reads the rest of each
    continuation on copies of that cache, padded on the right and masked.
    """
    if not continuations:
        return []
    if any(not ids for ids in continuations):
        raise ValueError("every continuation needs at least one token")
    shared = list(continuations[0][: min(len(ids) for ids in continuations) - 1])
    for ids in continuations[1:]:
        shared = shared[: common_prefix_length(shared, ids)]
    head = [*prompt, *shared]
    tails = [ids[len(shared) :] for ids in continuations]
    rows, width = len(tails), max(len(ids) for ids in tails)
    with torch.inference_mode():
        head_logits, cache = _read(model, head, store, keep=len(shared) + 1)
        shared_log_prob = float(
            _token_log_probs(head_logits[:-1], torch.tensor(shared, device=model.device)).sum()
        )
        batch_cache = cache_prefix(cache, len(head), batch=rows)
        store.keep(head, cache, len(head), head_logits)
        padded = torch.zeros(rows, width, dtype=torch.long, device=model.device)
        valid = torch.zeros(rows, width, dtype=torch.bool, device=model.device)
        for row, ids in enumerate(tails):
            padded[row, : len(ids)] = torch.tensor(list(ids))
            valid[row, : len(ids)] = True
        seen = torch.ones(rows, len(head), dtype=torch.long, device=model.device)
        mask = torch.cat([seen, valid.long()], dim=1)
        logits = model(input_ids=padded, attention_mask=mask, cache=batch_cache).logits
        # The logits before token j come from position j - 1; before token 0, from the head.
        before = torch.cat([head_logits[-1:].expand(rows, 1, -1), logits[:, :-1]], dim=1)
        tail_log_probs = (_token_log_probs(before, padded) * valid).sum(-1)
        return (tail_log_probs + shared_log_prob).tolist()
