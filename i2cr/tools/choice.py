"""Which provider makes a tool's clue for one input: the 'auto' provider resolved."""

from __future__ import annotations

from collections.abc import Mapping

from i2cr.context import Context
from i2cr.tools.hub import named_hub_models

AUTO = "auto"
CARRIED = "carried"
# Why a tool did not run (on its clue step): neither is a warning.
NO_IMAGE = "no usable image"
NO_MODEL = "no model configured for this tool (name one in hub_models, or set clue_providers)"
# The image-to-text models that install from the package registry and run offline.
OFFLINE_PROVIDERS = {"ocr": "rapidocr", "tags": "efficientnet"}


def provider_for_input(tool: str, settings: Context, carried: Mapping[str, str]) -> str | None:
    """The provider that makes `tool`'s clue for an input that carries the clues `carried`.

    'auto' is 'carried' when the input carries a clue for the tool, else the offline model for
    it (RapidOCR for ocr, EfficientNet for tags), else 'hub' when `hub_models` names a model
    for it; None when it has none (caption and dense_caption without a model named).
    """
    provider = settings.provider_for(tool)
    if provider != AUTO:
        return provider
    if carried.get(tool, "").strip():
        return CARRIED
    if tool in OFFLINE_PROVIDERS:
        return OFFLINE_PROVIDERS[tool]
    return "hub" if tool in named_hub_models(settings) else None
