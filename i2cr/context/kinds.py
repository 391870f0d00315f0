"""Names and counts the settings refer to."""

from __future__ import annotations

from typing import Literal

CLUE_TOOLS = ("ocr", "caption", "dense_caption", "tags")
ENV_PREFIX = "I2CR_"
# The most candidates a count setting (k, top_k, ranker_keep) may name.
MAX_CANDIDATE_COUNT = 1000
RankerKind = Literal["none", "embedder", "dim", "cross_encoder", "combined"]
