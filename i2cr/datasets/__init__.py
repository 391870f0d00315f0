"""Benchmark samples in one typed model, read from the formats the MEL community publishes.

One module per format: `release` (the I2CR release: WikiMEL, WikiDiverse, RichMEL),
`melbench` (MELBench), `wikidiverse` (WikiDiverse's own release) and `plain_jsonl` (our plain
JSONL, one `Sample` per line); `load_dataset` tells them apart by the file's shape.
"""

from __future__ import annotations

from pathlib import Path

from i2cr.datasets.json_file import RepeatedKeys, object_items, read_json
from i2cr.datasets.melbench import melbench_samples
from i2cr.datasets.plain_jsonl import load_jsonl, sample_from_row, write_jsonl
from i2cr.datasets.release import (
    AZURE_TO_TOOL,
    azure_clues,
    load_release,
    read_release_entries,
    release_entries,
    release_samples,
    sample_from_release,
)
from i2cr.datasets.sample import NIL_LABEL, SAMPLE_FIELDS, Sample, parse_candidates
from i2cr.datasets.wikidiverse import wikidiverse_samples
from i2cr.errors import InputError


def load_dataset(path: str | Path, image_dir: str | Path | None = None) -> list[Sample]:
    """Read a dataset file in any supported format, told apart by its shape.

    `.jsonl` is our plain JSONL; a JSON list is WikiDiverse's own release; a JSON object whose
    rows hold `Candentity` is the I2CR release, and one whose rows hold `sentence` is MELBench.
    """
    file = Path(path)
    if file.suffix == ".jsonl":
        return load_jsonl(file)
    data = read_json(file)
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


__all__ = [
    "AZURE_TO_TOOL",
    "NIL_LABEL",
    "SAMPLE_FIELDS",
    "RepeatedKeys",
    "Sample",
    "azure_clues",
    "load_dataset",
    "load_jsonl",
    "load_release",
    "melbench_samples",
    "object_items",
    "parse_candidates",
    "read_release_entries",
    "release_entries",
    "release_samples",
    "sample_from_release",
    "sample_from_row",
    "wikidiverse_samples",
    "write_jsonl",
]
