"""Image-to-text models as LangChain tools, looked up by clue kind and provider."""

from __future__ import annotations

from functools import lru_cache

from i2cr.context import CLUE_TOOLS
from i2cr.tools.azure import azure_tool
from i2cr.tools.base import ClueInput, ClueTool, ProviderFactory
from i2cr.tools.carried import carried_tool
from i2cr.tools.hub import hub_tool
from i2cr.tools.imagenet_tags import efficientnet_tags_tool
from i2cr.tools.rapidocr import rapidocr_tool

PROVIDERS: dict[str, ProviderFactory] = {
    "carried": carried_tool,
    "rapidocr": rapidocr_tool,
    "efficientnet": efficientnet_tags_tool,
    "hub": hub_tool,
    "azure": azure_tool,
}


@lru_cache(maxsize=64)
def get_clue_tool(kind: str, provider: str) -> ClueTool:
    """The tool that produces `kind` clues with `provider`."""
    if kind not in CLUE_TOOLS:
        raise ValueError(f"unknown clue tool {kind!r}; known: {list(CLUE_TOOLS)}")
    if provider not in PROVIDERS:
        raise ValueError(f"unknown clue provider {provider!r}; known: {sorted(PROVIDERS)}")
    return PROVIDERS[provider](kind)


__all__ = ["PROVIDERS", "ClueInput", "ClueTool", "get_clue_tool"]
