"""IAV: inter-modal alignment of the mention image with the selected entity's description."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from i2cr.context import Context
from i2cr.models.clip import clip_scores
from i2cr.models.embedder import cosine
from i2cr.nodes.common import current_attempt, settings_of
from i2cr.outcome import NO_CLUE
from i2cr.state import Attempt, State
from i2cr.texts import entity_text


def image_as_text(state: State) -> str:
    """The image's text stand-in: every clue given with the input or produced by VIF so far."""
    texts = [*state.clues.values(), *(s["text"] for s in state.clue_steps)]
    unique = dict.fromkeys(t.strip() for t in texts if t and t.strip())
    return " ".join(unique)


def iav(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Score image vs entity with CLIP, or the image's clue text with the embedder.

    When neither can run the try keeps the decision before it and records why ('no_clue' asks
    VIF for a clue, 'skipped' accepts it: see `State`).
    """
    settings = settings_of(runtime)
    attempt = current_attempt(state)
    assert attempt["selected"] is not None
    entity = entity_text(state.candidates[attempt["selected"]])
    if state.image_ok and settings.clip_pretrained:
        assert state.image is not None
        score = clip_scores(
            settings.clip_model,
            settings.clip_pretrained,
            state.image,
            [entity],
            precision=settings.precision,
        )[0]
        method, threshold = "clip", settings.beta
    elif settings.iav_without_encoder == "text" and image_as_text(state):
        score = cosine(
            settings.embedder, image_as_text(state), [entity], precision=settings.precision
        )[0]
        method, threshold = "clue_text", settings.beta_text
    else:
        method = NO_CLUE if settings.iav_without_encoder == "text" else "skipped"
        return {"attempts": [Attempt(**{**attempt, "iav_method": method})]}
    passed = score >= threshold
    checked = Attempt(
        **{
            **attempt,
            "iav_score": score,
            "iav_passed": passed,
            "iav_method": method,
            "decision": "iav_pass" if passed else "iav_fail",
        }
    )
    return {"attempts": [checked]}
