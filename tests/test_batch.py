from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import CANDIDATES

from i2cr import graph
from i2cr.batch import read_jsonl_rows, run_batch

ANSWER = "<|ANSWER|>: Ed Rendell"


def write_rows(path: Path, count: int, bad: dict[int, str] | None = None) -> None:
    lines = []
    for i in range(count):
        row = {"id": f"m{i}", "mention": "Rendell", "context": "", "candidates": CANDIDATES}
        lines.append((bad or {}).get(i, json.dumps(row)))
    path.write_text("\n".join(lines) + "\n")


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def tes_only(scripted, count):
    return scripted(*([ANSWER] * count), use_icr=False, use_iav=False, use_vif=False)[1]


def test_bad_rows_are_recorded_and_the_batch_goes_on(scripted, tmp_path):
    rows = tmp_path / "in.jsonl"
    write_rows(
        rows,
        5,
        bad={
            1: "{not json",
            2: json.dumps({"id": "empty", "mention": "", "candidates": CANDIDATES}),
            3: json.dumps({"id": "nocands", "mention": "Rendell"}),
        },
    )
    out = tmp_path / "out.jsonl"
    summary = run_batch(graph, read_jsonl_rows(rows), out, tes_only(scripted, 5), progress=False)
    assert (summary.linked, summary.failed) == (2, 3)
    by_id = {r["id"]: r for r in records(out)}
    assert "not valid JSON" in by_id["line:2"]["error"]
    assert "mention is empty" in by_id["empty"]["error"]
    assert "no candidates given" in by_id["nocands"]["error"]
    assert by_id["m4"]["result"]["entity"] == "Ed Rendell"


def test_rerun_skips_done_rows_and_drops_a_cut_line(scripted, tmp_path):
    rows = tmp_path / "in.jsonl"
    write_rows(rows, 4)
    out = tmp_path / "out.jsonl"
    context = tes_only(scripted, 10)
    run_batch(graph, list(read_jsonl_rows(rows))[:2], out, context, progress=False)
    with out.open("a") as sink:
        sink.write('{"id": "m2", "resu')  # a write cut short by a kill
    summary = run_batch(graph, read_jsonl_rows(rows), out, context, progress=False)
    assert (summary.linked, summary.skipped) == (2, 2)
    assert [r["id"] for r in records(out)] == ["m0", "m1", "m2", "m3"]


def test_retry_errors_replaces_the_error_record(scripted, tmp_path):
    rows = tmp_path / "in.jsonl"
    write_rows(rows, 2, bad={1: json.dumps({"id": "m1", "mention": ""})})
    out = tmp_path / "out.jsonl"
    context = tes_only(scripted, 10)
    run_batch(graph, read_jsonl_rows(rows), out, context, progress=False)
    write_rows(rows, 2)
    run_batch(graph, read_jsonl_rows(rows), out, context, progress=False, retry_errors=True)
    assert [(r["id"], "error" in r) for r in records(out)] == [("m0", False), ("m1", False)]


SLOW_BATCH = """
import sys, time
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from i2cr import graph, Context
from i2cr.batch import read_jsonl_rows, run_batch
from i2cr.models.chat import register_chat_model

class Slow(FakeListChatModel):
    def _call(self, *args, **kwargs):
        time.sleep(0.2)
        return super()._call(*args, **kwargs)

register_chat_model("test:slow", Slow(responses=["<|ANSWER|>: Ed Rendell"]))
context = Context(selector="test:slow", use_icr=False, use_iav=False, use_vif=False)
run_batch(graph, read_jsonl_rows(sys.argv[1]), sys.argv[2], context, progress=False)
"""


def test_killed_batch_finishes_on_restart_without_loss_or_duplicates(tmp_path):
    rows = tmp_path / "in.jsonl"
    write_rows(rows, 30)
    out = tmp_path / "out.jsonl"
    script = tmp_path / "slow.py"
    script.write_text(SLOW_BATCH)
    command = [sys.executable, str(script), str(rows), str(out)]
    process = subprocess.Popen(command, cwd=Path(__file__).parent)
    deadline = time.time() + 60
    while time.time() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 3):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    written = len(records(out)) if out.read_text().endswith("\n") else None
    assert written is None or 3 <= written < 30, "the kill must land mid-batch"
    subprocess.run(command, check=True, cwd=Path(__file__).parent)
    ids = [r["id"] for r in records(out)]
    assert sorted(ids) == sorted(f"m{i}" for i in range(30))
    assert len(ids) == len(set(ids))
