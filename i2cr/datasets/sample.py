"""The typed benchmark sample every dataset format is read into, and its checked fields."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from i2cr.errors import InputError
from i2cr.state import Candidate

NIL_LABEL = "nil"

SAMPLE_FIELDS = (
    "id",
    "mention",
    "context",
    "image",
    "candidates",
    "clues",
    "gold_name",
    "gold_qid",
)


@dataclass
class Sample:
    """One mention with its candidates, carried clues and (when known) gold answer."""

    id: str
    mention: str
    context: str = ""
    image: str | None = None
    candidates: list[Candidate] = field(default_factory=list)
    clues: dict[str, str] = field(default_factory=dict)
    gold_name: str | None = None
    gold_qid: str | None = None
    notes: list[str] = field(default_factory=list)
    """What reading the sample changed (an image left out); not part of the sample's data."""

    @property
    def is_nil(self) -> bool:
        """The gold entity is not in the knowledge graph."""
        return self.gold_name == NIL_LABEL

    def graph_input(self) -> dict[str, Any]:
        """The graph's input for this sample."""
        data = asdict(self)
        data["sample_id"] = data.pop("id")
        del data["gold_name"], data["gold_qid"], data["notes"]
        return data

    def as_row(self) -> dict[str, Any]:
        """The sample's data as a JSON object of `SAMPLE_FIELDS` (what `load_jsonl` reads)."""
        data = asdict(self)
        del data["notes"]
        return data


def optional_text(row: dict[str, Any], key: str, where: str) -> str:
    """The text of `row[key]`, empty when missing or null; anything else but text is an error.

    One rule for every format: a number where text belongs is refused, not turned into text.
    """
    value = row.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"{where} field {key!r}: expected text, got {type(value).__name__}")
    return value


def parse_candidates(value: Any, where: str) -> list[Candidate]:
    """Check and convert a list of {name, desc?, qid?} objects."""
    if not isinstance(value, list):
        raise InputError(f"{where}: expected a list of candidates, got {type(value).__name__}")
    candidates = []
    for position, item in enumerate(value):
        at = f"{where}[{position}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InputError(f"{at}: expected an object with a string 'name'")
        candidate = Candidate(name=item["name"], desc=optional_text(item, "desc", at))
        if item.get("qid"):
            candidate["qid"] = str(item["qid"])
        candidates.append(candidate)
    return candidates
