"""Over HTTP no run holds `langgraph dev` for long: the time budget, and cancel on disconnect.

The server's selector is the loopback stand-in answering each call after 2 s; every try fails
ICR (alpha 0.99), so without limits a run would make 15 calls (3 per round, 5 rounds). Its
operator allows run commands and thread state writes: the limits hold on them too.
"""

from __future__ import annotations

import time

import httpx
import pytest
from langgraph_dev import langgraph_dev
from openai_stub import Reply, serve

CALL_S = 2.0
BUDGET_S = 4

pytestmark = pytest.mark.slow

CANDIDATES = [
    {"name": "Ed Rendell", "desc": "American politician, governor of Pennsylvania.", "qid": "Q2"},
    {"name": "Ruth Rendell", "desc": "English author of crime novels.", "qid": "Q1"},
    {"name": "Don Rendell", "desc": "English jazz saxophonist.", "qid": "Q3"},
]
CLUES = {"ocr": "RENDELL", "caption": "a man", "dense_caption": "a man; a flag", "tags": "man"}
BODY = {
    "assistant_id": "i2cr",
    "input": {"mention": "Rendell", "candidates": CANDIDATES, "clues": CLUES},
    "context": {"ranker": "none", "alpha": 0.99, "use_iav": False},
}


@pytest.fixture(scope="module")
def stub():
    with serve(lambda attempt: Reply(delay_s=CALL_S)) as server:
        yield server


@pytest.fixture(scope="module")
def server(stub):
    with langgraph_dev(
        I2CR_SELECTOR="openai:standin",
        I2CR_SELECTOR_BASE_URL=stub.base_url,
        I2CR_SELECTOR_RETRIES="0",
        I2CR_MAX_SECONDS_PER_MENTION=str(BUDGET_S),
        I2CR_CLIENT_COMMANDS="true",
        I2CR_CLIENT_STATE_WRITES="true",
    ) as base:
        yield base


def test_a_run_past_the_budget_ends_with_a_clear_error(server, stub):
    before = stub.requests
    started = time.perf_counter()
    reply = httpx.post(f"{server}/runs/wait", json=BODY, timeout=120)
    seconds = time.perf_counter() - started
    error = reply.json()["__error__"]
    assert error["error"] == "TimeBudgetError"
    assert f"over max_seconds_per_mention={BUDGET_S}" in error["message"]
    # Less than the 15 calls' time alone (the budget counts the embedder's first load too).
    assert seconds < 15 * CALL_S
    assert stub.requests - before < 15


def calls_after_walking_away(server, stub, on_disconnect: str | None) -> int:
    """Selector calls a run makes when its client leaves during the first one."""
    before = stub.requests
    body = BODY if on_disconnect is None else {**BODY, "on_disconnect": on_disconnect}
    # No event comes during a call: the client leaves without reading, once the call is made.
    with httpx.stream("POST", f"{server}/runs/stream", json=body, timeout=60):
        deadline = time.time() + 30
        while stub.requests == before and time.time() < deadline:
            time.sleep(0.1)
    time.sleep(BUDGET_S + 2 * CALL_S)  # the run, if it goes on, has made its next call by now
    return stub.requests - before


def test_a_run_its_client_leaves_stops_unless_the_client_asked_to_continue(server, stub):
    assert calls_after_walking_away(server, stub, None) == 1
    assert calls_after_walking_away(server, stub, "cancel") == 1
    # The run goes on without its client, until the budget stops it.
    assert calls_after_walking_away(server, stub, "continue") >= 2


BIG_MENTION = "Rendell " * 3000  # 24 kB


def test_a_command_past_retrieve_meets_the_input_limits(server, stub):
    before = stub.requests
    command = {"update": {"mention": BIG_MENTION, "candidates": CANDIDATES}, "goto": "select"}
    reply = httpx.post(f"{server}/runs/wait", json={**BODY, "command": command}, timeout=60)
    error = reply.json()["__error__"]
    assert error["error"] == "InputError"
    assert "mention cut from 24000 to 1000 characters (max_mention_chars)" in error["message"]
    assert stub.requests == before


def test_a_command_past_retrieve_meets_the_time_budget(server, stub):
    command = {"update": BODY["input"], "goto": "select"}
    started = time.perf_counter()
    reply = httpx.post(f"{server}/runs/wait", json={**BODY, "command": command}, timeout=120)
    assert reply.json()["__error__"]["error"] == "TimeBudgetError"
    assert time.perf_counter() - started < BUDGET_S + 3 * CALL_S


def test_state_written_by_a_client_meets_the_limits_and_cannot_move_the_clock(server, stub):
    before = stub.requests
    new_thread = {"metadata": {"graph_id": "i2cr"}}
    thread = httpx.post(f"{server}/threads", json=new_thread, timeout=30).json()["thread_id"]
    state = f"{server}/threads/{thread}/state"
    values = {"mention": BIG_MENTION, "candidates": CANDIDATES, "image": "/etc/passwd"}
    reply = httpx.post(state, json={"values": values, "as_node": "retrieve"}, timeout=30)
    assert reply.status_code == 200, reply.text
    run = {"assistant_id": "i2cr", "input": None, "context": BODY["context"]}
    reply = httpx.post(f"{server}/threads/{thread}/runs/wait", json=run, timeout=60)
    error = reply.json()["__error__"]
    assert error["error"] == "InputError" and "(max_mention_chars)" in error["message"]
    assert stub.requests == before
    # A clock field written with valid input changes nothing: the budget is the run's own.
    values = {**BODY["input"], "image": None, "started_at": 0}
    reply = httpx.post(state, json={"values": values, "as_node": "retrieve"}, timeout=30)
    started = time.perf_counter()
    reply = httpx.post(f"{server}/threads/{thread}/runs/wait", json=run, timeout=120)
    assert reply.json()["__error__"]["error"] == "TimeBudgetError"
    assert time.perf_counter() - started < BUDGET_S + 3 * CALL_S
