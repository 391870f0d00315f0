"""KG enrichment by a chat model, cached per entity in the store.

Descriptions longer than `max_chars` get a summary of about WikiMEL's length (the I2CR step) and
entities without a description get a short brief (DIM's idea); the store's search shows them in
place of the description. Each text is saved with a fingerprint of what it was made from, so a
re-run only asks the model about entities that are new or changed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from i2cr.errors import InputError
from i2cr.kg.enrichment_table import EnrichmentTable, Job
from i2cr.kg.entity_store import text_hash
from i2cr.kg.opening import open_enrichment_table
from i2cr.prompts.enrich import ALIASES_NOTE, BRIEF_PROMPT, ENRICH_SYSTEM_PROMPT, SUMMARY_PROMPT

COMMIT_EVERY = 20


@dataclass
class EnrichSummary:
    """What an enrichment run did."""

    written: int = 0
    cached: int = 0


def plan_jobs(
    rows: Iterable[tuple[str, str, str, str]], max_chars: int, briefs: bool
) -> Iterator[Job]:
    """The texts the entities need (cached or not), in entity order."""
    for qid, name, aliases, description in rows:
        if len(description) > max_chars:
            prompt = SUMMARY_PROMPT.format(name=name, max_chars=max_chars, description=description)
            yield Job(qid, "summary", prompt, text_hash(description))
        elif briefs and not description:
            names = json.loads(aliases)
            note = ALIASES_NOTE.format(aliases=", ".join(names)) if names else ""
            prompt = BRIEF_PROMPT.format(name=name, aliases=note, max_chars=max_chars)
            yield Job(qid, "brief", prompt, text_hash(prompt))


def fit(text: str, max_chars: int) -> str:
    """Collapse whitespace and cut to `max_chars`, at a sentence end or else a word end."""
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    sentence_end = head.rfind(". ")
    if sentence_end >= max_chars // 2:
        return head[: sentence_end + 1]
    return head.rsplit(" ", 1)[0].rstrip(",;:")


def enrich_store(
    location: str | Path,
    model: BaseChatModel,
    max_chars: int = 240,
    briefs: bool = True,
    limit: int | None = None,
    progress: Callable[[Iterator[Job], int], Iterator[Job]] | None = None,
    workers: int = 1,
) -> EnrichSummary:
    """Write summaries and briefs into the store at `location` (a file or a PostgreSQL URL).

    `workers` texts are asked for at once (threads: worth it with a remote model).
    """
    if max_chars < 20:
        raise InputError(f"max_chars must be at least 20, got {max_chars}")
    if workers < 1:
        raise InputError(f"workers must be at least 1, got {workers}")
    with open_enrichment_table(str(location)) as table:
        return enrich_table(table, model, max_chars, briefs, limit, progress, workers)


def enrich_table(
    table: EnrichmentTable,
    model: BaseChatModel,
    max_chars: int,
    briefs: bool,
    limit: int | None,
    progress: Callable[[Iterator[Job], int], Iterator[Job]] | None,
    workers: int = 1,
) -> EnrichSummary:
    """Ask the model for every text not made yet (or made from another source) and save it.

    The texts are saved by this thread as the answers come in (`answers`).
    """
    done = table.made()
    jobs = list(plan_jobs(table.entity_rows(limit), max_chars, briefs))
    summary = EnrichSummary()
    todo = [job for job in jobs if done.get((job.qid, job.kind)) != job.source_hash]
    summary.cached = len(jobs) - len(todo)
    queued = progress(iter(todo), len(todo)) if progress else iter(todo)
    for job, answer in answers(model, queued, workers):
        text = fit(answer, max_chars)
        if not text:
            continue
        table.save(job, text)
        summary.written += 1
        if summary.written % COMMIT_EVERY == 0:
            table.commit()
    table.commit()
    return summary


def answers(model: BaseChatModel, jobs: Iterator[Job], workers: int) -> Iterator[tuple[Job, str]]:
    """(job, the model's answer) per job, `workers` asked at once, in the order they finish."""
    if workers == 1:
        yield from (asked(model, job) for job in jobs)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        running: set[Future[tuple[Job, str]]] = set()
        for job in jobs:
            running.add(pool.submit(asked, model, job))
            if len(running) >= workers:
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                yield from (future.result() for future in finished)
        while running:
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            yield from (future.result() for future in finished)


def asked(model: BaseChatModel, job: Job) -> tuple[Job, str]:
    """The job and the model's text for it."""
    answer = model.invoke([SystemMessage(ENRICH_SYSTEM_PROMPT), HumanMessage(job.prompt)])
    return job, str(answer.content)
