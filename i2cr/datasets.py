"""Benchmark samples in one typed model, read from the I2CR release format (WikiMEL etc.)."""

from __future__ import annotations

import ast
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from i2cr.errors import InputError
from i2cr.state import Candidate

AZURE_TO_TOOL = {
    "OCR text": "ocr",
    "Caption": "caption",
    "Dense Captions": "dense_caption",
    "Tags": "tags",
}

NIL_LABEL = "nil"


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

    @property
    def is_nil(self) -> bool:
        """The gold entity is not in the knowledge graph."""
        return self.gold_name == NIL_LABEL

    def graph_input(self) -> dict[str, Any]:
        """The graph's input for this sample."""
        data = asdict(self)
        data["sample_id"] = data.pop("id")
        del data["gold_name"], data["gold_qid"]
        return data


def _literal(value: Any, where: str) -> Any:
    """WikiDiverse stores some fields as Python-literal strings: parse them safely."""
    if not isinstance(value, str):
        return value
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError) as err:
        raise InputError(f"{where}: not a valid literal ({err})") from err


def azure_clues(azure: Any) -> dict[str, str]:
    """Azure AI Vision output as clue texts keyed by tool name."""
    if not isinstance(azure, dict):
        return {}
    return {tool: str(azure.get(key) or "").strip() for key, tool in AZURE_TO_TOOL.items()}


def sample_from_release(sample_id: str, row: dict[str, Any], where: str) -> Sample:
    """A sample from one row of the I2CR release format."""
    for key in ("mention", "Candentity"):
        if key not in row:
            raise InputError(f"{where}: missing field {key!r}")
    candidates = _literal(row["Candentity"], f"{where} field 'Candentity'")
    if not isinstance(candidates, list):
        raise InputError(f"{where} field 'Candentity': expected a list")
    azure = _literal(row.get("mention_imgdesc_Azure", {}), f"{where} field 'mention_imgdesc_Azure'")
    return Sample(
        id=sample_id,
        mention=str(row["mention"]),
        context=str(row.get("mention_context", "") or ""),
        image=row.get("mention_imgpath") or None,
        candidates=[
            Candidate(name=str(c["name"]), desc=str(c.get("desc", "")), qid=str(c.get("qid", "")))
            if c.get("qid")
            else Candidate(name=str(c["name"]), desc=str(c.get("desc", "")))
            for c in candidates
        ],
        clues=azure_clues(azure),
    )


def load_release(path: str | Path, image_dir: str | Path | None = None) -> list[Sample]:
    """Samples of an I2CR release file, with gold labels from its sibling files.

    `<name>_label.json` (id -> gold name) and `<name>_gold_qid.json` are read when present.
    Image names become paths under `image_dir` when given.
    """
    file = Path(path)
    rows = json.loads(file.read_text(encoding="utf-8"))
    labels = _sibling(file, "_label.json")
    qids = _sibling(file, "_gold_qid.json")
    samples = []
    for sample_id, row in rows.items():
        sample = sample_from_release(str(sample_id), row, f"{file} sample {sample_id}")
        sample.gold_name = labels.get(sample.id)
        sample.gold_qid = (qids.get(sample.id) or {}).get("qid")
        if sample.image and image_dir is not None:
            sample.image = str(Path(image_dir) / sample.image)
        elif sample.image and not Path(sample.image).is_absolute():
            sample.image = None
        samples.append(sample)
    return samples


def _sibling(file: Path, suffix: str) -> dict[str, Any]:
    stem = file.name.removesuffix(".json")
    for candidate in (stem, stem.rsplit("_", 1)[0]):
        sibling = file.with_name(candidate + suffix)
        if sibling.is_file():
            return dict(json.loads(sibling.read_text(encoding="utf-8")))
    return {}
