"""Run-time settings of the I2CR graph, passed as LangGraph's `context_schema`.

Every field can be overridden by an environment variable named `I2CR_<FIELD>` (for example
`I2CR_SELECTOR=openai:gpt-4o`) when the field is not given explicitly. The fields are grouped
by what they set (`models`, `method`, `server`); each declares its rules (`setting`), from
which the checks here and `OPERATOR_SETTINGS` are derived.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import get_type_hints

from i2cr.context.clue_providers import providers_by_tool
from i2cr.context.coercion import coerce_setting
from i2cr.context.kinds import CLUE_TOOLS, ENV_PREFIX, MAX_CANDIDATE_COUNT, RankerKind
from i2cr.context.method import MethodSettings
from i2cr.context.models import ModelSettings
from i2cr.context.server import ServerSettings
from i2cr.context.setting import UNBOUNDED, check_between, check_value
from i2cr.errors import SettingError
from i2cr.models.adapters import ADAPTER_FOR_SELECTOR

# ICR's score spans a range that depends on its rule; a threshold outside it decides nothing.
ALPHA_RANGES = {"absolute": (-1.0, 1.0), "margin": (-2.0, 2.0)}


@dataclass(kw_only=True)
class Context(ServerSettings, MethodSettings, ModelSettings):
    """The settings of one I2CR run (selector, models, thresholds, rounds, switches)."""

    def __new__(cls, *args: object, **settings: object) -> Context:
        """Refuse unknown setting names, listing the known ones (before the dataclass init)."""
        unknown = sorted(set(settings) - {f.name for f in fields(cls)})
        if unknown:
            known = ", ".join(f.name for f in fields(cls))
            raise SettingError(f"unknown settings {unknown}; the settings are: {known}")
        return super().__new__(cls)

    def __post_init__(self) -> None:
        """Apply `I2CR_*` overrides to fields at their default, convert, then check the rules.

        Every value is converted to its field's type here, whatever its source.
        """
        hints = get_type_hints(type(self))
        for f in fields(self):
            value = getattr(self, f.name)
            raw = os.environ.get(ENV_PREFIX + f.name.upper())
            if raw is not None and value == f.default:
                value = raw
            setattr(self, f.name, coerce_setting(f.name, value, hints[f.name]))
        for f in fields(self):
            check_value(f, getattr(self, f.name))
        check_between("alpha", self.alpha, ALPHA_RANGES.get(self.icr_rule, UNBOUNDED))
        needs_cross_encoder = self.icr_rule == "ranker_margin" or self.ranker_nil
        if needs_cross_encoder and self.ranker != "cross_encoder":
            raise SettingError(
                "icr_rule='ranker_margin' and ranker_nil need ranker='cross_encoder'"
            )
        if self.nil_below > 0 and self.ranker != "combined":
            raise SettingError("nil_below reads the first stage's confidence: ranker='combined'")
        unknown = [t for t in self.clue_tool_order if t not in CLUE_TOOLS]
        if unknown:
            raise SettingError(
                f"clue_order names unknown tools {unknown}; known: {list(CLUE_TOOLS)}"
            )
        providers_by_tool(self.clue_providers, self.clue_tool_order)

    @property
    def adapter(self) -> str:
        """The LoRA adapter the selector runs with ('' for none), with 'auto' resolved."""
        if self.selector_adapter == "auto":
            return ADAPTER_FOR_SELECTOR.get(self.selector, "")
        return "" if self.selector_adapter == "none" else self.selector_adapter

    @property
    def clue_tool_order(self) -> list[str]:
        """The VIF tools in the order their rounds run."""
        return [t.strip() for t in self.clue_order.split(",") if t.strip()]

    def provider_for(self, tool: str) -> str:
        """The provider configured for an image-to-text tool ('auto' picks one per input)."""
        return providers_by_tool(self.clue_providers, [tool])[tool]


# What touches the server's disk, network, models or shared limits: set by whoever starts the
# process (environment, CLI, a Context built in Python), never by a server client's run context.
OPERATOR_SETTINGS = frozenset(f.name for f in fields(Context) if f.metadata["operator"])
# Operator settings that only a LangGraph server reads: the command line refuses them.
SERVER_ONLY_SETTINGS = frozenset(f.name for f in fields(Context) if f.metadata["server_only"])

__all__ = [
    "CLUE_TOOLS",
    "ENV_PREFIX",
    "MAX_CANDIDATE_COUNT",
    "OPERATOR_SETTINGS",
    "SERVER_ONLY_SETTINGS",
    "Context",
    "RankerKind",
    "coerce_setting",
]
