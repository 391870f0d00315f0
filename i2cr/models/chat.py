"""Selector chat models, chosen by one string: 'local:<base>' or any init_chat_model spec."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from langchain_core.language_models import BaseChatModel

from i2cr.context import Context

LOCAL_PREFIX = "local:"

_registered: dict[str, BaseChatModel] = {}


def register_chat_model(spec: str, model: BaseChatModel) -> None:
    """Make `model` the selector for `Context(selector=spec)` (custom or test models)."""
    _registered[spec] = model


def load_selector(context: Context) -> BaseChatModel:
    """The selector chat model the context names, created once per setting."""
    if context.selector in _registered:
        return _registered[context.selector]
    return _load(
        context.selector,
        context.adapter,
        context.selector_base_url,
        context.selector_max_tokens,
    )


@lru_cache(maxsize=8)
def _load(spec: str, adapter: str, base_url: str, max_tokens: int) -> BaseChatModel:
    if spec.startswith(LOCAL_PREFIX):
        from i2cr.models.local_chat import LocalChatModel

        return LocalChatModel(
            base=spec.removeprefix(LOCAL_PREFIX), adapter=adapter, max_new_tokens=max_tokens
        )
    from langchain.chat_models import init_chat_model

    kwargs: dict[str, Any] = {"temperature": 0, "max_tokens": max_tokens}
    if base_url:
        kwargs["base_url"] = base_url
    try:
        return init_chat_model(spec, **kwargs)
    except (ImportError, ValueError) as err:
        raise ValueError(f"cannot create selector {spec!r}: {err}") from err
