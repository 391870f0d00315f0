"""One-pass candidate scoring (`selector_mode="score"`): how likely the selector answers each name.

The answer scored is the one the prompt asks for (`<|ANSWER|>: <name>`, see `i2cr.prompts`).
A local selector scores every candidate's full answer exactly (`LocalChatModel`). An
OpenAI-compatible chat model answers once with `logprobs`: a name gets the log-probability of
the generated tokens it shares with the answer, plus that of the token where it leaves it
(from the top 20 alternatives; one not listed gets the smallest listed value, a bound).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Protocol, runtime_checkable

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from i2cr.prompts import ANSWER_TAG
from i2cr.selection import display_name

TOP_LOGPROBS = 20


@runtime_checkable
class ContinuationScorer(Protocol):
    """A chat model that scores answers exactly, such as `LocalChatModel`."""

    def score_continuations(
        self, messages: Sequence[BaseMessage], continuations: Sequence[str]
    ) -> Sequence[Any]:
        """Each continuation's score, with its summed log-probability as `log_prob`."""
        ...


def answer_for(name: str) -> str:
    """The answer line the selection prompt asks for (as fine-tuning trains it), naming `name`."""
    return f"{ANSWER_TAG} {display_name(name)}"


def score_candidates(
    selector: BaseChatModel, messages: Sequence[BaseMessage], names: Sequence[str]
) -> list[float] | None:
    """The selector's log-probability of answering each candidate name to `messages`.

    Higher is better; one float per name, in order. Local selectors: log P(answer line and
    end of turn), summed over its tokens. OpenAI chat models: see the module docstring.
    None when the selector cannot score (another backend, or a server that returns no
    logprobs): the caller generates an answer instead.
    """
    if isinstance(selector, ContinuationScorer):
        scores = selector.score_continuations(messages, [answer_for(n) for n in names])
        return [float(score.log_prob) for score in scores]
    if _is_openai_chat(selector):
        reply = selector.invoke(list(messages), logprobs=True, top_logprobs=TOP_LOGPROBS)
        tokens = (reply.response_metadata.get("logprobs") or {}).get("content")
        if not tokens:
            return None
        return [path_log_prob(tokens, answer_for(n)) for n in names]
    return None


def _is_openai_chat(selector: BaseChatModel) -> bool:
    # A ChatOpenAI exists only once langchain_openai is imported: no import needed to tell.
    module = sys.modules.get("langchain_openai")
    return module is not None and isinstance(selector, module.ChatOpenAI)


def path_log_prob(tokens: Sequence[dict[str, Any]], target: str) -> float:
    """Log-probability (a bound past the generated path) that the answer is `target`.

    `tokens` are an OpenAI response's `logprobs.content`: each generated token with its
    `logprob` and `top_logprobs`. Generated tokens that spell the start of `target` count;
    at the first one that does not, the best listed alternative that continues `target` (or,
    once `target` is spelled, ends the answer) counts, and scoring stops there.
    """
    total, spelled = 0.0, ""
    for step in tokens:
        token = step["token"]
        if spelled == target:
            if _ends_answer(token):
                return total + step["logprob"]
            return total + _alternatives(step, _ends_answer)
        grown = spelled + token
        if token and grown != target and grown.rstrip() == target:
            return total + step["logprob"]
        if token and target.startswith(grown):
            total, spelled = total + step["logprob"], grown
            continue
        return total + _alternatives(step, partial(_continues, spelled, target=target))
    return total if spelled == target else -math.inf


def _alternatives(step: dict[str, Any], fits: Callable[[str], bool]) -> float:
    """The best listed log-probability of a token that fits, else the smallest listed one."""
    listed = [alt["logprob"] for alt in step.get("top_logprobs") or [step]]
    fitting = [alt["logprob"] for alt in step.get("top_logprobs") or [] if fits(alt["token"])]
    return max(fitting) if fitting else min(listed)


def _continues(spelled: str, token: str, target: str) -> bool:
    grown = spelled + token
    return bool(token) and (target.startswith(grown) or grown.rstrip() == target)


def _ends_answer(token: str) -> bool:
    return not token.strip() or token.lstrip(" ")[0] in "\n."
