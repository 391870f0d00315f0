"""Batch linking on a Ray cluster of two nodes, each `ray start` its own raylet on this machine.

The cluster is started with the commands of docs/how-to/scale-out.md (one CPU per node, so each
node runs one of the two linker workers); the selector echoes the mention after a pause, so a
row's answer is the same on any engine. One node's raylet is killed mid-run by its process id.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the ray extra is not installed")
from helpers import CANDIDATES, EchoMention, records, write_jsonl  # noqa: E402

from i2cr.cli import main  # noqa: E402
from i2cr.models.chat import register_chat_model  # noqa: E402

pytestmark = pytest.mark.slow

TESTS = Path(__file__).parent
RAY = shutil.which("ray") or str(Path(sys.executable).parent / "ray")
MENTIONS = ["Ruth Rendell", "Ed Rendel", "Don Rendell", "Rendell", "Governor Ed Rendell"]
ROWS = 40
SELECTOR = "test:echo-mention-slowly"
TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ray_start(*options: str, log: Path) -> subprocess.Popen:
    """`ray start --block ...` in a session of its own: its processes end with that session.

    The tests folder is on the workers' path: they unpickle the selector from `helpers`.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path])}
    with log.open("ab") as out:
        return subprocess.Popen(
            [RAY, "start", "--block", *options],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def alive_nodes(address: str) -> list[dict]:
    ray.init(address=address, log_to_driver=False)
    try:
        return [node for node in ray.nodes() if node["Alive"]]
    finally:
        ray.shutdown()


def wait_for(what: str, ready, logs: Path) -> None:
    deadline = time.time() + TIMEOUT_S
    while not ready():
        if time.time() > deadline:
            tails = "".join(p.read_text()[-1500:] for p in logs.glob("*.log"))
            pytest.fail(f"{what} within {TIMEOUT_S} s:\n{tails}")
        time.sleep(0.5)


def raylet_of(session: subprocess.Popen) -> int:
    """The process id of the raylet that a `ray start` session runs."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            command = (entry / "cmdline").read_bytes().split(b"\0")[0]
            pid = int(entry.name)
            if command.endswith(b"/raylet") and os.getpgid(pid) == session.pid:
                return pid
    raise AssertionError(f"no raylet in the session of `ray start` (pid {session.pid})")


@pytest.fixture
def cluster() -> Iterator[tuple[str, subprocess.Popen, Path]]:
    """A head node and a worker node, one CPU each; yields the address and the worker's session."""
    # Short: Ray's Unix socket paths live under it.
    temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    port = free_port()
    address = f"127.0.0.1:{port}"
    common = ["--num-cpus", "1", "--object-store-memory", str(100 * 2**20), "--temp-dir", str(temp)]
    common += ["--disable-usage-stats"]
    sessions = [
        ray_start(
            "--head",
            "--port",
            str(port),
            "--ray-client-server-port",
            str(free_port()),
            "--include-dashboard",
            "false",
            *common,
            log=temp / "head.log",
        )
    ]
    try:
        wait_for("the head node answers", lambda: reachable(port), temp)
        sessions.append(ray_start("--address", address, *common, log=temp / "worker.log"))
        wait_for("two nodes alive", lambda: len(alive_nodes(address)) == 2, temp)
        yield address, sessions[1], temp
    finally:
        for session in sessions:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(session.pid, signal.SIGKILL)
            session.wait()
        shutil.rmtree(temp, ignore_errors=True)


def reachable(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
        return True
    return False


def link(rows: Path, out: Path, *options: str) -> int:
    """`i2cr link` with the echoing selector and TES only."""
    settings = [f"selector={SELECTOR}", "use_icr=false", "use_iav=false", "use_vif=false"]
    settings.append("ranker=none")
    arguments = ["link", "--input", str(rows), "--output", str(out), *options]
    return main([*arguments, *(a for s in settings for a in ("--set", s))])


def test_a_two_node_batch_survives_a_killed_node_and_answers_as_threads_do(
    tmp_path, cluster, capsys
):
    address, worker_session, temp = cluster
    register_chat_model(SELECTOR, EchoMention(delay=0.3))
    rows = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"id": f"m{i}", "mention": MENTIONS[i % len(MENTIONS)], "candidates": CANDIDATES}
            for i in range(ROWS)
        ],
    )
    threads = tmp_path / "threads.jsonl"
    assert link(rows, threads, "--workers", "2") == 0

    out = tmp_path / "ray.jsonl"
    raylet = raylet_of(worker_session)
    killed_at: list[int] = []

    def kill_the_worker_node_mid_run() -> None:
        deadline = time.time() + TIMEOUT_S
        while time.time() < deadline:
            written = records(out) if out.exists() and out.read_text().endswith("\n") else []
            if len(written) >= 8 and len({r["node"]["id"] for r in written}) == 2:
                os.kill(raylet, signal.SIGKILL)
                killed_at.append(len(written))
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_worker_node_mid_run)
    killer.start()
    ray_options = ["--engine", "ray", "--ray-address", address]
    first = link(rows, out, *ray_options, "--workers", "2")
    killer.join()
    assert killed_at, "the batch ended before both nodes had linked rows"
    assert first == 2, "a lost node fails the run"
    err = capsys.readouterr().err
    assert "a Ray worker was lost while linking row" in err and "rerun the same command" in err
    print(err)
    first_run = records(out)
    assert killed_at[0] <= len(first_run) < ROWS, "the kill must land mid-run"
    nodes = {r["node"]["id"] for r in first_run}
    assert len(nodes) == 2 and all(r["node"]["host"] == socket.gethostname() for r in first_run)

    wait_for("the killed node is dead", lambda: len(alive_nodes(address)) == 1, temp)
    # One node of one CPU is left: one worker.
    assert link(rows, out, *ray_options, "--workers", "1") == 0
    lines = records(out)
    ids = [r["id"] for r in lines]
    assert sorted(ids) == sorted(f"m{i}" for i in range(ROWS)) and len(set(ids)) == ROWS
    (survivor,) = {r["node"]["id"] for r in lines[len(first_run) :]}
    assert survivor in nodes
    on_threads = {r["id"]: r["result"] for r in records(threads)}
    assert {r["id"]: r["result"] for r in lines} == on_threads
    assert len({r["entity"] for r in on_threads.values()}) == 3
