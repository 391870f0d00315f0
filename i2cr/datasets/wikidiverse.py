"""WikiDiverse's own release format: one sample per mention, no candidates.

The file is a list of `[text, image_url, topic, [[mention, type, start, end, wikipedia_url],
...]]`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from i2cr.datasets.sample import Sample
from i2cr.errors import InputError


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
