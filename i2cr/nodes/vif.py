"""VIF: the next image-to-text tool turns the image into a clue for a new round."""

from __future__ import annotations

import time
from typing import Any

from langgraph.runtime import Runtime

from i2cr.context import Context
from i2cr.nodes.common import remaining_clue_tools, settings_of
from i2cr.state import ClueStep, State
from i2cr.tools import get_clue_tool
from i2cr.tools.choice import AUTO, CARRIED, NO_IMAGE, NO_MODEL, provider_for_input

QUIET_ERRORS = (NO_IMAGE, NO_MODEL)


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
            return {**_new_round(state, steps, step["text"], tool_name), **_warnings(steps)}
    used = [s for s in steps if s["used"]]
    if not used:
        return {"clue_steps": steps, "clue": "", "clue_tool": None, **_warnings(steps)}
    clue = "; ".join(f"{s['tool'].replace('_', ' ')}: {s['text']}" for s in used)
    return {**_new_round(state, steps, clue, "+".join(s["tool"] for s in used)), **_warnings(steps)}


def _warnings(steps: list[ClueStep]) -> dict[str, list[str]]:
    """Tools that failed (a model or service error) or read nothing in the image."""
    warnings = []
    for s in steps:
        if s.get("error") in QUIET_ERRORS:
            continue
        if s.get("error"):
            warnings.append(f"clue tool {s['tool']} ({s['provider']}) failed: {s['error']}")
        elif not s["used"] and s["provider"] != CARRIED:
            warnings.append(f"clue tool {s['tool']} ({s['provider']}) found nothing in the image")
    return {"warnings": warnings}


def _clue_step(tool_name: str, state: State, settings: Context) -> ClueStep:
    """Run one image-to-text tool; a failure is recorded on the step, never raised."""
    provider = provider_for_input(tool_name, settings, state.clues)
    step = ClueStep(
        tool=tool_name, provider=provider or AUTO, text="", used=False, seconds=0.0, round=None
    )
    if provider != CARRIED and not state.image_ok:
        step["error"] = NO_IMAGE
        return step
    if provider is None:
        step["error"] = NO_MODEL
        return step
    started = time.perf_counter()
    try:
        tool = get_clue_tool(tool_name, provider)
        text = str(tool.invoke({"image": state.image, "carried": state.clues})).strip()
        step["text"] = text[: settings.max_clue_chars]
    except Exception as err:  # a failing model must not end the mention's run
        step["error"] = f"{type(err).__name__}: {err}"
    step["seconds"] = round(time.perf_counter() - started, 4)
    step["used"] = bool(step["text"])
    return step


def _new_round(state: State, steps: list[ClueStep], clue: str, clue_tool: str) -> dict[str, Any]:
    """A new round with the clue; the steps whose text it holds record that round."""
    next_round = state.round + 1
    for step in steps:
        if step["used"]:
            step["round"] = next_round
    return {
        "clue_steps": steps,
        "round": next_round,
        "clue": clue,
        "clue_tool": clue_tool,
        "excluded": [],
    }
