"""Every setting as a reader needs it: type, default, rule, who may set it, what it does.

Read from the `Context` declarations, so `i2cr settings` and the documentation's settings
reference list exactly the settings the code has.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any, Literal, get_args, get_origin, get_type_hints

from i2cr.context import ENV_PREFIX, Context
from i2cr.context.setting import OPERATOR_NOTE

Who = Literal["run", "operator", "server"]
WHO_MEANS = {
    "run": "may come from a run: the command line, Python, or a server client's `context`",
    "operator": "set by whoever starts the process: the command line, Python, or `I2CR_*` "
    "variables; a server's clients cannot change it",
    "server": "read only by a LangGraph server, from its `I2CR_*` variables",
}
TYPE_NAMES = {bool: "boolean", int: "integer", float: "number", str: "text"}


@dataclass(frozen=True)
class SettingDoc:
    """One setting as the reference shows it."""

    name: str
    kind: str
    default: str
    rule: str
    who: Who
    description: str
    group: str

    @property
    def variable(self) -> str:
        """The environment variable that sets it."""
        return ENV_PREFIX + self.name.upper()


def setting_docs() -> list[SettingDoc]:
    """Every setting, in declaration order within its group."""
    hints = get_type_hints(Context)
    return [
        SettingDoc(
            name=f.name,
            kind=type_name(hints[f.name]),
            default=shown_default(f.default),
            rule=rule_of(f.metadata),
            who=who_of(f.metadata),
            description=f.metadata["description"].removeprefix(OPERATOR_NOTE),
            group=group_of(f.name),
        )
        for f in fields(Context)
    ]


def shown_default(value: Any) -> str:
    """A default as it is typed after `--set FIELD=` or in an `I2CR_*` variable."""
    if isinstance(value, bool):
        return str(value).lower()
    return '""' if value == "" else str(value)


def type_name(hint: Any) -> str:
    """A setting's type in words: boolean, integer, number, text, or its choices."""
    choices = get_args(hint) if get_origin(hint) is Literal else ()
    if choices:
        return "one of " + ", ".join(repr(c) for c in choices)
    base = get_args(hint)[0] if get_args(hint) else hint  # Annotated[str, ...] is text
    return TYPE_NAMES.get(base, str(base))


def rule_of(metadata: Any) -> str:
    """The bounds a setting's value must keep, in words ('' when none)."""
    words = {"at_least": "at least", "more_than": "more than", "at_most": "at most"}
    rules = [f"{words[key]} {metadata[key]:g}" for key in words if key in metadata]
    if "between" in metadata:
        low, high = metadata["between"]
        rules.append(f"between {low:g} and {high:g}")
    return ", ".join(rules)


def who_of(metadata: Any) -> Who:
    """Who may set it: any run, the operator, or only a server's operator."""
    if metadata["server_only"]:
        return "server"
    return "operator" if metadata["operator"] else "run"


def group_of(name: str) -> str:
    """The first line of the docstring of the settings class that declares the field."""
    for cls in reversed(Context.__mro__):
        if dataclasses.is_dataclass(cls) and name in getattr(cls, "__annotations__", {}):
            return (cls.__doc__ or cls.__name__).strip().splitlines()[0].rstrip(".")
    return "Other settings"
