"""Benchmark samples in one typed model, read from the formats the MEL community publishes.

- the I2CR release (WikiMEL, WikiDiverse, RichMEL): `id -> {mention, mention_context,
  mention_imgpath, Candentity, mention_imgdesc_Azure}`, some fields as Python-literal strings;
- MELBench (`Wikidata-MEL.json`, `Richpedia-MEL.json`): `id -> {sentence, mentions, entities,
  answer}`, one sample per mention, no candidates;
- WikiDiverse's own release: a list of `[text, image_url, topic, [[mention, type, start, end,
  wikipedia_url], ...]]`, one sample per mention, no candidates;
- our plain JSONL: one `Sample` as a JSON object per line.
"""

from __future__ import annotations

import ast
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from i2cr.errors import InputError
from i2cr.images import URL_SCHEMES
from i2cr.state import Candidate

AZURE_TO_TOOL = {
    "OCR text": "ocr",
    "Caption": "caption",
    "Dense Captions": "dense_caption",
    "Tags": "tags",
}

NIL_LABEL = "nil"

logger = logging.getLogger(__name__)


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


def _literal(value: Any, where: str) -> Any:
    """WikiDiverse stores some fields as Python-literal strings: parse them safely."""
    if not isinstance(value, str):
        return value
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError) as err:
        raise InputError(f"{where}: not a valid literal ({err})") from err
    except (MemoryError, RecursionError) as err:
        # Python's parser gives up on deep nesting (e.g. 100,000 unary minus signs) this way.
        raise InputError(f"{where}: not a valid literal (nested too deeply)") from err


def azure_clues(azure: Any) -> dict[str, str]:
    """Azure AI Vision output as clue texts keyed by tool name."""
    if not isinstance(azure, dict):
        return {}
    return {tool: str(azure.get(key) or "").strip() for key, tool in AZURE_TO_TOOL.items()}


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


def parse_candidates(value: Any, where: str) -> list[Candidate]:
    """Check and convert a list of {name, desc?, qid?} objects."""
    if not isinstance(value, list):
        raise InputError(f"{where}: expected a list of candidates, got {type(value).__name__}")
    candidates = []
    for position, item in enumerate(value):
        at = f"{where}[{position}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InputError(f"{at}: expected an object with a string 'name'")
        candidate = Candidate(name=item["name"], desc=str(item.get("desc") or ""))
        if item.get("qid"):
            candidate["qid"] = str(item["qid"])
        candidates.append(candidate)
    return candidates


def sample_from_release(sample_id: str, row: Any, where: str) -> Sample:
    """Read a sample from one row of the I2CR release format."""
    if not isinstance(row, dict):
        raise InputError(f"{where}: expected an object, got {type(row).__name__}")
    for key in ("mention", "Candentity"):
        if key not in row:
            raise InputError(f"{where}: missing field {key!r}")
    if not isinstance(row["mention"], str) or not row["mention"].strip():
        raise InputError(f"{where} field 'mention': expected a non-empty string")
    image = row.get("mention_imgpath")
    if image is not None and not isinstance(image, str):
        raise InputError(f"{where} field 'mention_imgpath': expected a string")
    field_at = f"{where} field 'Candentity'"
    candidates = parse_candidates(_literal(row["Candentity"], field_at), field_at)
    azure = _literal(row.get("mention_imgdesc_Azure", {}), f"{where} field 'mention_imgdesc_Azure'")
    return Sample(
        id=sample_id,
        mention=row["mention"],
        context=str(row.get("mention_context", "") or ""),
        image=image or None,
        candidates=candidates,
        clues=azure_clues(azure),
    )


def load_release(path: str | Path, image_dir: str | Path | None = None) -> list[Sample]:
    """Read the samples of an I2CR release file, with gold labels from its sibling files.

    `<name>_label.json` (id -> gold name) and `<name>_gold_qid.json` are read when present.
    Image names become paths under `image_dir` when given.
    """
    file = Path(path)
    return release_samples(_read_json(file), file, image_dir)


def release_samples(rows: Any, file: Path, image_dir: str | Path | None) -> list[Sample]:
    """Convert the parsed rows of an I2CR release file (see `load_release`); a bad row raises."""
    samples = []
    for _sample_id, sample in release_entries(rows, file, image_dir):
        if isinstance(sample, InputError):
            raise sample
        samples.append(sample)
    return samples


def read_release_entries(
    path: str | Path, image_dir: str | Path | None = None
) -> Iterator[tuple[str, Sample | InputError]]:
    """(id, sample) per row of an I2CR release file; a bad row gives its error, not a sample.

    The file itself is read before the first entry is asked for, so a missing file or one that
    is not JSON fails at once.
    """
    file = Path(path)
    return release_entries(_read_json(file), file, image_dir)


def release_entries(
    rows: Any, file: Path, image_dir: str | Path | None
) -> Iterator[tuple[str, Sample | InputError]]:
    """(id, sample or the error that made the row unusable) per row of an I2CR release file.

    Without `image_dir` a relative image name cannot be resolved: that sample runs without
    its image, says so in its `notes`, and the first one is logged as a warning.
    """
    if not isinstance(rows, dict):
        raise InputError(f"{file}: expected an object of id -> sample")
    labels = _sibling(file, "_label.json")
    qids = _sibling(file, "_gold_qid.json")
    warned = False
    for sample_id, row in object_items(rows):
        try:
            sample = sample_from_release(str(sample_id), row, f"{file} sample {sample_id}")
        except InputError as err:
            yield str(sample_id), err
            continue
        sample.gold_name = labels.get(sample.id)
        sample.gold_qid = (qids.get(sample.id) or {}).get("qid")
        if not sample.image or sample.image.lower().startswith(URL_SCHEMES):
            pass  # a URL is the image's whole address (fetched only when allowed)
        elif image_dir is not None:
            sample.image = str(Path(image_dir) / sample.image)
        elif not Path(sample.image).is_absolute():
            note = f"image {sample.image!r} is a relative name and no image folder was given"
            if not warned:
                logger.warning(
                    "%s: %s (sample %s and every sample like it run without an image; "
                    "give the dataset's image folder, e.g. i2cr link --image-dir)",
                    file,
                    note,
                    sample.id,
                )
                warned = True
            sample.notes.append(f"{note}: linked without an image")
            sample.image = None
        yield sample.id, sample


def melbench_samples(rows: Any, file: Path, image_dir: str | Path | None) -> list[Sample]:
    """Convert MELBench rows: one sample per mention, ids `<id>` or `<id>-<n>` as I2CR uses.

    Images are `<image_dir>/<id>.jpg` when `image_dir` is given.
    """
    if not isinstance(rows, dict):
        raise InputError(f"{file}: expected an object of id -> sample")
    samples = []
    for row_id, row in object_items(rows):
        where = f"{file} sample {row_id}"
        if not isinstance(row, dict):
            raise InputError(f"{where}: expected an object, got {type(row).__name__}")
        columns = [_as_list(row, key, where) for key in ("mentions", "entities", "answer")]
        if len({len(column) for column in columns}) != 1:
            raise InputError(
                f"{where} fields 'mentions', 'entities', 'answer': lengths differ "
                f"({', '.join(str(len(column)) for column in columns)})"
            )
        image = str(Path(image_dir) / f"{row_id}.jpg") if image_dir is not None else None
        for position, (mention, entity, qid) in enumerate(zip(*columns, strict=True)):
            samples.append(
                Sample(
                    id=str(row_id) if len(columns[0]) == 1 else f"{row_id}-{position}",
                    mention=mention,
                    context=str(row.get("sentence") or ""),
                    image=image,
                    gold_name=entity,
                    gold_qid=qid,
                )
            )
    return samples


def _as_list(row: dict[str, Any], key: str, where: str) -> list[str]:
    """MELBench gives a field as a string (Richpedia-MEL) or a list of strings (Wikidata-MEL)."""
    value = row.get(key)
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise InputError(f"{where} field {key!r}: expected a string or a list of strings")
    return values


def wikidiverse_samples(rows: Any, file: Path, image_dir: str | Path | None) -> list[Sample]:
    """Convert WikiDiverse's own rows: one sample per mention, ids `<row>-<n>`.

    The gold name is the Wikipedia title of the entity URL (underscores, as I2CR's labels);
    images are `<image_dir>/<last part of the image URL>` when `image_dir` is given.
    """
    if not isinstance(rows, list):
        raise InputError(f"{file}: expected a list of [text, image_url, topic, mentions]")
    samples = []
    for number, row in enumerate(rows):
        where = f"{file} row {number}"
        if not isinstance(row, list) or len(row) != 4:
            raise InputError(f"{where}: expected [text, image_url, topic, mentions]")
        text, image_url, _topic, mentions = row
        if not isinstance(text, str):
            raise InputError(f"{where} field 'text': expected a string")
        if not isinstance(mentions, list):
            raise InputError(f"{where} field 'mentions': expected a list")
        image = None
        if image_dir is not None and isinstance(image_url, str) and image_url:
            image = str(Path(image_dir) / unquote(Path(urlparse(image_url).path).name))
        for position, mention in enumerate(mentions):
            at = f"{where} field 'mentions'[{position}]"
            if not isinstance(mention, list) or len(mention) != 5:
                raise InputError(f"{at}: expected [mention, type, start, end, wikipedia_url]")
            surface, _type, _start, _end, url = mention
            if not isinstance(surface, str) or not isinstance(url, str):
                raise InputError(f"{at}: mention and wikipedia_url must be strings")
            samples.append(
                Sample(
                    id=f"{number}-{position}",
                    mention=surface,
                    context=text,
                    image=image,
                    gold_name=unquote(url.rstrip("/").rsplit("/", 1)[-1]) or None,
                )
            )
    return samples


def load_jsonl(path: str | Path) -> list[Sample]:
    """Read our plain JSONL: one object per line with the fields of `Sample`."""
    file = Path(path)
    samples = []
    with file.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                samples.append(sample_from_row(line, f"{file} line {number}", f"line:{number}"))
    return samples


def sample_from_row(line: str, where: str, fallback_id: str) -> Sample:
    """Read one line of our plain JSONL, checking every field."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as err:
        raise InputError(f"{where}: not valid JSON ({err.msg})") from err
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


def load_dataset(path: str | Path, image_dir: str | Path | None = None) -> list[Sample]:
    """Read a dataset file in any supported format, told apart by its shape.

    `.jsonl` is our plain JSONL; a JSON list is WikiDiverse's own release; a JSON object whose
    rows hold `Candentity` is the I2CR release, and one whose rows hold `sentence` is MELBench.
    """
    file = Path(path)
    if file.suffix == ".jsonl":
        return load_jsonl(file)
    data = _read_json(file)
    if isinstance(data, list):
        return wikidiverse_samples(data, file, image_dir)
    first = next(iter(data.values()), None) if isinstance(data, dict) else None
    if isinstance(first, dict) and "Candentity" in first:
        return release_samples(data, file, image_dir)
    if isinstance(first, dict) and "sentence" in first:
        return melbench_samples(data, file, image_dir)
    raise InputError(
        f"{file}: not a known dataset format (I2CR release, MELBench, WikiDiverse, JSONL)"
    )


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


def _read_json(file: Path) -> Any:
    if not file.is_file():
        raise InputError(f"dataset file not found: {file}")
    try:
        return json.loads(file.read_text(encoding="utf-8"), object_pairs_hook=_json_object)
    except json.JSONDecodeError as err:
        raise InputError(f"{file}: not valid JSON (line {err.lineno}: {err.msg})") from err


def _sibling(file: Path, suffix: str) -> dict[str, Any]:
    stem = file.name.removesuffix(".json")
    for candidate in (stem, stem.rsplit("_", 1)[0]):
        sibling = file.with_name(candidate + suffix)
        if sibling.is_file():
            return dict(json.loads(sibling.read_text(encoding="utf-8")))
    return {}
