"""A loopback stand-in for an OpenAI-compatible chat server, scripted per try of a request.

The tests and `benchmarks/remote_throughput.py` start it in a thread. The OpenAI SDK numbers the
tries of one request in the `x-stainless-retry-count` header, so a script can fail the first
tries of every request and answer the next one. A success answers the prompt's first
candidate (as a selector that trusts the ranker would), or `ANSWER` when there is none.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER = "<|ANSWER|>: Ed Rendell"
FIRST_CANDIDATE = re.compile(r"""(['"])1\. (.+?)\1:""")


@dataclass
class Reply:
    """What the stand-in answers to one try: a status, headers and a body."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    delay_s: float = 0.0
    hang: bool = False


def completion(content: str = ANSWER) -> dict[str, Any]:
    """A chat-completions response body answering `content`."""
    return {
        "id": "stub",
        "object": "chat.completion",
        "created": 0,
        "model": "stub",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content},
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


@dataclass
class StubServer:
    """The running stand-in: its URL and what it has seen."""

    base_url: str
    requests: int = 0
    in_flight: int = 0
    most_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)


Script = Callable[[int], Reply]


@contextmanager
def serve(script: Script) -> Iterator[StubServer]:
    """Serve `script(try number) -> Reply` on a free loopback port until the block ends."""
    state: StubServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            request = self.rfile.read(int(self.headers.get("content-length") or 0))
            prompt = json.loads(request)["messages"][-1]["content"]
            first = FIRST_CANDIDATE.search(prompt)
            reply = script(int(self.headers.get("x-stainless-retry-count") or 0))
            with state.lock:
                state.requests += 1
                state.in_flight += 1
                state.most_in_flight = max(state.most_in_flight, state.in_flight)
            try:
                if reply.hang:
                    state.release.wait()
                    return
                time.sleep(reply.delay_s)
                answer = f"<|ANSWER|>: {first.group(2)}" if first else ANSWER
                body = json.dumps(reply.body or completion(answer)).encode()
                if reply.status != 200 and reply.body is None:
                    body = json.dumps({"error": {"message": f"stub says {reply.status}"}}).encode()
                self.send_response(reply.status)
                for name, value in {"content-type": "application/json", **reply.headers}.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            finally:
                with state.lock:
                    state.in_flight -= 1

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state = StubServer(base_url=f"http://127.0.0.1:{server.server_address[1]}/v1")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
