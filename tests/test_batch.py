from __future__ import annotations

import fcntl
import json
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import (
    CANDIDATES,
    RELEASE_CANDIDATES,
    cli_link,
    records,
    tes_only,
    write_release,
)

from i2cr import graph
from i2cr.batch import OutputInUse, link_one, read_jsonl_rows, run_batch, sample_rows
from i2cr.datasets import read_release_entries


def write_rows(path: Path, count: int, bad: dict[int, str] | None = None) -> None:
    lines = []
    for i in range(count):
        row = {"id": f"m{i}", "mention": "Rendell", "context": "", "candidates": CANDIDATES}
        lines.append((bad or {}).get(i, json.dumps(row)))
    path.write_text("\n".join(lines) + "\n")


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
context = Context(
    selector="test:slow", ranker="none", use_icr=False, use_iav=False, use_vif=False
)
rows = read_jsonl_rows(sys.argv[1])
run_batch(graph, rows, sys.argv[2], context, progress=False, workers=int(sys.argv[3]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 4])
def test_killed_batch_finishes_on_restart_without_loss_or_duplicates(tmp_path, workers):
    rows = tmp_path / "in.jsonl"
    write_rows(rows, 30)
    out = tmp_path / "out.jsonl"
    script = tmp_path / "slow.py"
    script.write_text(SLOW_BATCH)
    command = [sys.executable, str(script), str(rows), str(out), str(workers)]
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


def test_a_repeated_id_is_linked_as_its_own_row_and_resumes(scripted, tmp_path):
    rows = tmp_path / "in.jsonl"
    row = {"id": "m0", "mention": "Rendell", "candidates": CANDIDATES}
    lines = [row, row, {**row, "id": "m1"}, row]
    rows.write_text("".join(json.dumps(r) + "\n" for r in lines))
    out = tmp_path / "out.jsonl"
    context = tes_only(scripted, 10)
    summary = run_batch(graph, read_jsonl_rows(rows), out, context, progress=False)
    assert (summary.linked, summary.renamed) == (4, ["m0#2", "m0#3"])
    by_id = {r["id"]: r for r in records(out)}
    assert list(by_id) == ["m0", "m0#2", "m1", "m0#3"]
    assert by_id["m0#2"]["input_id"] == "m0"
    assert by_id["m0#2"]["result"]["entity"] == "Ed Rendell"
    assert "repeats an earlier row" in by_id["m0#3"]["warnings"][0]
    again = run_batch(graph, read_jsonl_rows(rows), out, context, progress=False)
    assert (again.linked, again.skipped) == (0, 4)


def test_an_id_of_zero_stays_zero(scripted, tmp_path):
    rows = tmp_path / "in.jsonl"
    rows.write_text(json.dumps({"id": 0, "mention": "Rendell", "candidates": CANDIDATES}) + "\n")
    out = tmp_path / "out.jsonl"
    run_batch(graph, read_jsonl_rows(rows), out, tes_only(scripted, 1), progress=False)
    assert [r["id"] for r in records(out)] == ["0"]


def test_a_second_writer_of_the_same_output_is_refused(scripted, tmp_path):
    rows = tmp_path / "in.jsonl"
    write_rows(rows, 2)
    out = tmp_path / "out.jsonl"
    with out.open("a") as other_writer:
        fcntl.flock(other_writer.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(OutputInUse, match="in use by another i2cr process"):
            run_batch(graph, read_jsonl_rows(rows), out, tes_only(scripted, 2), progress=False)
    assert out.read_text() == ""


CLI = "import sys; from i2cr.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.mark.slow
def test_a_second_process_on_the_same_output_exits_with_a_clear_error(tmp_path):
    rows = tmp_path / "in.jsonl"
    write_rows(rows, 30)
    out = tmp_path / "out.jsonl"
    script = tmp_path / "slow.py"
    script.write_text(SLOW_BATCH)
    first = subprocess.Popen(
        [sys.executable, str(script), str(rows), str(out), "1"], cwd=Path(__file__).parent
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline and (not out.exists() or not out.read_text()):
            time.sleep(0.05)
        second = subprocess.run(
            [sys.executable, "-c", CLI, "link", "--input", str(rows), "--output", str(out)],
            capture_output=True,
            text=True,
        )
        assert first.poll() is None, "the first run must still be writing"
    finally:
        first.wait()
    assert second.returncode == 2
    assert "in use by another i2cr process" in second.stderr
    ids = [r["id"] for r in records(out)]
    assert sorted(ids) == sorted(f"m{i}" for i in range(30))


def test_the_exit_status_says_whether_rows_failed(scripted, tmp_path, capsys):
    rows = tmp_path / "in.jsonl"
    write_rows(rows, 2, bad={1: "{not json"})
    out = tmp_path / "out.jsonl"
    context = tes_only(scripted, 10)
    assert cli_link(context, "--input", str(rows), "--output", str(out)) == 1
    assert cli_link(context, "--input", str(rows), "--output", str(out)) == 1
    assert "--retry-errors reruns them" in capsys.readouterr().out
    write_rows(rows, 2)
    assert cli_link(context, "--input", str(rows), "--output", str(out), "--retry-errors") == 0


def test_an_output_that_cannot_be_written_is_one_line(scripted, tmp_path, capsys):
    rows = tmp_path / "in.jsonl"
    write_rows(rows, 1)
    folder_as_output = tmp_path / "a-folder"
    folder_as_output.mkdir()
    context = tes_only(scripted, 1)
    assert cli_link(context, "--input", str(rows), "--output", str(folder_as_output)) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("i2cr link: error: ") and "a-folder" in error
    assert "Traceback" not in error and len(error.splitlines()) == 1


def test_a_bad_dataset_sample_is_an_error_row_and_the_run_goes_on(scripted, tmp_path, capsys):
    dataset = tmp_path / "tiny.json"
    good = {"mention": "Rendell", "mention_context": "", "Candentity": RELEASE_CANDIDATES}
    write_release(
        dataset,
        {
            "1": good,
            "2": {"mention_context": "no mention here", "Candentity": RELEASE_CANDIDATES},
            "3": {**good, "Candentity": "Ed Rendell, Ruth Rendell"},
            "4": {**good, "Candentity": "'Ed Rendell'"},
            "5": good,
        },
    )
    out = tmp_path / "out.jsonl"
    status = cli_link(tes_only(scripted, 10), "--dataset", str(dataset), "--output", str(out))
    assert status == 1
    by_id = {r["id"]: r for r in records(out)}
    assert list(by_id) == ["1", "2", "3", "4", "5"]
    assert by_id["1"]["result"]["entity"] == by_id["5"]["result"]["entity"] == "Ed Rendell"
    assert "missing field 'mention'" in by_id["2"]["error"]
    assert "field 'Candentity'" in by_id["3"]["error"]
    assert "expected a list of candidates" in by_id["4"]["error"]
    assert "linked 2, failed 3" in capsys.readouterr().out


@pytest.mark.parametrize("source", ["--dataset", "--input"])
def test_a_number_where_text_belongs_is_an_error_row_naming_the_field(scripted, tmp_path, source):
    """Issue 26: one rule for input types; a numeric context is not linked as if it were text."""
    path = tmp_path / ("tiny.json" if source == "--dataset" else "in.jsonl")
    if source == "--dataset":
        good = {"mention": "Rendell", "mention_context": "", "Candentity": RELEASE_CANDIDATES}
        write_release(path, {"1": good, "2": {**good, "mention_context": 12345}, "3": good})
        field = "mention_context"
    else:
        row = {"mention": "Rendell", "context": "", "candidates": CANDIDATES}
        rows = [{**row, "id": "1"}, {**row, "id": "2", "context": 12345}, {**row, "id": "3"}]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        field = "context"
    out = tmp_path / "out.jsonl"
    assert cli_link(tes_only(scripted, 10), source, str(path), "--output", str(out)) == 1
    by_id = {r["id"]: r for r in records(out)}
    assert list(by_id) == ["1", "2", "3"]
    assert by_id["1"]["result"]["entity"] == by_id["3"]["result"]["entity"] == "Ed Rendell"
    assert "result" not in by_id["2"]
    assert field in by_id["2"]["error"] and "text" in by_id["2"]["error"]


def test_relative_image_names_without_an_image_folder_warn_once(scripted, tmp_path, caplog):
    dataset = tmp_path / "tiny.json"
    sample = {"mention": "Rendell", "Candentity": RELEASE_CANDIDATES}
    write_release(
        dataset,
        {str(i): {**sample, "mention_imgpath": f"{i}.jpg"} for i in range(3)},
    )
    out = tmp_path / "out.jsonl"
    with caplog.at_level(logging.WARNING, logger="i2cr.datasets"):
        entries = read_release_entries(dataset)
        run_batch(graph, sample_rows(entries), out, tes_only(scripted, 3), progress=False)
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("i2cr.datasets")]
    assert len(warnings) == 1
    assert "'0.jpg' is a relative name and no image folder was given" in warnings[0]
    assert "--image-dir" in warnings[0]
    for record in records(out):
        assert "linked without an image" in record["warnings"][0]


def test_each_linked_row_is_traced_under_its_sample_id(scripted):
    from langchain_core.tracers.context import collect_runs

    row = {"sample_id": "m7", "mention": "Rendell", "candidates": CANDIDATES}
    context = tes_only(scripted, 1)
    with collect_runs() as runs:
        link_one(graph, row, context, metadata={"dataset": "tiny.jsonl"})
    (root,) = [run for run in runs.traced_runs if run.name == "i2cr m7"]
    assert "sample:m7" in root.tags
    assert root.extra["metadata"]["dataset"] == "tiny.jsonl"
    assert root.extra["metadata"]["selector"] == context.selector
