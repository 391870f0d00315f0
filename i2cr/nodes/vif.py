"""VIF: the next image-to-text tool turns the image into a clue for a new round."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from i2cr.context import Context
from i2cr.nodes.common import remaining_clue_tools, settings
from i2cr.state import ClueStep, State
from i2cr.tools import get_clue_tool

CARRIED = "carried"


def vif(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Run tools in the configured order until one yields text; empty clues are skipped."""
    context = settings(runtime)
    steps: list[ClueStep] = []
    for tool_name in remaining_clue_tools(state, context):
        provider = context.provider_for(tool_name)
        step = ClueStep(tool=tool_name, provider=provider, text="", used=False)
        if provider != CARRIED and not state.image_ok:
            step["error"] = "no usable image"
            steps.append(step)
            continue
        try:
            tool = get_clue_tool(tool_name, provider)
            step["text"] = str(tool.invoke({"image": state.image, "carried": state.clues})).strip()
        except Exception as err:  # a failing model must not end the mention's run
            step["error"] = f"{type(err).__name__}: {err}"
        if step["text"]:
            step["used"] = True
            return {
                "clue_steps": [*steps, step],
                "round": state.round + 1,
                "clue": step["text"],
                "clue_tool": tool_name,
                "excluded": [],
            }
        steps.append(step)
    return {"clue_steps": steps, "clue": "", "clue_tool": None}
