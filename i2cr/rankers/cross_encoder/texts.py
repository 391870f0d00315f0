"""The two texts a cross-encoder pair reads: the mention side and the candidate's side."""

from __future__ import annotations

from collections.abc import Mapping

from i2cr.state import Candidate
from i2cr.texts import entity_text

CAPTION_TOOL = "caption"


def mention_side(mention: str, context: str, clues: Mapping[str, str] | None = None) -> str:
    """'mention | context | image caption' (the parts present)."""
    caption = (clues or {}).get(CAPTION_TOOL, "")
    return " | ".join(part.strip() for part in (mention, context, caption) if part and part.strip())


def entity_side(candidate: Candidate, desc_chars: int) -> str:
    """The candidate's name and description, cut at `desc_chars` characters."""
    return entity_text(candidate)[:desc_chars]
