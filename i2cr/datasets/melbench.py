"""MELBench (`Wikidata-MEL.json`, `Richpedia-MEL.json`): one sample per mention.

Rows are `id -> {sentence, mentions, entities, answer}`; no candidates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from i2cr.datasets.json_file import object_items
from i2cr.datasets.sample import Sample, optional_text
from i2cr.errors import InputError


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
        context = optional_text(row, "sentence", where)
        for position, (mention, entity, qid) in enumerate(zip(*columns, strict=True)):
            samples.append(
                Sample(
                    id=str(row_id) if len(columns[0]) == 1 else f"{row_id}-{position}",
                    mention=mention,
                    context=context,
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
