"""The texts DIM encodes for a mention (name, context, cue) and for a candidate entity."""

from __future__ import annotations

from collections.abc import Mapping

from i2cr.state import Candidate
from i2cr.texts import entity_text

CUE_TOOL = "caption"


def cue_text(clues: Mapping[str, str]) -> str:
    """The expert cue: the image caption carried with the input ('' when there is none)."""
    return (clues.get(CUE_TOOL) or "").strip()


def candidate_texts(candidates: list[Candidate]) -> list[str]:
    """C_e (name and description) of each candidate."""
    return [entity_text(c) for c in candidates]
