"""What the pgvector benchmarks share: a PostgreSQL with pgvector, and one KG in both stores.

The server is pgserver's PostgreSQL 16.2 with pgvector 0.6.2 (pip install pgserver), started
in a folder of its own with the given settings, unless a URL of a running server is given.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from i2cr.kg import Entity, build_store
from i2cr.kg.postgres import build_postgres_store
from i2cr.kg.priors import PriorTables


@contextmanager
def pgvector_server(folder: Path, settings: dict[str, str], url: str | None) -> Iterator[str]:
    """A URL of `url`'s server, or of pgserver's started in `folder` with `settings` set."""
    if url:
        yield url
        return
    import pgserver

    folder.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(folder, cleanup_mode="stop")
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        for name, value in settings.items():
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
    # Settings such as shared_buffers take a restart: the last handle stops the server.
    server.cleanup()
    server = pgserver.get_server(folder, cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


def database(server_url: str, name: str) -> str:
    """The URL of database `name` on the server, created when missing."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f"CREATE DATABASE {name}")
    if "?" in server_url:
        base, query = server_url.split("?", 1)
        return f"{base.rsplit('/', 1)[0]}/{name}?{query}"
    return f"{server_url.rsplit('/', 1)[0]}/{name}"


def server_facts(url: str) -> dict[str, Any]:
    """The server's version, pgvector's and the settings the measurements depend on."""
    with psycopg.connect(url) as conn:
        facts: dict[str, Any] = {"server": conn.execute("SELECT version()").fetchone()[0]}
        row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        found = row.fetchone()
        facts["pgvector"] = found[0] if found else None
        for name in ("shared_buffers", "maintenance_work_mem", "max_parallel_maintenance_workers"):
            facts[name] = conn.execute(f"SHOW {name}").fetchone()[0]
    return facts


def build_both(
    entities: Sequence[Entity], sqlite: Path, url: str, counts: Any, log: Callable[[str], None]
) -> dict[str, float]:
    """Build the SQLite store (unless there) and the PostgreSQL store, with alias priors.

    Returns the seconds each build took.
    """
    seconds: dict[str, float] = {}
    if not sqlite.is_file():
        start = time.perf_counter()
        priors = PriorTables(counts)
        build_store(priors.watch((e.qid, e) for e in entities), sqlite, finish=priors.write)
        seconds["sqlite_build_s"] = time.perf_counter() - start
        log(f"built {sqlite} in {seconds['sqlite_build_s']:.0f} s")
    start = time.perf_counter()
    priors = PriorTables(counts)
    build_postgres_store(priors.watch((e.qid, e) for e in entities), url, priors=priors)
    seconds["postgres_build_s"] = time.perf_counter() - start
    log(f"built the PostgreSQL store in {seconds['postgres_build_s']:.0f} s")
    return seconds


def machine() -> dict[str, Any]:
    """The machine the figures come from, and its load when they were taken."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    return {
        "cpu": model or platform.processor(),
        "cores": len(os.sched_getaffinity(0)),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def percentiles(seconds: Sequence[float]) -> dict[str, float]:
    """p50 and p95 in milliseconds."""
    values = 1000 * np.asarray(seconds)
    return {"p50_ms": float(np.percentile(values, 50)), "p95_ms": float(np.percentile(values, 95))}
