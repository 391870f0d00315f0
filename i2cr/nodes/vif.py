"""VIF: the next image-to-text tool turns the image into a clue for a new round."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from i2cr.context import Context
from i2cr.nodes.common import remaining_clue_tools, settings_of
from i2cr.state import ClueStep, State
from i2cr.tools import get_clue_tool

CARRIED = "carried"
NO_IMAGE = "no usable image"


def vif(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Run tools in the configured order until one yields text; empty clues are skipped.

    With `clue_rounds="all_in_one"` every remaining tool runs and their texts form one clue.
    """
    settings = settings_of(runtime)
    steps: list[ClueStep] = []
    for tool_name in remaining_clue_tools(state, settings):
        step = _clue_step(tool_name, state, settings)
        steps.append(step)
        if step["used"] and settings.clue_rounds == "one_per_round":
            return {**_new_round(state, steps, step["text"], tool_name), **_failures(steps)}
    used = [s for s in steps if s["used"]]
    if not used:
        return {"clue_steps": steps, "clue": "", "clue_tool": None, **_failures(steps)}
    clue = "; ".join(f"{s['tool'].replace('_', ' ')}: {s['text']}" for s in used)
    return {**_new_round(state, steps, clue, "+".join(s["tool"] for s in used)), **_failures(steps)}


def _failures(steps: list[ClueStep]) -> dict[str, list[str]]:
    """Tools that failed (a model or service error) as warnings of the result."""
    failed = [s for s in steps if s.get("error") and s["error"] != NO_IMAGE]
    return {
        "warnings": [
            f"clue tool {s['tool']} ({s['provider']}) failed: {s['error']}" for s in failed
        ]
    }


def _clue_step(tool_name: str, state: State, settings: Context) -> ClueStep:
    """Run one image-to-text tool; a failure is recorded on the step, never raised."""
    provider = settings.provider_for(tool_name)
    step = ClueStep(tool=tool_name, provider=provider, text="", used=False)
    if provider != CARRIED and not state.image_ok:
        step["error"] = NO_IMAGE
        return step
    try:
        tool = get_clue_tool(tool_name, provider)
        text = str(tool.invoke({"image": state.image, "carried": state.clues})).strip()
        step["text"] = text[: settings.max_clue_chars]
    except Exception as err:  # a failing model must not end the mention's run
        step["error"] = f"{type(err).__name__}: {err}"
    step["used"] = bool(step["text"])
    return step


def _new_round(state: State, steps: list[ClueStep], clue: str, clue_tool: str) -> dict[str, Any]:
    return {
        "clue_steps": steps,
        "round": state.round + 1,
        "clue": clue,
        "clue_tool": clue_tool,
        "excluded": [],
    }
