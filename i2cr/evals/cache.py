"""A persistent selector-response cache (SQLite), so repeated configurations re-ask nothing.

A greedy selector gives the same answer to the same prompt, so an evaluation suite whose
configurations share prompts (every ablation shares the text-only round) asks each prompt
once. The key holds the selector spec, the adapter (with a fingerprint of its files, so a
retrained adapter at the same path misses), the model's own parameters and the prompt.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, Generation

from i2cr.context import Context
from i2cr.models.adapters import resolve_adapter
from i2cr.models.cache_marker import CACHE_HIT
from i2cr.models.chat import load_selector


def adapter_fingerprint(adapter: str) -> str:
    """A content hash of a local adapter's files; the spec itself for a hub id or none."""
    path = Path(resolve_adapter(adapter)).expanduser() if adapter else None
    if path is None or not path.exists():
        return adapter
    files = sorted(p for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file())
    digest = hashlib.sha256()
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def selector_namespace(settings: Context) -> str:
    """The part of the cache key naming the selector: spec, adapter, server, token limit."""
    return "|".join(
        [
            settings.selector,
            settings.adapter,
            adapter_fingerprint(settings.adapter),
            settings.selector_base_url,
            str(settings.selector_max_tokens),
        ]
    )


class SelectorCache(BaseCache):
    """LangChain cache on an SQLite file; safe across threads and processes."""

    def __init__(self, path: str | Path, namespace: str) -> None:
        """Open (creating if needed) the cache file; `namespace` is the selector's identity."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.namespace = namespace
        self.hits = 0
        self.lookups = 0
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )

    def _key(self, prompt: str, llm_string: str) -> str:
        text = "\0".join([self.namespace, llm_string, prompt])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        """The stored generations for this prompt and model, or None."""
        with self._lock:
            self.lookups += 1
            row = self._db.execute(
                "SELECT value FROM responses WHERE key = ?", (self._key(prompt, llm_string),)
            ).fetchone()
            if row is None:
                return None
            self.hits += 1
        return [_generation(stored) for stored in json.loads(row[0])]

    def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        """Store the generations for this prompt and model."""
        value = json.dumps([_stored(generation) for generation in return_val])
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, value) VALUES (?, ?)",
                (self._key(prompt, llm_string), value),
            )

    def clear(self, **kwargs: Any) -> None:
        """Forget every stored response."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM responses")

    def close(self) -> None:
        """Close the database file."""
        with self._lock:
            self._db.close()


def _stored(generation: Generation) -> dict[str, Any]:
    """The part of a generation worth keeping: its text, and the reply's metadata if chat."""
    if isinstance(generation, ChatGeneration):
        message = generation.message
        metadata = {k: v for k, v in message.response_metadata.items() if k != CACHE_HIT}
        return {"text": generation.text, "chat": True, "metadata": metadata}
    return {"text": generation.text, "chat": False}


def _generation(stored: dict[str, Any]) -> Generation:
    if stored["chat"]:
        metadata = {**stored["metadata"], CACHE_HIT: True}
        message = AIMessage(content=stored["text"], response_metadata=metadata)
        return ChatGeneration(message=message)
    return Generation(text=stored["text"])


def attach_cache(settings: Context, path: str | Path) -> SelectorCache:
    """Make the context's selector read and fill the cache at `path`; returns the cache."""
    cache = SelectorCache(path, selector_namespace(settings))
    load_selector(settings).cache = cache
    return cache


def detach_cache(settings: Context, cache: SelectorCache) -> None:
    """Stop caching the context's selector and close the cache."""
    load_selector(settings).cache = None
    cache.close()


__all__ = [
    "SelectorCache",
    "adapter_fingerprint",
    "attach_cache",
    "detach_cache",
    "selector_namespace",
]
