"""Reading the mention image (path, bytes, or an enabled URL) with limits and clear errors."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.error import URLError
from urllib.request import Request, urlopen

from i2cr.errors import InputError

if TYPE_CHECKING:
    from PIL.Image import Image

    from i2cr.context import Context

ImageSource = str | Path | bytes
URL_SCHEMES = ("http://", "https://")
# The smallest side an image needs for the models to read anything in it (text, objects).
MIN_SIDE = 8


class ImageError(InputError):
    """The mention image cannot be used: missing, not an image, corrupt, or too large."""


@dataclass(frozen=True)
class ImageLimits:
    """What an image may be: its size in bytes and pixels, and whether URLs are fetched.

    The defaults are the Context's (`allow_image_urls`, `image_max_bytes`, ...).
    """

    allow_urls: bool = False
    max_bytes: int = 20_000_000
    max_pixels: int = 50_000_000
    timeout_s: float = 10.0

    @classmethod
    def from_context(cls, settings: Context) -> ImageLimits:
        """The limits a run's context sets."""
        return cls(
            allow_urls=settings.allow_image_urls,
            max_bytes=settings.image_max_bytes,
            max_pixels=settings.image_max_pixels,
            timeout_s=settings.image_timeout_s,
        )


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image (RGB), its file bytes, and the SHA-256 of those bytes."""

    source: str
    data: bytes
    content_hash: str
    image: Image


def run_context() -> Context:
    """The context of the graph run in progress; the defaults (and I2CR_* env) outside one."""
    from langgraph.runtime import get_runtime

    from i2cr.context import Context
    from i2cr.runs import this_run

    try:
        runtime = get_runtime(Context)
    except (RuntimeError, KeyError):
        return Context()
    return this_run(runtime).settings


def load_image(source: ImageSource, limits: ImageLimits | None = None) -> LoadedImage:
    """Read and decode an image from a path, raw bytes, or (when allowed) an http(s) URL.

    Without `limits`, those of the running graph's settings (or the defaults) apply.
    """
    limits = limits or ImageLimits.from_context(run_context())
    data, name = read_image_bytes(source, limits)
    return LoadedImage(
        source=name,
        data=data,
        content_hash=hashlib.sha256(data).hexdigest(),
        image=decode_image(data, name, limits.max_pixels),
    )


def image_problem(source: ImageSource | None, limits: ImageLimits | None = None) -> str | None:
    """Why the image cannot be used, or None when it reads and decodes within the limits."""
    if source is None or (isinstance(source, str | bytes) and not source):
        return "no image given"
    try:
        load_image(source, limits)
    except ImageError as err:
        return str(err)
    return None


def image_in_root(source: ImageSource, root: str, *, served: bool) -> ImageSource:
    """The image source with a file path resolved inside the image root `root`.

    Relative paths resolve against the root; a path that leads outside it (an absolute path,
    `..`, a link) is refused before the file is looked at, so the message never tells whether
    it exists. Without a root, paths are taken as given, except in a served run (`served`):
    a server's client may then name no file at all. Bytes and URLs pass unchanged.
    """
    if isinstance(source, bytes) or str(source).lower().startswith(URL_SCHEMES):
        return source
    if not root:
        if served:
            raise ImageError(
                "image file paths are not accepted: this server has no image folder "
                "(its operator sets I2CR_IMAGE_ROOT)"
            )
        return source
    base = Path(root).resolve()
    path = (base / source).resolve()
    if not path.is_relative_to(base):
        raise ImageError(f"image path outside the allowed image folder: {source}")
    return str(path)


def read_image_bytes(source: ImageSource, limits: ImageLimits) -> tuple[bytes, str]:
    """The file bytes of an image source and a name for it in messages."""
    if isinstance(source, bytes):
        _check_size(len(source), limits.max_bytes, f"<{len(source)} bytes>")
        return source, f"<{len(source)} bytes>"
    text = str(source)
    if text.lower().startswith(URL_SCHEMES):
        if not limits.allow_urls:
            raise ImageError(
                f"image URLs are disabled: {text} (set allow_image_urls / I2CR_ALLOW_IMAGE_URLS)"
            )
        return _fetch(text, limits.max_bytes, limits.timeout_s), text
    file = Path(text)
    if not file.is_file():
        raise ImageError(f"image not found: {text}")
    _check_size(file.stat().st_size, limits.max_bytes, text)
    return file.read_bytes(), text


def decode_image(data: bytes, name: str, max_pixels: int) -> Image:
    """Decode image bytes to RGB (alpha over white, EXIF rotation applied)."""
    from PIL import Image as PILImage
    from PIL import ImageOps, UnidentifiedImageError

    try:
        with PILImage.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            if min(width, height) < MIN_SIDE:
                raise ImageError(
                    f"image too small: {name} is {width}x{height} pixels (under {MIN_SIDE} on "
                    "a side, nothing in it can be read)"
                )
            if width * height > max_pixels:
                raise ImageError(
                    f"image too large: {name} is {width}x{height} pixels, more than "
                    f"image_max_pixels={max_pixels}"
                )
            probe.verify()
        decoded: PILImage.Image = PILImage.open(io.BytesIO(data))
        decoded.load()
    except PILImage.DecompressionBombError as err:
        raise ImageError(f"image too large: {name} ({err})") from err
    except UnidentifiedImageError as err:
        raise ImageError(
            f"not a readable image: {name} is not an image file (unknown format)"
        ) from err
    except (OSError, SyntaxError, ValueError) as err:
        if isinstance(err, ImageError):
            raise
        raise ImageError(f"not a readable image: {name} is corrupt or truncated ({err})") from err
    image = ImageOps.exif_transpose(decoded)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        canvas = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
        return PILImage.alpha_composite(canvas, rgba).convert("RGB")
    return image.convert("RGB")


def _check_size(size: int, max_bytes: int, name: str) -> None:
    if size > max_bytes:
        raise ImageError(f"image too large: {name} has {size} bytes, more than {max_bytes}")
    if size == 0:
        raise ImageError(f"not a readable image: {name} is empty")


@lru_cache(maxsize=4)
def _fetch(url: str, max_bytes: int, timeout_s: float) -> bytes:
    """Download at most `max_bytes` (kept for the few URLs a mention's steps re-read)."""
    request = Request(url, headers={"User-Agent": "i2cr"})
    try:
        with urlopen(request, timeout=timeout_s) as response:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit():
                _check_size(int(declared), max_bytes, url)
            data = response.read(max_bytes + 1)
    except (URLError, TimeoutError, OSError) as err:
        raise ImageError(f"cannot fetch image {url}: {err}") from err
    _check_size(len(data), max_bytes, url)
    return bytes(data)
