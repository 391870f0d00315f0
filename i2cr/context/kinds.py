"""Names and counts the settings refer to."""

from __future__ import annotations

from typing import Literal

CLUE_TOOLS = ("ocr", "caption", "dense_caption", "tags")
# The image-to-text providers `clue_providers` may name, and the clue tools each one makes
# (i2cr.tools.PROVIDERS holds their tools). 'auto' picks one per tool and input.
CLUE_PROVIDERS: dict[str, tuple[str, ...]] = {
    "auto": CLUE_TOOLS,
    "carried": CLUE_TOOLS,
    "rapidocr": ("ocr",),
    "efficientnet": ("tags",),
    "hub": CLUE_TOOLS,
    "azure": CLUE_TOOLS,
}
ENV_PREFIX = "I2CR_"
# The most candidates a count setting (k, top_k, ranker_keep) may name.
MAX_CANDIDATE_COUNT = 1000
RankerKind = Literal["none", "embedder", "dim", "cross_encoder", "combined"]
