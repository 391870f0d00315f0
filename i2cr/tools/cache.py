"""Image-to-text outputs kept per image content hash: in memory, and on disk when configured."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple


class ClueKey(NamedTuple):
    """What a tool output depends on: the image bytes, the tool, its provider and settings."""

    content_hash: str
    tool: str
    provider: str
    settings: str = ""

    @property
    def entry(self) -> str:
        """The key of this output inside its image's record."""
        return f"{self.tool}/{self.provider}/{self.settings}"


class ClueCache:
    """Tool outputs by `ClueKey`; a disk directory keeps them across runs (one JSON per image)."""

    def __init__(self, directory: str | Path | None = None, max_items: int = 4096) -> None:
        self.directory = Path(directory) if directory else None
        self.max_items = max_items
        self._memory: OrderedDict[ClueKey, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: ClueKey) -> str | None:
        """The stored output, or None when this image was never run through this tool."""
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key]
        if self.directory is None:
            return None
        text = self._read_record(key.content_hash).get(key.entry)
        if text is not None:
            self._remember(key, text)
        return text

    def put(self, key: ClueKey, text: str) -> None:
        """Store an output in memory and, when configured, on disk."""
        self._remember(key, text)
        if self.directory is None:
            return
        with self._lock:
            record = self._read_record(key.content_hash)
            record[key.entry] = text
            path = self._record_path(key.content_hash)
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "w", encoding="utf-8", dir=path.parent, suffix=".tmp", delete=False
            ) as tmp:
                json.dump(record, tmp, ensure_ascii=False, indent=1)
            os.replace(tmp.name, path)

    def clear_memory(self) -> None:
        """Forget the in-memory outputs (the disk copy stays)."""
        with self._lock:
            self._memory.clear()

    def _remember(self, key: ClueKey, text: str) -> None:
        with self._lock:
            self._memory[key] = text
            self._memory.move_to_end(key)
            while len(self._memory) > self.max_items:
                self._memory.popitem(last=False)

    def _record_path(self, content_hash: str) -> Path:
        assert self.directory is not None
        return self.directory / content_hash[:2] / f"{content_hash}.json"

    def _read_record(self, content_hash: str) -> dict[str, str]:
        path = self._record_path(content_hash)
        if not path.is_file():
            return {}
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return {}  # a damaged cache file only costs a recomputation
        return record if isinstance(record, dict) else {}


@lru_cache(maxsize=8)
def clue_cache(directory: str = "") -> ClueCache:
    """The process-wide cache for a directory ('' keeps outputs in memory only)."""
    return ClueCache(directory or None)
