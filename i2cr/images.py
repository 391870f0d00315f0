"""Checking the mention image before any visual step uses it."""

from __future__ import annotations

from pathlib import Path


def image_problem(path: str | None) -> str | None:
    """Why the image at `path` cannot be used, or None when it opens as an image."""
    if not path:
        return "no image given"
    file = Path(path)
    if not file.is_file():
        return f"image not found: {path}"
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        return f"not a readable image: {path} ({err})"
    return None
