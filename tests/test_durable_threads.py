"""A thread kept in PostgreSQL (langgraph-checkpoint-postgres) outlives the process that ran it.

One process links a mention on a thread with the graph compiled with a PostgresSaver and
exits; this process, with a new saver on the same database, reads the thread and goes on with
it. The server is pgserver's PostgreSQL (conftest's `pgvector_url`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("langgraph.checkpoint.postgres", reason="the durable extra is not installed")
from helpers import CANDIDATES  # noqa: E402
from langchain_core.language_models.fake_chat_models import FakeListChatModel  # noqa: E402
from langgraph.checkpoint.postgres import PostgresSaver  # noqa: E402
from postgres_cluster import fresh_database  # noqa: E402

from i2cr import Context  # noqa: E402
from i2cr.graph import build_graph  # noqa: E402
from i2cr.models.chat import register_chat_model  # noqa: E402

TESTS = Path(__file__).parent
# The run in a process of its own: the graph with a PostgresSaver, one mention on a thread.
FIRST_PROCESS = """
import sys
from helpers import CANDIDATES
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langgraph.checkpoint.postgres import PostgresSaver
from i2cr import Context
from i2cr.graph import build_graph
from i2cr.models.chat import register_chat_model

url, thread = sys.argv[1:]
register_chat_model("test:ed", FakeListChatModel(responses=["<|ANSWER|>: Ed Rendell"]))
settings = Context(selector="test:ed", use_icr=False, use_iav=False, use_vif=False, ranker="none")
with PostgresSaver.from_conn_string(url) as saver:
    saver.setup()
    linker = build_graph(checkpointer=saver)
    config = {"configurable": {"thread_id": thread}}
    out = linker.invoke({"mention": "Rendell", "candidates": CANDIDATES}, config, context=settings)
    print(out["result"]["entity"])
"""


def test_a_thread_in_postgres_survives_the_process_that_ran_it(tmp_path, pgvector_url):
    url = fresh_database(pgvector_url, "threads")
    script = tmp_path / "first_process.py"
    script.write_text(FIRST_PROCESS)
    path = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, str(script), url, "thread-1"],
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "Ed Rendell"

    config = {"configurable": {"thread_id": "thread-1"}}
    with PostgresSaver.from_conn_string(url) as saver:
        linker = build_graph(checkpointer=saver)
        state = linker.get_state(config)
        assert state.values["result"]["entity"] == "Ed Rendell"
        assert state.next == ()
        steps = [s.metadata["step"] for s in linker.get_state_history(config)]
        assert max(steps) >= 3 and len(steps) == len(set(steps))
        # The thread goes on in this process: a second mention on it.
        register_chat_model("test:ruth", FakeListChatModel(responses=["<|ANSWER|>: Ruth Rendell"]))
        settings = Context(
            selector="test:ruth", use_icr=False, use_iav=False, use_vif=False, ranker="none"
        )
        second = {"mention": "Ruth", "candidates": CANDIDATES}
        again = linker.invoke(second, config, context=settings)
        assert again["result"]["entity"] == "Ruth Rendell"
        assert len(list(linker.get_state_history(config))) > len(steps)
        assert linker.get_state({"configurable": {"thread_id": "thread-2"}}).values == {}
