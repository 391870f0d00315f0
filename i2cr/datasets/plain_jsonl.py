"""Our plain JSONL: one `Sample` as a JSON object per line."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from i2cr.datasets.sample import SAMPLE_FIELDS, Sample, parse_candidates
from i2cr.errors import InputError
from i2cr.jsonl import MalformedLine, json_lines


def load_jsonl(path: str | Path) -> list[Sample]:
    """Read our plain JSONL: one object per line with the fields of `Sample`."""
    file = Path(path)
    return [
        sample_from_row(row, f"{file} line {number}", f"line:{number}")
        for number, row in json_lines(file)
    ]


def sample_from_row(row: Any, where: str, fallback_id: str) -> Sample:
    """Read one parsed line of our plain JSONL (or its parse error), checking every field."""
    if isinstance(row, MalformedLine):
        raise InputError(f"{where}: {row.reason}")
    if not isinstance(row, dict):
        raise InputError(f"{where}: expected a JSON object")
    unknown = sorted(set(row) - set(SAMPLE_FIELDS))
    if unknown:
        raise InputError(f"{where} field {unknown[0]!r}: unknown; known: {list(SAMPLE_FIELDS)}")
    if not isinstance(row.get("mention"), str) or not row["mention"].strip():
        raise InputError(f"{where} field 'mention': missing or empty")
    for key in ("context", "image", "gold_name", "gold_qid"):
        if row.get(key) is not None and not isinstance(row[key], str):
            raise InputError(f"{where} field {key!r}: expected a string")
    clues = row.get("clues") or {}
    if not isinstance(clues, dict) or not all(isinstance(v, str) for v in clues.values()):
        raise InputError(f"{where} field 'clues': expected an object of tool -> text")
    given_id = row.get("id")
    return Sample(
        id=fallback_id if given_id is None or given_id == "" else str(given_id),
        mention=row["mention"],
        context=row.get("context") or "",
        image=row.get("image") or None,
        candidates=parse_candidates(row.get("candidates") or [], f"{where} field 'candidates'"),
        clues=clues,
        gold_name=row.get("gold_name"),
        gold_qid=row.get("gold_qid"),
    )


def write_jsonl(samples: Iterable[Sample], path: str | Path) -> None:
    """Write samples as our plain JSONL (what `load_jsonl` reads)."""
    with Path(path).open("w", encoding="utf-8") as out:
        for sample in samples:
            out.write(json.dumps(sample.as_row(), ensure_ascii=False) + "\n")
