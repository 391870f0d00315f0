"""Base of the tools that read the image themselves: image limits, run settings and caching."""

from __future__ import annotations

from i2cr.context import Context
from i2cr.images import ImageError, ImageLimits, LoadedImage, load_image, run_context
from i2cr.tools.base import ClueTool
from i2cr.tools.cache import ClueKey, clue_cache


class ImageClueTool(ClueTool):
    """Loads the image within the run's limits; outputs are cached per image content hash."""

    def _run(self, image: str | None = None, carried: dict[str, str] | None = None) -> str:
        if not image:
            raise ImageError("no image given")
        settings = run_context()
        loaded = load_image(image, ImageLimits.from_context(settings))
        cache = clue_cache(settings.clue_cache_dir)
        key = ClueKey(loaded.content_hash, self.name, self.provider, self.settings_key(settings))
        text = cache.get(key)
        if text is None:
            text = self.describe(loaded, settings).strip()
            cache.put(key, text)
        return text

    def settings_key(self, settings: Context) -> str:
        """The settings this tool's output depends on (model id, thresholds), for the cache."""
        return ""

    def describe(self, image: LoadedImage, settings: Context) -> str:
        """The clue text for one decoded image."""
        raise NotImplementedError


def unsupported_kind(provider: str, kind: str, kinds: tuple[str, ...]) -> ValueError:
    """The error for a provider asked for a clue kind it does not make."""
    return ValueError(f"clue provider {provider!r} makes {list(kinds)} clues, not {kind!r}")
