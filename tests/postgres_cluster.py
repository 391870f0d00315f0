"""Throwaway PostgreSQL servers for the tests.

`throwaway_cluster`: initdb into a temporary folder, a free port. The server binaries come from
`I2CR_PG_BIN`, else the newest /usr/lib/postgresql/*/bin, else PATH. PostgreSQL refuses to run
as root, so as root the cluster runs as the `postgres` user (Debian's package makes it).
`I2CR_TEST_POSTGRES_URL` names a running server to use instead (a superuser's URL: the tests
create databases and roles in it).

`pgvector_server`: the PostgreSQL 16 with pgvector (and no contrib modules) that the `pgserver`
wheel ships, in a temporary folder, reached by its Unix socket.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

SERVER_USER = "postgres"


def server_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl, or None when PostgreSQL is not installed."""
    if os.environ.get("I2CR_PG_BIN"):
        return Path(os.environ["I2CR_PG_BIN"])
    installed = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3])
    )
    if installed:
        return installed[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def missing_reason() -> str | None:
    """Why no cluster can be started here, or None when one can."""
    if os.environ.get("I2CR_TEST_POSTGRES_URL"):
        return None
    if server_binaries() is None:
        return "PostgreSQL server binaries not found (apt-get install postgresql, or I2CR_PG_BIN)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root and there is no {SERVER_USER!r} user to run PostgreSQL as"
    return None


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", SERVER_USER, "--", *command]
    return ["su", SERVER_USER, "-s", "/bin/sh", "-c", " ".join(map(_quoted, command))]


def _quoted(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(folder: Path, command: list[str]) -> None:
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    if done.returncode:
        log = folder / "log"
        server_log = log.read_text()[-2000:] if log.exists() else ""
        raise RuntimeError(f"{command} failed: {done.stderr or done.stdout}{server_log}")


@contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Start a cluster (trust authentication, loopback only) and yield its superuser URL."""
    if os.environ.get("I2CR_TEST_POSTGRES_URL"):
        yield os.environ["I2CR_TEST_POSTGRES_URL"]
        return
    binaries = server_binaries()
    assert binaries is not None, missing_reason()
    folder = Path(tempfile.mkdtemp(prefix="i2cr-pg-"))
    if os.geteuid() == 0:
        server = pwd.getpwnam(SERVER_USER)
        os.chown(folder, server.pw_uid, server.pw_gid)
    data, port = folder / "data", _free_port()
    try:
        _run(
            folder,
            _as_server_user(
                [str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
                + ["-E", "UTF8", "--locale=C.UTF-8"]
            ),
        )
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        _run(
            folder,
            _as_server_user(
                [str(binaries / "pg_ctl"), "-D", str(data), "-l", str(folder / "log")]
                + ["-o", options, "-w", "-t", "60", "start"]
            ),
        )
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            _run(
                folder,
                _as_server_user(
                    [str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
                ),
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def pgvector_missing_reason() -> str | None:
    """Why no pgvector server can be started here, or None when one can."""
    if importlib.util.find_spec("pgserver") is None:
        return "pgserver is not installed (pip install pgserver: PostgreSQL 16 with pgvector)"
    return None


@contextmanager
def pgvector_server() -> Iterator[str]:
    """Start pgserver's PostgreSQL (pgvector, no pg_trgm) and yield its superuser URL."""
    with warnings.catch_warnings():
        # platformdirs' RuntimeDirWarning when XDG_RUNTIME_DIR is unset (root, CI).
        warnings.simplefilter("ignore")
        import pgserver

    folder = Path(tempfile.mkdtemp(prefix="i2cr-pgvector-"))
    server = pgserver.get_server(folder, cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


_databases = itertools.count()


def fresh_database(server: str, prefix: str = "kg") -> str:
    """Create an empty database on the server (its superuser's URL); the database's URL."""
    import psycopg

    name = f"{prefix}_{os.getpid()}_{next(_databases)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
