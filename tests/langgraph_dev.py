"""`langgraph dev` on a free loopback port, for the HTTP tests: the graph as a user serves it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def langgraph_dev(**settings: str) -> Iterator[str]:
    """Serve the project's graph with `settings` as its environment; yields the base URL.

    The environment is this one without API keys and I2CR_ settings, plus `settings`.
    """
    if shutil.which("langgraph") is None:
        pytest.skip("langgraph-cli is not installed (pip install 'langgraph-cli[inmem]')")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k[:5] != "I2CR_"}
    env.update(LANGSMITH_TRACING="false", HF_HUB_OFFLINE="1", **settings)
    process = subprocess.Popen(
        ["langgraph", "dev", "--no-browser", "--no-reload", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                if httpx.get(f"{base}/ok", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("langgraph dev did not answer /ok within 90 s")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
