"""Over HTTP no run holds `langgraph dev` for long: the time budget, and cancel on disconnect.

The server's selector is the loopback stand-in answering each call after 2 s; every try fails
ICR (alpha 0.99), so without limits a run would make 15 calls (3 per round, 5 rounds).
"""

from __future__ import annotations

import time

import httpx
import pytest
from langgraph_dev import langgraph_dev

from i2cr.testing.openai_stub import Reply, serve

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
