"""Key/value caches of recent prompts, so that a prompt sharing their start reads only the rest.

A re-selection after ICR fails repeats the previous prompt up to the exclusion notes, and every
prompt starts with the same system turn: their common token prefix need not be read again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer


def common_prefix_length(first: Sequence[int], second: Sequence[int]) -> int:
    """How many leading token ids the two sequences share."""
    shared = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        shared += 1
    return shared


def is_plain_cache(cache: object) -> bool:
    """Whether `cache` is a DynamicCache of full-attention layers only (cut anywhere safely)."""
    return isinstance(cache, DynamicCache) and all(
        type(layer) is DynamicLayer for layer in cache.layers
    )


def cache_prefix(cache: DynamicCache, length: int, batch: int = 1) -> DynamicCache:
    """A new cache holding the first `length` positions of `cache`, repeated over `batch` rows.

    The tensors are copied, so the result may grow without touching `cache`.
    """
    return DynamicCache(
        ddp_cache_data=[
            (
                keys[:, :, :length].expand(batch, -1, -1, -1),
                values[:, :, :length].expand(batch, -1, -1, -1),
            )
            for keys, values, _ in cache
        ]
    )


class Reused(NamedTuple):
    """What a store has for a prompt: a cache of its first `length` tokens (None: nothing).

    `logits` are the stored logits after the prompt's last tokens when the prompt was read
    before exactly as it is: the caller then need not read anything.
    """

    cache: DynamicCache | None
    length: int
    logits: torch.Tensor | None = None


@dataclass
class _Entry:
    cache: DynamicCache
    read_up_to: int  # the prompt's length when it was read; `logits` come after its last tokens
    logits: torch.Tensor


class PrefixCacheStore:
    """The token ids and key/value cache of the last few prompts; safe to share between threads.

    Stored caches are never changed: `reuse` hands out copies. A prompt read again exactly as
    before gets the logits it got then, so that a repeated greedy call answers the same: in
    bfloat16, a prompt read partly from the cache can round differently from a fresh read.
    """

    def __init__(self, size: int = 4) -> None:
        """Keep at most `size` prompts, dropping the least recently used."""
        self._size = size
        self._entries: OrderedDict[tuple[int, ...], _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def reuse(self, ids: Sequence[int], logits_needed: int = 1) -> Reused:
        """A copy of the cache of the longest stored prefix of `ids`, and that prefix's length.

        Without stored logits for all of `ids`, at least the last `logits_needed` tokens are
        left out, so that the caller's forward pass yields their logits.
        """
        with self._lock:
            best_key, best, exact = None, 0, None
            for key, entry in self._entries.items():
                shared = common_prefix_length(key, ids)
                if shared == len(ids) == entry.read_up_to and len(entry.logits) >= logits_needed:
                    best_key, best, exact = key, shared, entry.logits[-logits_needed:]
                    break
                shared = min(shared, len(ids) - logits_needed)
                if shared > best:
                    best_key, best = key, shared
            if best_key is None:
                return Reused(None, 0)
            self._entries.move_to_end(best_key)
            stored = self._entries[best_key].cache
        return Reused(cache_prefix(stored, best), best, exact)

    def sequences(self) -> list[tuple[int, ...]]:
        """The token ids of the stored prompts (with their answers), the most recent first."""
        with self._lock:
            return list(reversed(self._entries))

    def keep(
        self, ids: Sequence[int], cache: DynamicCache, read_up_to: int, logits: torch.Tensor
    ) -> None:
        """Store `cache`, which holds the keys and values of exactly the tokens `ids`.

        `logits` are the ones read after the last tokens of `ids[:read_up_to]`, the prompt.
        The store owns `cache` from now on: the caller must not change it.
        """
        if not is_plain_cache(cache) or cache.get_seq_length() != len(ids):
            return
        with self._lock:
            self._entries[tuple(ids)] = _Entry(cache, read_up_to, logits)
            self._entries.move_to_end(tuple(ids))
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
