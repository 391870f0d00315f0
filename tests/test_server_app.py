"""The run checks `langgraph.json` adds to a LangGraph server, on a stand-in of its routes."""

from __future__ import annotations

import json

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from i2cr.server_app import RunRequestCheck


async def echo(request: Request) -> JSONResponse:
    """What the server's own route would receive."""
    body = await request.body()
    try:
        return JSONResponse({"received": json.loads(body)})
    except ValueError:
        return JSONResponse({"raw": body.decode()})


ROUTES = ["/runs", "/runs/wait", "/runs/stream", "/runs/batch", "/runs/crons", "/assistants"]
server = Starlette(
    routes=[
        *(Route(path, echo, methods=["POST"]) for path in ROUTES),
        Route("/threads", echo, methods=["POST"]),
        Route("/threads/{thread}/runs/wait", echo, methods=["POST"]),
        Route("/threads/{thread}/state", echo, methods=["POST"]),
        Route("/threads/{thread}/runs/crons", echo, methods=["POST"]),
        Route("/runs/crons/{cron}", echo, methods=["PATCH"]),
        Route("/assistants/{assistant}", echo, methods=["PATCH"]),
        Route("/store/items", echo, methods=["PUT"]),
        Route("/mcp", echo, methods=["POST"]),
    ]
)
client = TestClient(RunRequestCheck(server))
RUN = {"assistant_id": "i2cr", "input": {"mention": "Rendell"}, "context": {"alpha": 0.4}}


@pytest.mark.parametrize("path", ["/runs/wait", "/runs/stream", "/threads/t1/runs/wait"])
def test_a_waiting_run_is_cancelled_when_its_client_leaves_unless_it_asks(path):
    assert client.post(path, json=RUN).json()["received"]["on_disconnect"] == "cancel"
    kept = client.post(path, json={**RUN, "on_disconnect": "continue"}).json()["received"]
    assert kept["on_disconnect"] == "continue"


def test_a_background_run_is_passed_on_unchanged():
    assert client.post("/runs", json=RUN).json()["received"] == RUN


@pytest.mark.parametrize("path", ["/runs", "/runs/wait", "/runs/crons", "/threads/t1/runs/wait"])
def test_unknown_context_settings_are_refused_by_name(path):
    reply = client.post(path, json={**RUN, "context": {"alpah": 0.3, "alpha": 0.4}})
    assert reply.status_code == 422
    assert reply.json()["detail"].startswith("unknown context settings ['alpah']; the settings")


def test_each_run_of_a_batch_is_checked():
    runs = [RUN, {**RUN, "context": {"selector_typo": "x"}}]
    reply = client.post("/runs/batch", json=runs)
    assert reply.status_code == 422 and "['selector_typo']" in reply.json()["detail"]
    assert client.post("/runs/batch", json=[RUN, RUN]).json()["received"] == [RUN, RUN]


def test_other_routes_and_bodies_that_are_not_json_pass_untouched():
    assert client.put("/store/items", json={"context": {"alpah": 1}}).status_code == 200
    assert client.post("/runs/wait", content=b"{not json").json() == {"raw": "{not json"}


SETTINGS_ROUTES = [
    ("POST", "/runs/wait"),
    ("POST", "/threads/t1/runs/crons"),
    ("PATCH", "/runs/crons/c1"),
    ("POST", "/assistants"),
    ("PATCH", "/assistants/a1"),
]


@pytest.mark.parametrize(("method", "path"), SETTINGS_ROUTES)
@pytest.mark.parametrize("where", ["context", "configurable"])
def test_unknown_settings_are_refused_wherever_a_client_puts_them(method, path, where):
    settings = {"bogus": 1, "alpha": 0.4}
    body = {"graph_id": "i2cr", "context": settings}
    if where == "configurable":
        body = {"graph_id": "i2cr", "config": {"configurable": {"thread_id": "t", **settings}}}
    reply = client.request(method, path, json=body)
    assert reply.status_code == 422
    assert reply.json()["detail"].startswith("unknown context settings ['bogus']")


@pytest.mark.parametrize(("method", "path"), SETTINGS_ROUTES)
def test_operator_settings_are_refused_at_the_door(method, path):
    body = {"graph_id": "i2cr", "config": {"configurable": {"kg": "/etc/passwd"}}}
    reply = client.request(method, path, json=body)
    assert reply.status_code == 403
    assert "cannot set kg" in reply.json()["detail"]
    assert "I2CR_KG" in reply.json()["detail"]


def test_an_operator_setting_at_the_operators_value_passes(monkeypatch):
    monkeypatch.setenv("I2CR_MAX_CANDIDATES", "50")
    reply = client.post("/assistants", json={"context": {"max_candidates": "50"}})
    assert reply.status_code == 200


COMMAND = {**RUN, "input": None, "command": {"update": {"mention": "x" * 100}, "goto": "select"}}


def test_run_commands_are_refused_unless_the_operator_allows_them(monkeypatch):
    for path in ("/runs/wait", "/threads/t1/runs/wait", "/runs"):
        reply = client.post(path, json=COMMAND)
        assert reply.status_code == 403
        assert "I2CR_CLIENT_COMMANDS=false" in reply.json()["detail"]
    batch = client.post("/runs/batch", json=[RUN, COMMAND])
    assert batch.status_code == 403
    monkeypatch.setenv("I2CR_CLIENT_COMMANDS", "true")
    assert client.post("/runs/wait", json=COMMAND).status_code == 200


def test_thread_state_writes_are_refused_unless_the_operator_allows_them(monkeypatch):
    write = {"values": {"mention": "x" * 100}, "as_node": "retrieve"}
    supersteps = {"supersteps": [{"updates": [write]}]}
    for path, body in (("/threads/t1/state", write), ("/threads", supersteps)):
        reply = client.post(path, json=body)
        assert reply.status_code == 403
        assert "I2CR_CLIENT_STATE_WRITES=false" in reply.json()["detail"]
    assert client.post("/threads", json={}).status_code == 200
    monkeypatch.setenv("I2CR_CLIENT_STATE_WRITES", "1")
    assert client.post("/threads/t1/state", json=write).status_code == 200


def test_a_webhook_is_refused():
    reply = client.post("/runs", json={**RUN, "webhook": "http://169.254.169.254/latest"})
    assert reply.status_code == 403 and "webhook" in reply.json()["detail"]


def mcp_call(context: dict) -> dict:
    arguments = {"mention": "Ed Rendell"}
    params = {"name": "i2cr", "arguments": arguments, "context": context}
    return {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params}


def test_an_mcp_call_setting_an_operator_setting_is_a_tool_error_naming_it():
    reply = client.post("/mcp", json=mcp_call({"kg": "/etc/passwd", "alpha": 0.4}))
    assert reply.status_code == 200
    answer = reply.json()
    assert answer["id"] == 7 and answer["result"]["isError"] is True
    assert "cannot set kg" in answer["result"]["content"][0]["text"]


def test_an_mcp_call_with_a_misspelt_setting_is_a_tool_error_naming_it():
    answer = client.post("/mcp", json=mcp_call({"alpah": 0.3})).json()
    assert answer["result"]["isError"] is True
    assert "unknown context settings ['alpah']" in answer["result"]["content"][0]["text"]


def test_an_mcp_call_with_run_settings_and_other_mcp_messages_pass_unchanged():
    call = mcp_call({"alpha": 0.4})
    assert client.post("/mcp", json=call).json()["received"] == call
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    assert client.post("/mcp", json=listing).json()["received"] == listing


def test_the_graph_input_schema_generates_with_described_fields_for_mcp_clients():
    from i2cr.graph import graph

    schema = graph.get_input_jsonschema()
    fields = schema["properties"]
    assert {"mention", "context", "image", "candidates", "clues"} <= set(fields)
    assert all(field.get("description") for field in fields.values())
    assert schema["$defs"]["Candidate"]["required"] == ["name", "desc"]
