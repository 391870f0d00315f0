"""Selector chat models, chosen by one string: 'local:<base>' or any init_chat_model spec."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.rate_limiters import InMemoryRateLimiter

from i2cr.context import Context
from i2cr.models.endpoint import EndpointRefused, check_listening
from i2cr.models.precision import Precision
from i2cr.models.scoring import answer_for, score_candidates

LOCAL_PREFIX = "local:"
OPENAI_PREFIX = "openai:"
UNUSED_API_KEY = "unused"

_registered: dict[str, BaseChatModel] = {}

T = TypeVar("T")


def register_chat_model(spec: str, model: BaseChatModel) -> None:
    """Make `model` the selector for `Context(selector=spec)` (custom or test models)."""
    _registered[spec] = model


def registered_chat_model(spec: str) -> BaseChatModel | None:
    """The model registered for `spec`, if any (batch engines hand it to their workers)."""
    return _registered.get(spec)


def load_selector(settings: Context) -> BaseChatModel:
    """The selector chat model the context names, created once per setting."""
    if settings.selector in _registered:
        return _registered[settings.selector]
    return _load(
        settings.selector,
        settings.adapter,
        settings.selector_base_url,
        settings.selector_max_tokens,
        settings.precision,
        RemoteLimits(
            settings.selector_timeout_s,
            settings.selector_retries,
            settings.selector_requests_per_second,
        ),
    )


@dataclass(frozen=True)
class RemoteLimits:
    """How a remote selector's requests are timed out, retried and paced."""

    timeout_s: float
    retries: int
    requests_per_second: float

    def model_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of a LangChain chat model carrying these limits.

        The provider's SDK retries (the OpenAI SDK: exponential backoff with jitter, honouring
        retry-after); the rate limiter is the model's, so every thread using it shares it.
        """
        kwargs: dict[str, Any] = {"timeout": self.timeout_s, "max_retries": self.retries}
        if self.requests_per_second > 0:
            kwargs["rate_limiter"] = InMemoryRateLimiter(
                requests_per_second=self.requests_per_second,
                check_every_n_seconds=min(0.1, 0.5 / self.requests_per_second),
                max_bucket_size=1,
            )
        return kwargs


@lru_cache(maxsize=8)
def _load(
    spec: str,
    adapter: str,
    base_url: str,
    max_tokens: int,
    precision: Precision,
    limits: RemoteLimits,
) -> BaseChatModel:
    if spec.startswith(LOCAL_PREFIX):
        from i2cr.models.local_chat import LocalChatModel

        return LocalChatModel(
            base=spec.removeprefix(LOCAL_PREFIX),
            adapter=adapter,
            precision=precision,
            max_new_tokens=max_tokens,
        )
    from langchain.chat_models import init_chat_model

    kwargs: dict[str, Any] = {"temperature": 0, "max_tokens": max_tokens, **limits.model_kwargs()}
    if base_url:
        kwargs["base_url"] = base_url
        if spec.startswith(OPENAI_PREFIX) and not os.environ.get("OPENAI_API_KEY"):
            # Self-hosted OpenAI-compatible servers (vLLM, transformers serve) take any key.
            kwargs["api_key"] = UNUSED_API_KEY
    try:
        return init_chat_model(spec, **kwargs)
    except Exception as err:  # each provider's SDK has its own errors (openai: no key)
        raise SelectorError(f"cannot create selector {spec!r}: {_first_line(err)}") from err


class SelectorError(ValueError):
    """The selector cannot be created or answer: a missing or refused key, an unreachable URL.

    A ValueError, as the settings (key, URL, model name) are what is wrong.
    """


def ask_selector(
    settings: Context, messages: list[BaseMessage], likely_names: Sequence[str] = ()
) -> BaseMessage:
    """The selector's reply; a remote selector's failure is one SelectorError line.

    `likely_names` (most likely first) are drafted first by a local selector's greedy
    decoding: a hint of speed, never of the answer.
    """
    model = load_selector(settings)
    if not likely_names or not settings.selector.startswith(LOCAL_PREFIX):
        return _guarded(settings, lambda: model.invoke(messages))
    from i2cr.models.local_chat import likely_answers

    with likely_answers([answer_for(name) for name in likely_names]):
        return model.invoke(messages)


def score_with_selector(
    settings: Context, messages: list[BaseMessage], names: Sequence[str]
) -> list[float] | None:
    """The selector's log-probability of answering each name (see `score_candidates`).

    None when the selector cannot score; a remote selector's failure is one SelectorError line.
    """
    model = load_selector(settings)
    return _guarded(settings, lambda: score_candidates(model, messages, names))


def _guarded(settings: Context, call: Callable[[], T]) -> T:
    if settings.selector.startswith(LOCAL_PREFIX) or settings.selector in _registered:
        return call()
    try:
        if settings.selector_base_url:
            check_listening(settings.selector_base_url, settings.selector_timeout_s)
        return call()
    except Exception as err:  # any provider SDK's error, with the cause kept
        raise SelectorError(remote_failure(settings, err)) from err


def remote_failure(settings: Context, err: Exception) -> str:
    """What went wrong with a remote selector, in one line that says what to check."""
    spec, status = settings.selector, getattr(err, "status_code", None)
    if isinstance(err, EndpointRefused):
        return (
            f"cannot reach selector {spec!r} at {settings.selector_base_url}: {err}; check "
            "selector_base_url and that the server runs"
        )
    if status in (401, 403):
        return (
            f"selector {spec!r} refused the API key (HTTP {status}: {_first_line(err)}); "
            "check the provider's key (e.g. OPENAI_API_KEY)"
        )
    if status == 404:
        return (
            f"selector {spec!r}: the server has no such model or route (HTTP 404: "
            f"{_first_line(err)}); check the model name in selector and selector_base_url"
        )
    if status is not None:
        return f"selector {spec!r} answered HTTP {status}: {_first_line(err)}"
    kind = type(err).__name__
    if "Connection" in kind or "Timeout" in kind:
        where = settings.selector_base_url or "the provider's default URL"
        return f"cannot reach selector {spec!r} at {where}: {kind}: {_first_line(err)}"
    return f"selector {spec!r} failed: {kind}: {_first_line(err)}"


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [""])[0]
