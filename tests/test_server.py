"""`langgraph dev` serves the graph offline with no API key (a real HTTP round trip)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server():
    if shutil.which("langgraph") is None:
        pytest.skip("langgraph-cli is not installed (pip install 'langgraph-cli[inmem]')")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(LANGSMITH_TRACING="false", HF_HUB_OFFLINE="1")
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


def test_ok_endpoint(server):
    assert httpx.get(f"{server}/ok", timeout=5).json()["ok"] is True


def test_run_through_http_api_links_an_entity(server):
    body = {
        "assistant_id": "i2cr",
        "input": {
            "mention": "Ed Rendell",
            "context": "Governor Ed Rendell announced the state budget.",
            "candidates": [
                {
                    "name": "Ed Rendell",
                    "desc": "American politician, governor of Pennsylvania.",
                    "qid": "Q2",
                },
                {"name": "Ruth Rendell", "desc": "English author of crime novels.", "qid": "Q1"},
            ],
        },
        "context": {"use_iav": False, "use_vif": False},
    }
    reply = httpx.post(f"{server}/runs/wait", json=body, timeout=300)
    assert reply.status_code == 200, reply.text
    result = reply.json()["result"]
    assert result["entity"] in {"Ed Rendell", "Ruth Rendell"}
    assert result["qid"] in {"Q1", "Q2"}
    assert result["selector_calls"] >= 1
