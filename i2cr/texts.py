"""The texts models embed for an entity: one definition for retrieval, ranking and the nodes."""

from __future__ import annotations

from i2cr.state import Candidate


def entity_text(candidate: Candidate) -> str:
    """C_e: the entity name and description."""
    return f"{candidate['name'].replace('_', ' ')}. {candidate.get('desc', '')}".strip()
