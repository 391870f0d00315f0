"""Reading JSONL files (plain or gzip-packed) line by line with errors naming the file and line."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from i2cr.errors import InputError

PACKED_SUFFIX = ".gz"


class MalformedLine(InputError):
    """A line that is not JSON; `reason` says why without naming the file and line."""

    def __init__(self, path: str | Path, number: int, reason: str) -> None:
        """The error of line `number` of `path`."""
        super().__init__(f"{path}:{number}: {reason}")
        self.path, self.number, self.reason = path, number, reason

    def __reduce__(self) -> tuple[type[MalformedLine], tuple[str | Path, int, str]]:
        """Pickle by the arguments (a bad row travels to a Ray worker as its error)."""
        return type(self), (self.path, self.number, self.reason)


def open_lines(path: str | Path) -> IO[str]:
    """The file as UTF-8 text, decompressed on the fly when its name ends in `.gz`."""
    file = Path(path)
    if file.name.endswith(PACKED_SUFFIX):
        return gzip.open(file, "rt", encoding="utf-8")
    return file.open(encoding="utf-8")


def json_lines(path: str | Path) -> Iterator[tuple[int, Any | MalformedLine]]:
    """(line number, parsed value) per non-blank line; a malformed line gives its error."""
    with open_lines(path) as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as err:
                yield number, MalformedLine(path, number, f"not valid JSON ({err.msg})")


def complete_records(path: str | Path) -> list[Any]:
    """The parsed lines of a results file, leaving out any line a kill cut short."""
    return [row for _, row in json_lines(path) if not isinstance(row, MalformedLine)]


def pack(path: str | Path) -> Path:
    """Gzip a JSONL file into `<name>.gz` beside it (byte-identical for the same lines).

    The plain file is removed once the packed one is written.
    """
    plain = Path(path)
    packed = plain.with_name(plain.name + PACKED_SUFFIX)
    partial = packed.with_name(packed.name + ".part")
    # mtime=0 and no file name in the header: the same records always give the same bytes.
    with (
        partial.open("wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as sink,
    ):
        sink.write(plain.read_bytes())
    partial.replace(packed)
    plain.unlink()
    return packed


def unpack(path: str | Path) -> Path:
    """Restore the plain JSONL of a `<name>.gz` made by `pack`; the packed file is removed."""
    packed = Path(path)
    plain = packed.with_name(packed.name.removesuffix(PACKED_SUFFIX))
    partial = plain.with_name(plain.name + ".part")
    with gzip.open(packed, "rb") as source:
        partial.write_bytes(source.read())
    partial.replace(plain)
    packed.unlink()
    return plain
