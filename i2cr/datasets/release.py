"""The I2CR release format (WikiMEL, WikiDiverse, RichMEL).

Rows are `id -> {mention, mention_context, mention_imgpath, Candentity,
mention_imgdesc_Azure}`, some fields as Python-literal strings; gold labels in sibling files.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from i2cr.datasets.json_file import object_items, read_json, sibling
from i2cr.datasets.sample import Sample, optional_text, parse_candidates
from i2cr.errors import InputError
from i2cr.images import URL_SCHEMES

AZURE_TO_TOOL = {
    "OCR text": "ocr",
    "Caption": "caption",
    "Dense Captions": "dense_caption",
    "Tags": "tags",
}

logger = logging.getLogger(__name__)


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


def azure_clues(azure: Any, where: str) -> dict[str, str]:
    """Azure AI Vision output as clue texts keyed by tool name (each text, or missing)."""
    if not isinstance(azure, dict):
        return {}
    return {tool: optional_text(azure, key, where).strip() for key, tool in AZURE_TO_TOOL.items()}


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
    azure_at = f"{where} field 'mention_imgdesc_Azure'"
    azure = _literal(row.get("mention_imgdesc_Azure", {}), azure_at)
    return Sample(
        id=sample_id,
        mention=row["mention"],
        context=optional_text(row, "mention_context", where),
        image=image or None,
        candidates=candidates,
        clues=azure_clues(azure, azure_at),
    )


def load_release(path: str | Path, image_dir: str | Path | None = None) -> list[Sample]:
    """Read the samples of an I2CR release file, with gold labels from its sibling files.

    `<name>_label.json` (id -> gold name) and `<name>_gold_qid.json` are read when present.
    Image names become paths under `image_dir` when given.
    """
    file = Path(path)
    return release_samples(read_json(file), file, image_dir)


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
    return release_entries(read_json(file), file, image_dir)


def release_entries(
    rows: Any, file: Path, image_dir: str | Path | None
) -> Iterator[tuple[str, Sample | InputError]]:
    """(id, sample or the error that made the row unusable) per row of an I2CR release file.

    Without `image_dir` a relative image name cannot be resolved: that sample runs without
    its image, says so in its `notes`, and the first one is logged as a warning.
    """
    if not isinstance(rows, dict):
        raise InputError(f"{file}: expected an object of id -> sample")
    labels = sibling(file, "_label.json")
    qids = sibling(file, "_gold_qid.json")
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
