"""The HTTP app `langgraph.json` adds to a LangGraph server: client requests checked at the door.

LangGraph Server applies this app's middleware to its own routes. Whatever a client sends is
untrusted, on every route that takes settings or state:

- settings: a `context` or `config.configurable` naming a field that is not a setting is
  refused with 422 naming it (LangGraph would drop it silently, so a misspelt setting would
  run with its default), one naming an operator setting with 403; on runs (`/runs`, `/wait`,
  `/stream`, `/batch`, on a thread or not), crons (create and update) and assistants (create
  and update);
- run commands (`command`) and thread state writes (`POST /threads/{id}/state`, a thread
  created with `supersteps`) are refused with 403 unless the operator allows them
  (`I2CR_CLIENT_COMMANDS`, `I2CR_CLIENT_STATE_WRITES`); a `webhook` (the server calling a
  client's URL) always is;
- `on_disconnect` defaults to `cancel` for `/runs/wait` and `/runs/stream`, so a run whose
  client has gone stops at its next step (LangGraph's default is `continue`; a client may
  still ask for it);
- an MCP `tools/call` (`/mcp`) whose `context` would be refused on `/runs/wait` is answered
  as a tool error naming the settings (the MCP route would turn the refusal into HTTP 500).

Behind the door, every node of the graph checks the state it is given (`i2cr.graph.guard`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, fields
from typing import Any, get_type_hints

from starlette.applications import Starlette
from starlette.middleware import Middleware

from i2cr.context import ENV_PREFIX, OPERATOR_SETTINGS, Context, coerce_setting
from i2cr.errors import SettingError
from i2cr.serving import operator_settings_refused

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

RUNS = re.compile(r"^(?:/threads/[^/]+)?/runs(?P<kind>/wait|/stream|/batch)?/?$")
CRONS = re.compile(r"^(?:/threads/[^/]+)?/runs/crons(?:/[^/]+)?/?$")
ASSISTANTS = re.compile(r"^/assistants(?:/[^/]+)?/?$")
THREAD_STATE = re.compile(r"^/threads/[^/]+/state/?$")
THREADS = re.compile(r"^/threads/?$")
MCP = re.compile(r"^/mcp/?$")
SETTINGS = frozenset(f.name for f in fields(Context))
HINTS = get_type_hints(Context)
# What LangGraph itself reads from `configurable`: the thread and checkpoint to run on.
LANGGRAPH_CONFIGURABLE = frozenset({"thread_id", "checkpoint_id", "checkpoint_ns"})


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: an HTTP status and a message naming what to change."""

    status: int
    detail: str


def unknown_settings(payload: object) -> list[str]:
    """Fields of a payload's `context` and `config.configurable` that are not settings."""
    context, configurable = _settings_of(payload)
    unknown = set(context) - SETTINGS
    unknown |= set(configurable) - SETTINGS - LANGGRAPH_CONFIGURABLE
    return sorted(unknown)


def operator_settings_changed(payload: object, operator: Context) -> list[str]:
    """The operator settings a payload asks to change."""
    context, configurable = _settings_of(payload)
    changed = []
    for name, value in {**configurable, **context}.items():
        if name not in OPERATOR_SETTINGS:
            continue
        try:
            same = coerce_setting(name, value, HINTS[name]) == getattr(operator, name)
        except SettingError:
            same = False
        if not same:
            changed.append(name)
    return sorted(changed)


def _settings_of(payload: object) -> tuple[dict[str, Any], dict[str, Any]]:
    if not isinstance(payload, dict):
        return {}, {}
    context = payload.get("context")
    config = payload.get("config")
    configurable = config.get("configurable") if isinstance(config, dict) else None
    return (
        context if isinstance(context, dict) else {},
        configurable if isinstance(configurable, dict) else {},
    )


def check_request(method: str, path: str, body: Any, operator: Context) -> Refusal | None:
    """The refusal of a client request, or None when it may go on (`body` may be amended)."""
    if method == "POST" and THREAD_STATE.match(path):
        return _not_allowed("thread state writes", "client_state_writes", operator)
    if method == "POST" and THREADS.match(path) and isinstance(body, dict):
        if body.get("supersteps"):
            return _not_allowed("threads created with supersteps", "client_state_writes", operator)
        return None
    runs = RUNS.match(path) if method == "POST" else None
    takes_settings = (
        runs is not None
        or (method in ("POST", "PATCH") and CRONS.match(path))
        or (method in ("POST", "PATCH") and ASSISTANTS.match(path))
    )
    if not takes_settings:
        return None
    payloads = body if runs and runs["kind"] == "/batch" and isinstance(body, list) else [body]
    refusal = _check_payloads(payloads, operator)
    if refusal is None and runs and runs["kind"] in ("/wait", "/stream") and isinstance(body, dict):
        body.setdefault("on_disconnect", "cancel")
    return refusal


def mcp_tool_error(body: Any, operator: Context) -> dict[str, Any] | None:
    """The JSON-RPC reply refusing an MCP `tools/call` whose `context` the door refuses."""
    if not isinstance(body, dict) or body.get("method") != "tools/call":
        return None
    params = body.get("params")
    context = params.get("context") if isinstance(params, dict) else None
    refusal = _check_payloads([{"context": context}], operator)
    if refusal is None:
        return None
    content = [{"type": "text", "text": refusal.detail}]
    return {"jsonrpc": "2.0", "id": body.get("id"), "result": {"isError": True, "content": content}}


def _check_payloads(payloads: list[Any], operator: Context) -> Refusal | None:
    unknown = sorted({name for payload in payloads for name in unknown_settings(payload)})
    if unknown:
        known = ", ".join(sorted(SETTINGS))
        return Refusal(422, f"unknown context settings {unknown}; the settings are: {known}")
    changed = sorted({n for p in payloads for n in operator_settings_changed(p, operator)})
    if changed:
        return Refusal(403, operator_settings_refused(changed))
    for payload in payloads:
        if isinstance(payload, dict) and payload.get("webhook"):
            return Refusal(403, "webhooks are refused: this server calls no client's URL")
        if isinstance(payload, dict) and payload.get("command") is not None:
            return _not_allowed("run commands", "client_commands", operator)
    return None


def _not_allowed(what: str, setting: str, operator: Context) -> Refusal | None:
    if getattr(operator, setting):
        return None
    variable = ENV_PREFIX + setting.upper()
    return Refusal(403, f"{what} are not accepted from clients of this server ({variable}=false)")


class RunRequestCheck:
    """ASGI middleware applying `check_request` to every JSON request with a body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check a request that writes, then hand it on."""
        method = scope.get("method") if scope["type"] == "http" else None
        if method not in ("POST", "PATCH", "PUT"):
            await self.app(scope, receive, send)
            return
        raw = await read_body(receive)
        try:
            body = json.loads(raw)
        except ValueError:
            await self.app(scope, replay(raw, receive), send)  # the server reports bad JSON
            return
        path = scope.get("path", "")
        tool_error = mcp_tool_error(body, Context()) if MCP.match(path) else None
        if tool_error is not None:
            await send_json(send, 200, tool_error)
            return
        refusal = check_request(method, path, body, Context())
        if refusal is not None:
            await send_json(send, refusal.status, {"detail": refusal.detail})
            return
        await self.app(scope, replay(json.dumps(body).encode(), receive), send)


async def read_body(receive: Receive) -> bytes:
    """The whole request body."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives `body` once, then what the client sends (its disconnect)."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


async def send_json(send: Send, status: int, payload: object) -> None:
    """Answer with a JSON body."""
    data = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


app = Starlette(middleware=[Middleware(RunRequestCheck)])
