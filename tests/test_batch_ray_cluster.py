"""Batch linking on a Ray cluster of two nodes, each `ray start` its own raylet on this machine.

The cluster is started with the commands of docs/how-to/scale-out.md (token authentication, one
CPU per node, so each node runs one of the two linker workers), and `i2cr link` runs in a
process of its own; the selector echoes the mention after a pause, so a row's answer is the
same on any engine. One node's raylet is killed mid-run by its process id.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="the ray extra is not installed")
from helpers import CANDIDATES, EchoMention, records, write_jsonl  # noqa: E402

from i2cr.cli import main  # noqa: E402
from i2cr.models.chat import register_chat_model  # noqa: E402

pytestmark = pytest.mark.slow

TESTS = Path(__file__).parent
RAY = shutil.which("ray") or str(Path(sys.executable).parent / "ray")
MENTIONS = ["Ruth Rendell", "Ed Rendel", "Don Rendell", "Rendell", "Governor Ed Rendell"]
ROWS = 40
SELECTOR = "test:echo-mention-slowly"
SETTINGS = [f"selector={SELECTOR}", "use_icr=false", "use_iav=false", "use_vif=false"]
SETTINGS.append("ranker=none")
TIMEOUT_S = 300
# `i2cr link` in its own process, with the echoing selector registered first.
DRIVER = f"""
import sys
from helpers import EchoMention
from i2cr.cli import main
from i2cr.models.chat import register_chat_model

register_chat_model({SELECTOR!r}, EchoMention(delay=0.3))
sys.exit(main(sys.argv[1:]))
"""
ALIVE_NODES = """
import sys, ray
ray.init(address=sys.argv[1], log_to_driver=False)
print(sum(node["Alive"] for node in ray.nodes()))
"""


@dataclass
class Cluster:
    address: str
    worker: subprocess.Popen  # the worker node's `ray start`
    env: dict[str, str]  # what every process of the cluster's users is given
    folder: Path

    def run(self, script: str, *arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", script, *arguments],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )

    def alive_nodes(self) -> int:
        done = self.run(ALIVE_NODES, self.address)
        # Ray's driver may print its raylets' log lines to stdout too: the count is its own line.
        counts = [line for line in done.stdout.splitlines() if line.strip().isdigit()]
        return int(counts[-1]) if counts else -1

    def wait_for(self, what: str, ready) -> None:
        deadline = time.time() + TIMEOUT_S
        while not ready():
            if time.time() > deadline:
                logs = "".join(p.read_text()[-1500:] for p in self.folder.glob("*.log"))
                pytest.fail(f"{what} within {TIMEOUT_S} s:\n{logs}")
            time.sleep(0.5)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def reachable(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
        return True
    return False


def ray_start(env: dict[str, str], log: Path, *options: str) -> subprocess.Popen:
    """`ray start --block ...` in a session of its own: its processes end with that session."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [RAY, "start", "--block", *options],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


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
def cluster() -> Iterator[Cluster]:
    """A head node and a worker node, one CPU each, with a token of their own."""
    # Short: Ray's Unix socket paths live under it.
    folder = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    env = {
        # Not the Ray settings of this process: test_batch_ray's loopback-only one (read at
        # import) makes `ray start` refuse a second node.
        **{name: value for name, value in os.environ.items() if not name.startswith("RAY_")},
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
        # The workers unpickle the selector from `helpers`.
        "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path]),
    }
    port = free_port()
    common = ["--num-cpus", "1", "--disable-usage-stats"]
    # Beside other Ray users of this machine: a folder, ports and a small object store of its own.
    common += ["--temp-dir", str(folder), "--object-store-memory", str(100 * 2**20)]
    head = ["--head", "--port", str(port), "--include-dashboard", "false"]
    head += ["--ray-client-server-port", str(free_port())]
    sessions = [ray_start(env, folder / "head.log", *head, *common)]
    try:
        cluster = Cluster(f"127.0.0.1:{port}", sessions[0], env, folder)
        cluster.wait_for("the head node answers", lambda: reachable(port))
        worker = ["--address", cluster.address, *common]
        sessions.append(ray_start(env, folder / "worker.log", *worker))
        cluster.worker = sessions[1]
        cluster.wait_for("two nodes alive", lambda: cluster.alive_nodes() == 2)
        yield cluster
    finally:
        for session in sessions:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(session.pid, signal.SIGKILL)
            session.wait()
        shutil.rmtree(folder, ignore_errors=True)


def link_arguments(rows: Path, out: Path, *options: str) -> list[str]:
    """`i2cr link` of the rows, TES only with the echoing selector."""
    arguments = ["link", "--input", str(rows), "--output", str(out), *options]
    return [*arguments, *(a for s in SETTINGS for a in ("--set", s))]


def test_a_two_node_batch_survives_a_killed_node_and_answers_as_threads_do(tmp_path, cluster):
    rows = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"id": f"m{i}", "mention": MENTIONS[i % len(MENTIONS)], "candidates": CANDIDATES}
            for i in range(ROWS)
        ],
    )
    register_chat_model(SELECTOR, EchoMention(delay=0.3))
    threads = tmp_path / "threads.jsonl"
    assert main(link_arguments(rows, threads, "--workers", "2")) == 0

    out = tmp_path / "ray.jsonl"
    on_ray = ["--engine", "ray", "--ray-address", cluster.address]
    refused = subprocess.run(
        [sys.executable, "-c", DRIVER, *link_arguments(rows, out, *on_ray, "--workers", "2")],
        env={**cluster.env, "RAY_AUTH_TOKEN": secrets.token_hex(32)},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert refused.returncode == 2 and not out.exists()
    assert f"cannot join the Ray cluster at {cluster.address}" in refused.stderr
    assert "Authentication token is missing or incorrect" in refused.stderr, refused.stderr

    raylet = raylet_of(cluster.worker)
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
    first = cluster.run(DRIVER, *link_arguments(rows, out, *on_ray, "--workers", "2"))
    killer.join()
    assert killed_at, f"the batch ended before both nodes had linked rows: {first.stderr[-2000:]}"
    assert first.returncode == 2, "a lost node fails the run"
    assert "a Ray worker was lost while linking row" in first.stderr
    assert "rerun the same command" in first.stderr
    first_run = records(out)
    assert killed_at[0] <= len(first_run) < ROWS, "the kill must land mid-run"
    nodes = {r["node"]["id"] for r in first_run}
    assert len(nodes) == 2 and all(r["node"]["host"] == socket.gethostname() for r in first_run)

    cluster.wait_for("the killed node is dead", lambda: cluster.alive_nodes() == 1)
    # One node of one CPU is left: one worker.
    again = cluster.run(DRIVER, *link_arguments(rows, out, *on_ray, "--workers", "1"))
    assert again.returncode == 0, again.stderr[-2000:]
    lines = records(out)
    ids = [r["id"] for r in lines]
    assert sorted(ids) == sorted(f"m{i}" for i in range(ROWS)) and len(set(ids)) == ROWS
    (survivor,) = {r["node"]["id"] for r in lines[len(first_run) :]}
    assert survivor in nodes
    on_threads = {r["id"]: r["result"] for r in records(threads)}
    assert {r["id"]: r["result"] for r in lines} == on_threads
    assert len({r["entity"] for r in on_threads.values()}) == 3
