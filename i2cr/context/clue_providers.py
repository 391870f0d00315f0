"""The `clue_providers` setting: a default provider first, then 'tool=provider' overrides."""

from __future__ import annotations

from collections.abc import Sequence

from i2cr.context.kinds import CLUE_PROVIDERS, CLUE_TOOLS
from i2cr.errors import SettingError

DEFAULT_PROVIDER = "auto"


def accepted_form() -> str:
    """How a `clue_providers` value is written, with the names it may use."""
    makes = "; ".join(
        f"{name} makes only {kinds[0]}" for name, kinds in CLUE_PROVIDERS.items() if len(kinds) == 1
    )
    return (
        "the accepted form is a default provider first, then 'tool=provider' overrides, "
        "comma-separated, e.g. 'auto' or 'carried,ocr=rapidocr,tags=efficientnet' "
        f"(providers: {', '.join(CLUE_PROVIDERS)}; tools: {', '.join(CLUE_TOOLS)}; {makes})"
    )


def providers_by_tool(value: str, tools: Sequence[str] = CLUE_TOOLS) -> dict[str, str]:
    """The provider named for each of `tools`; a SettingError naming the accepted form else.

    Without a leading bare provider the default is 'auto'. A provider must make the tool it is
    named for: a bare 'rapidocr' (OCR only) cannot be every tool's default.
    """
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts:
        raise _malformed(value, "it names no provider")
    default, overrides = DEFAULT_PROVIDER, {}
    for position, part in enumerate(parts):
        tool, sep, provider = (s.strip() for s in part.partition("="))
        if not sep:
            provider, tool = tool, ""
            if position:
                raise _malformed(value, f"{part!r} is a bare provider after the first entry")
        elif tool not in CLUE_TOOLS:
            raise _malformed(value, f"{tool!r} is no clue tool")
        if provider not in CLUE_PROVIDERS:
            raise _malformed(value, f"{provider!r} is no provider")
        if tool and tool not in CLUE_PROVIDERS[provider]:
            raise _malformed(value, f"{provider} does not make {tool} clues")
        if tool:
            overrides[tool] = provider
        else:
            default = provider
    chosen = {tool: overrides.get(tool, default) for tool in tools}
    unmade = [tool for tool, provider in chosen.items() if tool not in CLUE_PROVIDERS[provider]]
    if unmade:
        raise _malformed(
            value, f"the default provider {default} does not make {', '.join(unmade)} clues"
        )
    return chosen


def _malformed(value: str, problem: str) -> SettingError:
    return SettingError(f"clue_providers={value!r}: {problem}; {accepted_form()}")
