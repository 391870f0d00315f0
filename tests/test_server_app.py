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
        Route("/threads/{thread}/runs/wait", echo, methods=["POST"]),
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
    assert client.post("/assistants", json={"context": {"alpah": 1}}).status_code == 200
    assert client.post("/runs/wait", content=b"{not json").json() == {"raw": "{not json"}
