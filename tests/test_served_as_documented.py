"""`langgraph dev` as the docs use it: the example request with curl, and the MCP tool."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from doc_commands import shell_commands
from langgraph_dev import langgraph_dev

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
HEADERS = {"accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def server():
    with langgraph_dev() as base:
        yield base


@pytest.fixture
def mcp(server):
    return f"{server}/mcp"


def test_the_example_request_links_with_the_documented_curl(server):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    serve_page = EXAMPLES.parent / "docs" / "how-to" / "serve.md"
    command = next(
        c for c in shell_commands(serve_page) if c.startswith("curl -s localhost:2024/runs")
    )
    command = command.replace("localhost:2024", server.removeprefix("http://"))
    done = subprocess.run(
        command, shell=True, cwd=EXAMPLES.parent, capture_output=True, text=True, timeout=300
    )
    result = json.loads(done.stdout)["result"]
    assert (result["entity"], result["qid"]) == ("Ed Rendell", "Q1282411")
    assert len(result["top_k"]) == 3  # the request's run setting top_k=3


def rpc(url: str, method: str, params: dict, timeout: float = 300) -> dict:
    message = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    reply = httpx.post(url, json=message, headers=HEADERS, timeout=timeout)
    assert reply.status_code == 200, reply.text
    return reply.json()["result"]


def test_tools_list_shows_the_linker_with_its_input_fields(mcp):
    tools = {tool["name"]: tool for tool in rpc(mcp, "tools/list", {})["tools"]}
    linker = tools["i2cr"]
    assert "knowledge-graph entity" in linker["description"]
    assert {"mention", "context", "image", "candidates", "clues"} <= set(
        linker["inputSchema"]["properties"]
    )


def test_tools_call_links_the_readme_mention(mcp):
    arguments = {
        "mention": "Ed Rendell",
        "context": "Governor Ed Rendell announced the budget",
        "candidates": json.loads((EXAMPLES / "candidates.json").read_text()),
    }
    result = rpc(mcp, "tools/call", {"name": "i2cr", "arguments": arguments})
    assert not result.get("isError"), result
    output = ast.literal_eval(result["content"][0]["text"])
    assert (output["result"]["entity"], output["result"]["qid"]) == ("Ed Rendell", "Q1282411")


def test_tools_call_setting_an_operator_setting_is_a_tool_error(mcp):
    params = {"name": "i2cr", "arguments": {"mention": "Ed Rendell"}, "context": {"kg": "x.db"}}
    result = rpc(mcp, "tools/call", params)
    assert result["isError"] is True
    assert "cannot set kg" in result["content"][0]["text"]
