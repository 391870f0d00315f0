"""The texts models read for a mention and for an entity (retrieval, ranking, the nodes)."""

from __future__ import annotations

from i2cr.state import Candidate


def entity_text(candidate: Candidate) -> str:
    """C_e: the entity name and description."""
    return f"{candidate['name'].replace('_', ' ')}. {candidate.get('desc', '')}".strip()


def mention_text(mention: str, context: str, clue: str = "") -> str:
    """C_m: the mention, the text around it and (from a clue round on) the image's clue."""
    return " ".join(part.strip() for part in (mention, context, clue) if part and part.strip())


def mention_in_sentence(mention: str, context: str) -> str:
    """The mention, a full stop, then the text around it: DIM's context text (it was trained so)."""
    return f"{mention}. {context}".strip() if context else mention
