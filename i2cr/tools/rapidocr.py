"""OCR with RapidOCR (PP-OCR models in ONNX, shipped with the rapidocr wheel: runs offline)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from i2cr.context import Context
from i2cr.images import LoadedImage
from i2cr.tools.base import ClueTool
from i2cr.tools.image_tool import ImageClueTool, unsupported_kind

PROVIDER = "rapidocr"
MIN_LINE_SCORE = 0.6
"""Recognition confidence a text line needs (RapidOCR's own cut is 0.5, which lets through
single glyphs read from textures)."""
DET_MAX_SIDE = 960


@lru_cache(maxsize=1)
def load_rapidocr() -> Any:
    """The RapidOCR engine (detection, orientation and recognition models), loaded once."""
    try:
        from rapidocr import RapidOCR
    except ImportError as err:
        raise RuntimeError("OCR needs the rapidocr package: pip install 'i2cr[vision]'") from err
    # PaddleOCR's own detector sizing (longest side at most 960): RapidOCR's default scales the
    # shortest side up to 736, which makes a 542x130 logo a 3069x736 input (12x slower).
    params = {"Det.limit_type": "max", "Det.limit_side_len": DET_MAX_SIDE}
    return RapidOCR(params={"Global.log_level": "error", **params})


def ocr_lines(
    texts: Sequence[str] | None, scores: Sequence[float] | None, min_score: float = MIN_LINE_SCORE
) -> list[str]:
    """Recognised lines in reading order: confident ones with a letter or digit, no repeats."""
    lines = [
        text.strip()
        for text, score in zip(texts or (), scores or (), strict=False)
        if score >= min_score and any(ch.isalnum() for ch in text)
    ]
    return list(dict.fromkeys(lines))


class RapidOCRTool(ImageClueTool):
    """Text read from the image, lines joined by '; ' (the format of the datasets' Azure OCR)."""

    provider: str = PROVIDER

    def settings_key(self, settings: Context) -> str:
        """OCR output depends only on the line-score cut."""
        return f"min_score={MIN_LINE_SCORE}/det_max_side={DET_MAX_SIDE}"

    def describe(self, image: LoadedImage, settings: Context) -> str:
        """Run RapidOCR on the decoded image."""
        result = load_rapidocr()(image.image)
        return "; ".join(ocr_lines(result.txts, result.scores))


def rapidocr_tool(kind: str) -> ClueTool:
    """The RapidOCR tool; it only makes 'ocr' clues."""
    if kind != "ocr":
        raise unsupported_kind(PROVIDER, kind, ("ocr",))
    return RapidOCRTool(name=kind, description="Read the text in the mention image (RapidOCR).")
