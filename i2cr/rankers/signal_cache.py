"""A persistent cache of signal scores (SQLite), so an evaluation scores each pair once.

Every signal scores a candidate from the query and that candidate alone, so a score is keyed
by the signal, the embedder, the query's texts and the candidate's: the same pair in another
candidate order, another configuration or another run reads the stored score. Evaluations
attach one (`attach_signal_cache`); nothing is cached on disk otherwise.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from i2cr.datasets.sample import Sample
from i2cr.state import Candidate


class SignalCache:
    """Scores by pair key in an SQLite file; safe across threads and processes."""

    def __init__(self, path: str | Path) -> None:
        """Open (creating if needed) the cache file."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.hits = self.lookups = 0
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS scores (key TEXT PRIMARY KEY, value REAL NOT NULL)"
            )

    def get(self, keys: list[str]) -> list[float] | None:
        """The stored scores of every key, or None when any is missing."""
        with self._lock:
            self.lookups += 1
            marks = ",".join("?" * len(keys))
            rows = self._db.execute(
                f"SELECT key, value FROM scores WHERE key IN ({marks})", keys
            ).fetchall()
            found = dict(rows)
            if any(key not in found for key in keys):
                return None
            self.hits += 1
        return [float(found[key]) for key in keys]

    def put(self, items: Iterable[tuple[str, float]]) -> None:
        """Store scores by key."""
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO scores (key, value) VALUES (?, ?)", items)

    def close(self) -> None:
        """Close the database file."""
        with self._lock:
            self._db.close()


_attached: list[SignalCache] = []


def attach_signal_cache(path: str | Path) -> SignalCache:
    """Make every signal read and fill the cache at `path` in this process."""
    cache = SignalCache(path)
    _attached[:] = [cache]
    return cache


def detach_signal_cache() -> None:
    """Stop caching signals and close the cache."""
    for cache in _attached:
        cache.close()
    _attached.clear()


def pair_key(signal: str, embedder: str, query: Sample, candidate: Candidate) -> str:
    """The key of one (query, candidate) score of a signal."""
    text = json.dumps(
        [
            signal,
            embedder,
            query.mention,
            query.context,
            sorted(query.clues.items()),
            candidate["name"],
            candidate.get("desc", ""),
        ]
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cached_scores(
    signal: str, embedder: str, query: Sample, compute: Callable[[], list[float]]
) -> list[float]:
    """The signal's scores from the attached cache, else computed (and stored)."""
    if not _attached or not query.candidates:
        return compute()
    cache = _attached[0]
    keys = [pair_key(signal, embedder, query, c) for c in query.candidates]
    stored = cache.get(keys)
    if stored is not None:
        return stored
    scores = compute()
    cache.put(zip(keys, scores, strict=True))
    return scores
