"""The HTTP app `langgraph.json` adds to a LangGraph server: run requests checked at the door.

LangGraph Server applies this app's middleware to its own routes. For every request that
creates runs it

- refuses a `context` naming fields `Context` does not have (LangGraph would drop them
  silently, so a misspelt setting would run with its default), with a 422 naming them;
- makes `on_disconnect` default to `cancel` for `/runs/wait` and `/runs/stream`, so a run
  whose client has gone stops at its next step instead of holding the server (LangGraph's
  default is `continue`; a client may still ask for it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import fields
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware

from i2cr.context import Context

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

RUN_CREATION = re.compile(r"^(?:/threads/[^/]+)?/runs(?P<kind>/wait|/stream|/batch|/crons)?/?$")
SETTINGS = frozenset(f.name for f in fields(Context))


def unknown_settings(run: object) -> list[str]:
    """Fields of a run payload's `context` that are not settings."""
    context = run.get("context") if isinstance(run, dict) else None
    return sorted(set(context) - SETTINGS) if isinstance(context, dict) else []


def checked_runs(body: Any, kind: str | None) -> tuple[Any, list[str]]:
    """The run payload(s) with `on_disconnect` defaulted, and the unknown context fields."""
    runs = body if kind == "/batch" and isinstance(body, list) else [body]
    unknown = sorted({name for run in runs for name in unknown_settings(run)})
    if kind in ("/wait", "/stream") and isinstance(body, dict):
        body.setdefault("on_disconnect", "cancel")
    return body, unknown


class RunRequestCheck:
    """ASGI middleware applying `checked_runs` to the requests that create runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check a run-creating POST, then hand the request on."""
        match = RUN_CREATION.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        raw = await read_body(receive)
        try:
            body, unknown = checked_runs(json.loads(raw), match["kind"])
        except ValueError:
            await self.app(scope, replay(raw, receive), send)  # the server reports bad JSON
            return
        if unknown:
            known = ", ".join(sorted(SETTINGS))
            detail = f"unknown context settings {unknown}; the settings are: {known}"
            await send_json(send, 422, {"detail": detail})
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
