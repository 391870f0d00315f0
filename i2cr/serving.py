"""Runs started by a LangGraph server's clients: their context may hold run settings only.

LangGraph builds a run's `Context` from the client's JSON `context`; a run carries
`server_info` exactly when a LangGraph server (`langgraph dev`, LangGraph Server) started it.
In such a run an operator setting (see `OPERATOR_SETTINGS`) must be what the server's
operator set: a client asking for another value is refused, naming the settings.
"""

from __future__ import annotations

from typing import Any

from i2cr.context import ENV_PREFIX, OPERATOR_SETTINGS, Context
from i2cr.errors import SettingError


def is_served(runtime: Any) -> bool:
    """Tell whether a LangGraph server's client started the run of this runtime."""
    return getattr(runtime, "server_info", None) is not None


def resolve_settings(runtime: Any) -> Context:
    """The run's context (the operator's defaults when none came), checked for served runs.

    Resolved once per run (`i2cr.runs.this_run`); nodes read it through `nodes.common.settings_of`.
    """
    settings = getattr(runtime, "context", None)
    if not isinstance(settings, Context):
        return Context()
    if is_served(runtime):
        refuse_operator_settings(settings)
    return settings


def refuse_operator_settings(settings: Context) -> None:
    """Raise SettingError when the context sets an operator setting the operator did not."""
    operator = Context()
    changed = sorted(n for n in OPERATOR_SETTINGS if getattr(settings, n) != getattr(operator, n))
    if changed:
        raise SettingError(operator_settings_refused(changed))


def operator_settings_refused(names: list[str]) -> str:
    """Why a client may not set these operator settings, naming their variables."""
    variables = ", ".join(ENV_PREFIX + name.upper() for name in names)
    return (
        f"a run's context cannot set {', '.join(names)}: these are server settings, set by "
        f"whoever starts the server ({variables})"
    )
