"""The OpenAI-compatible selector against loopback stand-ins: retries, timeouts, rate, threads."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from helpers import CANDIDATES

from i2cr import graph
from i2cr.batch import read_jsonl_rows, run_batch
from i2cr.context import Context
from i2cr.testing.openai_stub import Reply, serve

TES_ONLY = {"use_icr": False, "use_iav": False, "use_vif": False, "ranker": "none"}


@pytest.fixture(autouse=True)
def no_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A self-hosted server needs no key: the selector must work without OPENAI_API_KEY."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def remote(base_url: str, **settings: object) -> Context:
    return Context(selector="openai:stub", selector_base_url=base_url, **{**TES_ONLY, **settings})


def link_rows(
    tmp_path: Path, context: Context, count: int, workers: int = 1, retry_errors: bool = False
) -> list[dict]:
    tmp_path.mkdir(exist_ok=True)
    rows = tmp_path / "in.jsonl"
    lines = [{"id": f"m{i}", "mention": "Rendell", "candidates": CANDIDATES} for i in range(count)]
    rows.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "out.jsonl"
    run_batch(
        graph,
        read_jsonl_rows(rows),
        out,
        context,
        progress=False,
        workers=workers,
        retry_errors=retry_errors,
    )
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_three_failed_tries_of_every_request_lose_no_row_with_the_defaults(tmp_path):
    def script(attempt: int) -> Reply:
        quick = {"retry-after-ms": "20"}
        if attempt < 2:
            return Reply(status=429, headers=quick)
        return Reply(status=500, headers=quick) if attempt == 2 else Reply()

    with serve(script) as server:
        records = link_rows(tmp_path, remote(server.base_url), 3)
    assert [r.get("error") for r in records] == [None, None, None]
    assert [r["result"]["entity"] for r in records] == [CANDIDATES[0]["name"]] * 3
    assert server.requests == 3 * 4


def test_retry_after_is_honoured(tmp_path):
    with serve(lambda attempt: Reply(429, {"retry-after": "1"}) if attempt == 0 else Reply()) as (
        server
    ):
        started = time.perf_counter()
        records = link_rows(tmp_path, remote(server.base_url), 1)
        elapsed = time.perf_counter() - started
    assert records[0]["result"]["entity"] == CANDIDATES[0]["name"]
    assert elapsed >= 1.0, "the SDK's own first backoff is at most 0.5 s"


def test_after_the_last_retry_the_row_is_an_error_with_the_servers_message(tmp_path):
    with serve(lambda attempt: Reply(500, {"retry-after-ms": "10"})) as server:
        records = link_rows(tmp_path, remote(server.base_url, selector_retries=2), 2)
    assert server.requests == 2 * 3
    assert all("stub says 500" in r["error"] for r in records)


def test_a_rerun_with_retry_errors_completes_the_error_rows(tmp_path):
    with serve(lambda attempt: Reply(500, {"retry-after-ms": "10"})) as down:
        link_rows(tmp_path, remote(down.base_url, selector_retries=0), 3, workers=2)
    with serve(lambda attempt: Reply()) as up:
        records = link_rows(tmp_path, remote(up.base_url), 3, workers=2, retry_errors=True)
    latest = {r["id"]: r for r in records}
    assert sorted(latest) == ["m0", "m1", "m2"]
    assert [latest[i].get("error") for i in sorted(latest)] == [None, None, None]
    assert up.requests == 3


def test_a_server_that_never_answers_times_out(tmp_path):
    with serve(lambda attempt: Reply(hang=True)) as server:
        context = remote(server.base_url, selector_timeout_s=0.5, selector_retries=1)
        started = time.perf_counter()
        records = link_rows(tmp_path, context, 1)
        elapsed = time.perf_counter() - started
    assert "timed out" in records[0]["error"].lower()
    assert server.requests == 2
    assert elapsed < 5


def test_requests_per_second_paces_every_worker_together(tmp_path):
    with serve(lambda attempt: Reply()) as server:
        context = remote(server.base_url, selector_requests_per_second=5.0)
        link_rows(tmp_path / "warm-up", context, 1)  # first use: client setup, imports
        started = time.perf_counter()
        records = link_rows(tmp_path, context, 8, workers=4)
        elapsed = time.perf_counter() - started
    assert all("error" not in r for r in records)
    assert elapsed >= (8 - 1) / 5


def test_workers_overlap_remote_requests(tmp_path):
    latency = 0.3
    with serve(lambda attempt: Reply(delay_s=latency)) as server:
        started = time.perf_counter()
        records = link_rows(tmp_path, remote(server.base_url), 24, workers=8)
        elapsed = time.perf_counter() - started
    assert sorted(r["id"] for r in records) == sorted(f"m{i}" for i in range(24))
    assert server.most_in_flight >= 6
    assert elapsed < 24 * latency / 2.5
