"""End to end: the default selector, merged with its adapter, behind `transformers serve`.

The small twin of the paper's "Llama-3-8B + LoRA behind vLLM": the graph links through
`selector=openai:<model>` + `selector_base_url` and must answer as the in-process selector.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import CANDIDATES

from i2cr import graph
from i2cr.batch import link_one
from i2cr.context import Context
from i2cr.datasets import load_release
from i2cr.finetune.export import merge_adapter
from i2cr.models.adapters import resolve_adapter

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
WIKIMEL_DEV = DATA / "wikimel" / "wikimel_dev.json"
STARTUP_S = 180


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.time() + STARTUP_S
    while time.time() < deadline:
        if server.poll() is not None:
            pytest.fail(f"transformers serve exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"transformers serve not healthy after {STARTUP_S} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Context, Context]]:
    """(in-process context, HTTP context) for the default selector and its shipped adapter."""
    local = Context()
    merged = merge_adapter("smollm2", resolve_adapter(local.adapter), tmp_path_factory.mktemp("m"))
    port = free_port()
    log = tmp_path_factory.mktemp("log") / "serve.log"
    command = [
        str(Path(sys.executable).with_name("transformers")),
        *("serve", str(merged), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"),
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    with log.open("w") as sink:
        server = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", server, log)
        remote = Context(
            selector=f"openai:{merged}", selector_base_url=f"http://127.0.0.1:{port}/v1"
        )
        yield local, remote
    finally:
        server.terminate()
        server.wait(timeout=30)


def tries(record: dict) -> list[tuple]:
    """What the selector decided at each try, and the final answer."""
    steps = [(a["round"], a["try_index"], a["entity"], a["match"]) for a in record["attempts"]]
    return [*steps, record["result"]["entity"]]


def test_the_served_selector_links_and_answers_as_the_in_process_one(served, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    local, remote = served
    mention = {"mention": "Rendell", "context": "Governor Rendell signed the budget."}
    over_http = link_one(graph, {**mention, "candidates": CANDIDATES}, remote)
    in_process = link_one(graph, {**mention, "candidates": CANDIDATES}, local)
    assert over_http["result"]["entity"] in {c["name"] for c in CANDIDATES}
    assert tries(over_http) == tries(in_process)


@pytest.mark.skipif(not WIKIMEL_DEV.is_file(), reason=f"WikiMEL dev not present at {WIKIMEL_DEV}")
def test_the_served_selector_agrees_with_the_in_process_one_on_wikimel_dev(served, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    local, remote = served
    samples = load_release(WIKIMEL_DEV)[:5]
    for sample in samples:
        over_http = link_one(graph, sample.graph_input(), remote)
        assert "error" not in over_http
        assert tries(over_http) == tries(link_one(graph, sample.graph_input(), local)), sample.id
