"""Link many mentions into a results JSONL that is written as it goes and resumes."""

from __future__ import annotations

import fcntl
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import ContextThreadPoolExecutor
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


Submit = Callable[[str, "dict[str, Any] | InputError"], "Future[dict[str, Any]]"]


class Engine(Protocol):
    """Where a batch's rows are linked: threads here (`thread_engine`) or Ray workers.

    Called once per run, it yields `submit(row_id, row)`, which starts linking one row into
    its results line (`record_row`) and returns the line's future; the caller writes the lines.
    """

    def __call__(
        self, graph: Linker, settings: Context, metadata: Mapping[str, Any] | None, workers: int
    ) -> AbstractContextManager[Submit]:
        """Start the engine for one run; it stops when the run leaves the context."""
        ...


@contextmanager
def thread_engine(
    graph: Linker, settings: Context, metadata: Mapping[str, Any] | None, workers: int
) -> Iterator[Submit]:
    """Link rows on `workers` threads of this process.

    Each row runs in a copy of the caller's context variables, so a tracing context the
    caller opened (`tracing_v2_enabled`, `collect_runs`) traces the rows too.
    """
    with ContextThreadPoolExecutor(max_workers=workers) as pool:
        yield lambda row_id, row: pool.submit(record_row, graph, row_id, row, settings, metadata)


@dataclass
class BatchSummary:
    """Counts of one batch run: rows renamed, linked, failed, already done (of them errors)."""

    renamed: list[str] = field(default_factory=list)
    linked: int = 0
    failed: int = 0
    skipped: int = 0
    skipped_errors: int = 0

    @property
    def any_failed(self) -> bool:
        """Some row of the output is an error record, from this run or an earlier one."""
        return bool(self.failed or self.skipped_errors)


DUPLICATE_MARK = "#"
# Fields a batch row carries for its record, not for the graph.
BATCH_ONLY_FIELDS = ("gold", "input_id", "input_warnings")


class OutputInUse(InputError):
    """Another process is writing the same results file."""


def read_jsonl_rows(path: str | Path) -> Iterator[Row]:
    """(row id, graph input) per line; a malformed line yields its error instead.

    A row's id is its "id" (or "sample_id") field, else "line:<n>"; an id of 0 stays "0".
    """
    for number, row in json_lines(path):
        fallback_id = f"line:{number}"
        if isinstance(row, InputError):
            yield fallback_id, row
            continue
        if not isinstance(row, dict):
            yield fallback_id, InputError(f"{path}:{number}: expected a JSON object")
            continue
        given = row.pop("id", None)
        if given is None or given == "":
            given = row.get("sample_id")
        row_id = fallback_id if given is None or given == "" else str(given)
        row.setdefault("sample_id", row_id)
        yield row_id, row


def sample_rows(samples: Iterable[Sample | tuple[str, Sample | InputError]]) -> Iterator[Row]:
    """Dataset samples (or (id, sample or its error) entries) as batch rows, gold answer kept.

    What reading a sample changed (its `notes`) becomes a warning on its record.
    """
    for entry in samples:
        sample_id, sample = (entry.id, entry) if isinstance(entry, Sample) else entry
        if isinstance(sample, InputError):
            yield sample_id, sample
            continue
        row = sample.graph_input()
        row["gold"] = {"name": sample.gold_name, "qid": sample.gold_qid}
        row["input_warnings"] = list(sample.notes)
        yield sample_id, row


def finished_ids(output: Path, retry_errors: bool = False) -> dict[str, bool]:
    """Ids already in the results file, each with whether its record is an error.

    A line cut short by a kill is removed first; with `retry_errors` the error records are
    removed too, so their rows run again without leaving a duplicate.
    """
    if not output.exists():
        return {}
    raw = output.read_bytes()
    lines = raw[: raw.rfind(b"\n") + 1].decode("utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not (retry_errors and json.loads(line).get("error"))]
    if len(kept) != len(lines) or sum(map(len, lines)) != len(raw):
        output.write_text("".join(kept), encoding="utf-8")
    return {record["id"]: "error" in record for record in map(json.loads, kept)}


def unique_ids(rows: Iterable[Row], renamed: list[str]) -> Iterator[Row]:
    """Rows with a repeated id get `<id>#<n>` (n-th use), noted in `renamed`, never dropped.

    The suffix depends only on the input's order, so a rerun gives every row the same id.
    """
    seen: set[str] = set()
    for row_id, row in rows:
        unique, count = row_id, 1
        while unique in seen:
            count += 1
            unique = f"{row_id}{DUPLICATE_MARK}{count}"
        seen.add(unique)
        if unique != row_id:
            renamed.append(unique)
            if isinstance(row, dict):
                note = f"id {row_id!r} repeats an earlier row's: recorded as {unique!r}"
                warnings = [*row.get("input_warnings", []), note]
                row = {**row, "sample_id": unique, "input_id": row_id, "input_warnings": warnings}
        yield unique, row


def lock_output(sink: IO[str], output: Path) -> None:
    """Hold an exclusive lock on the results file while this process appends to it."""
    try:
        fcntl.flock(sink.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise OutputInUse(
            f"{output} is in use by another i2cr process; wait for it or choose another --output"
        ) from None


def trace_config(
    row: dict[str, Any], settings: Context, metadata: Mapping[str, Any] | None = None
) -> RunnableConfig:
    """Run name, tags and metadata that find this row's trace (LangSmith, Studio) by its id."""
    sample_id = str(row.get("sample_id") or "")
    return {
        "run_name": f"i2cr {sample_id}".strip(),
        "tags": ["i2cr", f"sample:{sample_id}"] if sample_id else ["i2cr"],
        "metadata": {
            "sample_id": sample_id,
            "selector": settings.selector,
            "adapter": settings.adapter,
            **(metadata or {}),
        },
    }


def link_one(
    graph: Linker,
    row: dict[str, Any],
    settings: Context,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the graph on one input; the record holds the result and every round.

    A LangChain runnable (the compiled graph) runs with `trace_config`, `metadata` added.
    """
    graph_input = {k: v for k, v in row.items() if k not in BATCH_ONLY_FIELDS}
    started = time.perf_counter()
    if isinstance(graph, Runnable):
        config = trace_config(graph_input, settings, metadata)
        output = graph.invoke(graph_input, config=config, context=settings)
    else:
        output = graph.invoke(graph_input, context=settings)
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
    settings: Context,
    *,
    retry_errors: bool = False,
    total: int | None = None,
    progress: bool = True,
    workers: int = 1,
    metadata: Mapping[str, Any] | None = None,
    engine: Engine = thread_engine,
) -> BatchSummary:
    """Link every row not yet in `output`, appending one JSON line per row.

    A bad row is recorded with its error and the run goes on; rerunning after an interruption
    skips the rows already written (errors too, unless `retry_errors`). With `workers` > 1 up
    to that many rows are linked at once (threads) and lines are written as they finish.
    A repeated id is linked as its own row under `<id>#<n>` (see `unique_ids`). The output is
    locked for the run: a second process on the same file raises `OutputInUse`. `metadata`
    (the dataset, the configuration) goes into each row's trace. `engine` links the rows
    (threads by default; `i2cr.batch_ray.RayEngine` on a Ray cluster); this process writes
    every line, so the guarantees hold for any engine.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    summary = BatchSummary()
    with (
        engine(graph, settings, metadata, workers) as submit,
        output.open("a", encoding="utf-8") as sink,
        tqdm(total=total, disable=not progress, desc="linking") as bar,
    ):
        lock_output(sink, output)
        done = finished_ids(output, retry_errors)
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

        for row_id, row in unique_ids(rows, summary.renamed):
            if row_id in done:
                summary.skipped += 1
                summary.skipped_errors += done[row_id]
                bar.update()
                continue
            done[row_id] = False
            running.add(submit(row_id, row))
            while len(running) >= workers:
                write_finished(block=True)
        while running:
            write_finished(block=True)
    return summary


def record_row(
    graph: Linker,
    row_id: str,
    row: dict[str, Any] | InputError,
    settings: Context,
    metadata: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Link one row into its results line, or record the error that stopped it."""
    record: dict[str, Any] = {"id": row_id}
    if isinstance(row, dict):
        record.update({key: row[key] for key in ("gold", "input_id") if row.get(key)})
    try:
        if isinstance(row, InputError):
            raise row
        record.update(link_one(graph, row, settings, metadata))
    except Exception as err:  # one bad row must not end the batch
        record["error"] = f"{type(err).__name__}: {err}"
    if isinstance(row, dict) and row.get("input_warnings"):
        record["warnings"] = [*row["input_warnings"], *record.get("warnings", [])]
    return record
