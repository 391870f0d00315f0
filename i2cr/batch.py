"""Link many mentions into a results JSONL that is written as it goes and resumes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tqdm import tqdm

from i2cr.context import Context
from i2cr.datasets import Sample
from i2cr.errors import InputError
from i2cr.jsonl import json_lines

Row = tuple[str, dict[str, Any] | InputError]


class Linker(Protocol):
    """What `run_batch` drives: the compiled graph, or anything invoked the same way."""

    def invoke(self, input: Any, /, *, context: Any) -> Any:  # noqa: D102
        ...


@dataclass
class BatchSummary:
    """Counts of one batch run."""

    linked: int = 0
    failed: int = 0
    skipped: int = 0


def read_jsonl_rows(path: str | Path) -> Iterator[Row]:
    """(row id, graph input) per line; a malformed line yields its error instead.

    A row's id is its "id" (or "sample_id") field, else "line:<n>".
    """
    for number, row in json_lines(path):
        fallback_id = f"line:{number}"
        if isinstance(row, InputError):
            yield fallback_id, row
            continue
        if not isinstance(row, dict):
            yield fallback_id, InputError(f"{path}:{number}: expected a JSON object")
            continue
        row_id = str(row.pop("id", None) or row.get("sample_id") or fallback_id)
        row.setdefault("sample_id", row_id)
        yield row_id, row


def sample_rows(samples: Iterable[Sample]) -> Iterator[Row]:
    """Dataset samples as batch rows, gold answer kept for evaluation."""
    for sample in samples:
        row = sample.graph_input()
        row["gold"] = {"name": sample.gold_name, "qid": sample.gold_qid}
        yield sample.id, row


def finished_ids(output: Path, retry_errors: bool = False) -> set[str]:
    """Ids already in the results file.

    A line cut short by a kill is removed first; with `retry_errors` the error records are
    removed too, so their rows run again without leaving a duplicate.
    """
    if not output.exists():
        return set()
    raw = output.read_bytes()
    lines = raw[: raw.rfind(b"\n") + 1].decode("utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not (retry_errors and json.loads(line).get("error"))]
    if len(kept) != len(lines) or sum(map(len, lines)) != len(raw):
        output.write_text("".join(kept), encoding="utf-8")
    return {json.loads(line)["id"] for line in kept}


def link_one(graph: Linker, row: dict[str, Any], context: Context) -> dict[str, Any]:
    """Run the graph on one input; the record holds the result and every round."""
    graph_input = {k: v for k, v in row.items() if k != "gold"}
    started = time.perf_counter()
    output = graph.invoke(graph_input, context=context)
    return {
        "result": output["result"],
        "attempts": output["attempts"],
        "clue_steps": output["clue_steps"],
        "warnings": output["warnings"],
        "seconds": round(time.perf_counter() - started, 4),
    }


def run_batch(
    graph: Linker,
    rows: Iterable[Row],
    output: str | Path,
    context: Context,
    *,
    retry_errors: bool = False,
    total: int | None = None,
    progress: bool = True,
    workers: int = 1,
) -> BatchSummary:
    """Link every row not yet in `output`, appending one JSON line per row.

    A bad row is recorded with its error and the run goes on; rerunning after an interruption
    skips the rows already written (errors too, unless `retry_errors`). With `workers` > 1 up
    to that many rows are linked at once (threads) and lines are written as they finish.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    done = finished_ids(output, retry_errors)
    summary = BatchSummary()
    with (
        output.open("a", encoding="utf-8") as sink,
        ThreadPoolExecutor(max_workers=workers) as pool,
        tqdm(total=total, disable=not progress, desc="linking") as bar,
    ):
        running: set[Future[dict[str, Any]]] = set()

        def write_finished(block: bool) -> None:
            finished, _ = wait(running, return_when=FIRST_COMPLETED) if block else (running, None)
            for future in [f for f in finished if f.done()]:
                running.discard(future)
                record = future.result()
                if "error" in record:
                    summary.failed += 1
                else:
                    summary.linked += 1
                sink.write(json.dumps(record, ensure_ascii=False) + "\n")
                sink.flush()
                bar.update()

        for row_id, row in rows:
            if row_id in done:
                summary.skipped += 1
                bar.update()
                continue
            done.add(row_id)
            running.add(pool.submit(_record, graph, row_id, row, context))
            while len(running) >= workers:
                write_finished(block=True)
        while running:
            write_finished(block=True)
    return summary


def _record(
    graph: Linker, row_id: str, row: dict[str, Any] | InputError, context: Context
) -> dict[str, Any]:
    """Link one row into its results line, or record the error that stopped it."""
    record: dict[str, Any] = {"id": row_id}
    if isinstance(row, dict) and row.get("gold"):
        record["gold"] = row["gold"]
    try:
        if isinstance(row, InputError):
            raise row
        record.update(link_one(graph, row, context))
    except Exception as err:  # one bad row must not end the batch
        record["error"] = f"{type(err).__name__}: {err}"
    return record
