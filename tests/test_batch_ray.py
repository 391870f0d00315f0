"""Batch linking on Ray: the same lines as threads, resuming after a killed driver, errors.

Ray runs on this machine (2 CPUs, loopback); the graph runs with a scripted selector, which
the engine hands to each worker.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from i2cr.batch_ray import LOOPBACK_ONLY, RayEngine

os.environ.update(LOOPBACK_ONLY)  # read when Ray is imported
ray = pytest.importorskip("ray", reason="the ray extra is not installed")
from helpers import (  # noqa: E402
    CANDIDATES,
    RELEASE_CANDIDATES,
    cli_link,
    records,
    tes_only,
    write_release,
)

from i2cr import graph  # noqa: E402
from i2cr.batch import read_jsonl_rows, run_batch  # noqa: E402
from i2cr.cli import main  # noqa: E402

# Every test starts Ray (a local cluster of processes).
pytestmark = pytest.mark.slow

TESTS = Path(__file__).parent


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def local_ray():
    # The workers unpickle the scripted selector, whose class lives in conftest.
    tests_path = {"PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": tests_path},
    )
    yield
    ray.shutdown()


def write_rows(path: Path) -> Path:
    rows = [{"id": f"m{i}", "mention": "Rendell", "candidates": CANDIDATES} for i in range(8)]
    rows[3] = {"id": "m3", "mention": ""}
    rows[5]["id"] = "m4"  # a repeated id: linked as m4#2
    lines = [json.dumps(r) for r in rows] + ["{not json"]
    path.write_text("\n".join(lines) + "\n")
    return path


def by_id(path: Path) -> dict[str, tuple]:
    return {
        r["id"]: (r.get("result", {}).get("entity"), r.get("error", "").split(":")[0])
        for r in records(path)
    }


# First in the module: no test's Ray is running yet.
def test_more_workers_than_this_machine_has_cpus_is_refused_before_ray_starts(
    scripted, tmp_path, capsys
):
    cpus = len(os.sched_getaffinity(0))
    out = tmp_path / "out.jsonl"
    arguments = ["--input", str(write_rows(tmp_path / "in.jsonl")), "--output", str(out)]
    arguments += ["--engine", "ray", "--workers", str(cpus * 32)]
    assert cli_link(tes_only(scripted, 1), *arguments) == 2
    assert f"has {cpus} CPUs: --workers {cpus * 32} needs {cpus * 32}" in capsys.readouterr().err
    assert not ray.is_initialized()
    assert not out.exists()


def test_ray_workers_write_the_lines_threads_write(scripted, tmp_path, local_ray):
    rows = write_rows(tmp_path / "in.jsonl")
    context = tes_only(scripted, 1)
    threads, on_ray = tmp_path / "threads.jsonl", tmp_path / "ray.jsonl"
    run_batch(graph, read_jsonl_rows(rows), threads, context, progress=False, workers=2)
    summary = run_batch(
        graph,
        read_jsonl_rows(rows),
        on_ray,
        context,
        progress=False,
        workers=2,
        engine=RayEngine(),
    )
    assert (summary.linked, summary.failed, summary.renamed) == (7, 2, ["m4#2"])
    assert by_id(on_ray) == by_id(threads)
    assert by_id(on_ray)["m0"] == ("Ed Rendell", "")
    assert len(records(on_ray)) == 9
    again = run_batch(
        graph, read_jsonl_rows(rows), on_ray, context, progress=False, engine=RayEngine()
    )
    assert (again.linked, again.skipped) == (0, 9)


def test_i2cr_link_and_eval_take_engine_ray(scripted, tmp_path, local_ray, capsys):
    rows = write_rows(tmp_path / "in.jsonl")
    out = tmp_path / "out.jsonl"
    context = tes_only(scripted, 1)
    arguments = ["--input", str(rows), "--output", str(out), "--engine", "ray", "--workers", "2"]
    assert cli_link(context, *arguments) == 1  # the bad rows
    assert "linked 7, failed 2" in capsys.readouterr().out
    dataset = tmp_path / "tiny.json"
    sample = {"mention": "Rendell", "mention_context": "", "Candentity": RELEASE_CANDIDATES}
    write_release(dataset, {str(i): sample for i in range(4)})
    evaluation = tmp_path / "evals"
    command = ["eval", "suite", "--dataset", str(dataset), "--config", "first_candidate"]
    command += ["--orders", "released", "--output", str(evaluation), "--no-progress"]
    assert main([*command, "--engine", "ray", "--workers", "2"]) == 0
    (results,) = evaluation.glob("runs/*/released/first_candidate.jsonl")
    assert sorted(r["id"] for r in records(results)) == ["0", "1", "2", "3"]


def test_more_workers_than_cpus_is_refused(scripted, tmp_path, local_ray, capsys):
    rows = write_rows(tmp_path / "in.jsonl")
    out = tmp_path / "out.jsonl"
    status = cli_link(
        tes_only(scripted, 1),
        "--input",
        str(rows),
        "--output",
        str(out),
        "--engine",
        "ray",
        "--workers",
        "5",
    )
    assert status == 2
    assert "has 2 CPUs: --workers 5 needs 5" in capsys.readouterr().err
    assert not out.exists()


def test_a_ray_address_that_does_not_answer_is_one_line(scripted, tmp_path, capsys):
    rows = write_rows(tmp_path / "in.jsonl")
    out = tmp_path / "out.jsonl"
    address = f"127.0.0.1:{closed_port()}"
    arguments = ["--input", str(rows), "--output", str(out), "--engine", "ray"]
    assert cli_link(tes_only(scripted, 1), *arguments, "--ray-address", address) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"i2cr link: error: no Ray cluster answers at {address}")
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()
    assert cli_link(tes_only(scripted, 1), "--ray-address", address, *arguments[:4]) == 2
    assert "--ray-address needs --engine ray" in capsys.readouterr().err


SLOW_RAY_BATCH = """
import sys, time
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from i2cr import graph, Context
from i2cr.batch import read_jsonl_rows, run_batch
from i2cr.batch_ray import RayEngine
from i2cr.models.chat import register_chat_model

class Slow(FakeListChatModel):
    delay: float = 0.2

    def _call(self, *args, **kwargs):
        time.sleep(self.delay)
        return super()._call(*args, **kwargs)

register_chat_model("test:slow", Slow(responses=["<|ANSWER|>: Ed Rendell"]))
context = Context(selector="test:slow", use_icr=False, use_iav=False, use_vif=False, ranker="none")
rows = read_jsonl_rows(sys.argv[1])
run_batch(graph, rows, sys.argv[2], context, progress=False, workers=2, engine=RayEngine())
"""


def test_a_killed_ray_driver_finishes_on_restart_without_loss_or_duplicates(tmp_path):
    rows = tmp_path / "in.jsonl"
    lines = [{"id": f"m{i}", "mention": "Rendell", "candidates": CANDIDATES} for i in range(30)]
    rows.write_text("".join(json.dumps(r) + "\n" for r in lines))
    out = tmp_path / "out.jsonl"
    script = tmp_path / "slow_ray.py"
    script.write_text(SLOW_RAY_BATCH)
    command = [sys.executable, str(script), str(rows), str(out)]
    # Its own session: the Ray processes it starts are ended with it below.
    driver = subprocess.Popen(command, cwd=TESTS, start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and (not out.exists() or len(records(out)) < 3):
            time.sleep(0.05)
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        written = len(records(out)) if out.read_text().endswith("\n") else None
        assert written is None or 3 <= written < 30, "the kill must land mid-batch"
        subprocess.run(command, check=True, cwd=TESTS, timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(driver.pid, signal.SIGKILL)
    ids = [r["id"] for r in records(out)]
    assert sorted(ids) == sorted(f"m{i}" for i in range(30))
    assert len(ids) == len(set(ids))
