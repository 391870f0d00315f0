"""How a setting is declared: its default, its description and the rules on its value.

The rules live on the field (`operator`, `server_only`, `at_least`, `more_than`, `at_most`,
`between`), and `Context` derives its checks and the lists of operator and server-only settings
from them.
"""

from __future__ import annotations

import math
from dataclasses import Field, field
from typing import Any

from i2cr.errors import SettingError

OPERATOR_NOTE = "Operator setting: "


def setting(
    default: Any,
    description: str,
    *,
    operator: bool = False,
    server_only: bool = False,
    at_least: float | None = None,
    more_than: float | None = None,
    at_most: float | None = None,
    between: tuple[float, float] | None = None,
) -> Any:
    """A settings field with its description and rules.

    `operator`: set only by whoever starts the process (environment, CLI, Python), never by a
    server client's run context; its description says so. `server_only`: an operator setting
    that only a LangGraph server reads, so the command line refuses it.
    """
    rules = {"at_least": at_least, "more_than": more_than, "at_most": at_most, "between": between}
    metadata = {
        "description": OPERATOR_NOTE + description if operator or server_only else description,
        "operator": operator or server_only,
        "server_only": server_only,
        **{rule: value for rule, value in rules.items() if value is not None},
    }
    return field(default=default, metadata=metadata)


def check_value(f: Field[Any], value: Any) -> None:
    """Raise SettingError naming the field when its value breaks one of its rules."""
    rules = f.metadata
    if "at_least" in rules and not value >= rules["at_least"]:
        raise SettingError(f"{f.name} must be at least {rules['at_least']:g}, got {value}")
    if "more_than" in rules and not value > rules["more_than"]:
        raise SettingError(f"{f.name} must be more than {rules['more_than']:g}, got {value}")
    if "at_most" in rules and not value <= rules["at_most"]:
        raise SettingError(f"{f.name} must be at most {rules['at_most']:g}, got {value}")
    if "between" in rules:
        check_between(f.name, value, rules["between"])


def check_between(name: str, value: float, bounds: tuple[float, float]) -> None:
    """Raise SettingError when `value` lies outside `bounds` (inclusive)."""
    low, high = bounds
    if not low <= value <= high:
        raise SettingError(f"{name} must be between {low:g} and {high:g}, got {value}")


UNBOUNDED = (-math.inf, math.inf)
