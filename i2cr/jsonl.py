"""Reading JSONL files line by line with errors that name the file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from i2cr.errors import InputError


def json_lines(path: str | Path) -> Iterator[tuple[int, Any | InputError]]:
    """(line number, parsed value) per non-blank line; a malformed line gives its error."""
    with Path(path).open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as err:
                yield number, InputError(f"{path}:{number}: not valid JSON ({err.msg})")
