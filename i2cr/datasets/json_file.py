"""Reading a dataset's JSON file, keeping every row of an id that appears more than once."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from i2cr.errors import InputError


class RepeatedKeys(dict[str, Any]):
    """A JSON object naming a key more than once: the last values, and every pair in order."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        """Keep `pairs` beside the dict json would have made of them."""
        super().__init__(pairs)
        self.pairs = pairs


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return RepeatedKeys(pairs) if len({key for key, _ in pairs}) < len(pairs) else dict(pairs)


def object_items(rows: dict[str, Any]) -> Iterable[tuple[str, Any]]:
    """A dataset object's (id, row) pairs in file order; a repeated id keeps each of its rows."""
    return rows.pairs if isinstance(rows, RepeatedKeys) else rows.items()


def read_json(file: Path) -> Any:
    """The parsed dataset file; a missing file or one that is not JSON is an `InputError`."""
    if not file.is_file():
        raise InputError(f"dataset file not found: {file}")
    try:
        return json.loads(file.read_text(encoding="utf-8"), object_pairs_hook=_json_object)
    except json.JSONDecodeError as err:
        raise InputError(f"{file}: not valid JSON (line {err.lineno}: {err.msg})") from err


def sibling(file: Path, suffix: str) -> dict[str, Any]:
    """The object in `<name><suffix>` (or `<name minus its last _part><suffix>`), else empty."""
    stem = file.name.removesuffix(".json")
    for candidate in (stem, stem.rsplit("_", 1)[0]):
        path = file.with_name(candidate + suffix)
        if path.is_file():
            return dict(json.loads(path.read_text(encoding="utf-8")))
    return {}
