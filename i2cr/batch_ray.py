"""Batch linking on Ray: one linker actor per worker, the lines written by the driver.

`run_batch(..., engine=RayEngine(address))` sends each row to an idle actor as the driver reads
it (a row is Ray's unit of work here: one graph run takes seconds, so the per-row call costs
nothing beside it). Each actor holds the graph, the run's settings and metadata, and loads the
models once, on its first row, into its own process, and names its Ray node in each line it
makes (`node`: the node's id and host name). The driver appends each finished line to the one
output file, so resuming, the lock and "every row once" are `run_batch`'s, as with threads: a
lost node fails the run, and the rerun links the rows not written. With no address Ray starts
on this machine for the run and stops after it.
"""

from __future__ import annotations

import importlib
import os
import queue
import re
import socket
import sys
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from i2cr.batch import Linker, Submit, record_row
from i2cr.context import Context
from i2cr.errors import InputError
from i2cr.models.chat import register_chat_model, registered_chat_model

REACH_TIMEOUT_S = 5
# Read when Ray is imported: a Ray this module starts for one run listens on loopback only.
LOOPBACK_ONLY = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
PACKAGE_GRAPH = "i2cr.graph:graph"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class RayEngineError(ValueError):
    """The Ray cluster cannot be reached, is too small for the workers, or lost a worker."""


class LinkerWorker:
    """One worker's linker: the graph with the run's context (runs as a Ray actor)."""

    def __init__(
        self,
        graph: Linker | str,
        settings: Context,
        metadata: Mapping[str, Any] | None,
        selector: Any,
        setup: Callable[[Context], object] | None,
    ) -> None:
        """Take the run's graph and settings; a selector registered in the driver comes along.

        A graph given as "module:attribute" is imported here.
        """
        if isinstance(graph, str):
            module, _, name = graph.partition(":")
            self.graph: Linker = getattr(importlib.import_module(module), name)
        else:
            self.graph = graph
        self.context, self.metadata = settings, metadata
        if selector is not None:
            register_chat_model(settings.selector, selector)
        if setup is not None:
            setup(settings)
        import ray

        self.node = {"id": ray.get_runtime_context().get_node_id(), "host": socket.gethostname()}

    def ready(self) -> int:
        """Answer once started: the worker's process id."""
        return os.getpid()

    def link(self, row_id: str, row: dict[str, Any] | InputError) -> dict[str, Any]:
        """Link one row into its results line (a bad row's line holds its error), node named."""
        return {
            **record_row(self.graph, row_id, row, self.context, self.metadata),
            "node": self.node,
        }


@dataclass(frozen=True)
class RayEngine:
    """Link a batch on Ray: `address` of a running cluster, or None for Ray on this machine.

    Each of the run's `workers` is an actor reserving `cpus_per_worker` CPUs. `setup(settings)`
    runs in each actor before its first row (e.g. attaching a response cache).
    """

    address: str | None = None
    cpus_per_worker: float = 1.0
    setup: Callable[[Context], object] | None = None

    @contextmanager
    def __call__(
        self, graph: Linker, settings: Context, metadata: Mapping[str, Any] | None, workers: int
    ) -> Iterator[Submit]:
        """Start the actors (and a local Ray when no address), stop them after the run."""
        ray = _import_ray(self.address)
        connected_here = not ray.is_initialized()
        if connected_here:
            _start(ray, self.address, workers, self.cpus_per_worker)
        actors: list[Any] = []
        try:
            cpus = ray.cluster_resources().get("CPU", 0)
            _check_capacity(cpus, self.address, workers, self.cpus_per_worker)
            worker = ray.remote(num_cpus=self.cpus_per_worker)(LinkerWorker)
            selector = registered_chat_model(settings.selector)
            shared = ray.put(_shipped(graph))
            actors = [
                worker.remote(shared, settings, metadata, selector, self.setup)
                for _ in range(workers)
            ]
            try:
                ray.get([actor.ready.remote() for actor in actors])
            except ray.exceptions.RayError as err:
                raise RayEngineError(f"a Ray linker worker failed to start: {_cause(err)}") from err
            idle: queue.Queue[Any] = queue.Queue()
            for actor in actors:
                idle.put(actor)
            yield lambda row_id, row: _submit(idle, row_id, row)
        finally:
            for actor in actors:
                ray.kill(actor)
            if connected_here:
                ray.shutdown()


def _shipped(graph: Linker) -> Linker | str:
    """The linker as it travels to the workers: this package's graph by name, others pickled.

    A compiled LangGraph graph does not survive pickling: its sentinel objects come back as
    new objects and every node's update is refused.
    """
    from i2cr.graph import graph as package_graph

    return PACKAGE_GRAPH if graph is package_graph else graph


def _submit(idle: queue.Queue[Any], row_id: str, row: dict[str, Any] | InputError) -> Future:
    """Send a row to the next idle actor; the actor is idle again before the future is done."""
    from ray.exceptions import RayError

    actor = idle.get()
    line: Future[dict[str, Any]] = Future()

    def finished(reply: Future) -> None:
        idle.put(actor)
        try:
            line.set_result(reply.result())
        except RayError as err:
            line.set_exception(
                RayEngineError(
                    f"a Ray worker was lost while linking row {row_id!r} ({_cause(err)}): "
                    "rerun the same command to link the rows not written yet"
                )
            )

    actor.link.remote(row_id, row).future().add_done_callback(finished)
    return line


def _import_ray(address: str | None) -> ModuleType:
    """Ray, imported after checking `address` answers (Ray itself retries for minutes)."""
    if address is not None:
        _check_reachable(address)
    elif "ray" not in sys.modules:
        for name, value in LOOPBACK_ONLY.items():
            os.environ.setdefault(name, value)
    try:
        import ray
    except ImportError as err:
        raise RayEngineError(f"the Ray engine needs Ray ({err}): pip install 'i2cr[ray]'") from err
    return ray


def _start(ray: ModuleType, address: str | None, workers: int, cpus_per_worker: float) -> None:
    """Join the cluster at `address`, or start Ray on this machine with the CPUs it has.

    More workers than this machine's CPUs are refused before Ray starts (no actor process).
    """
    if address is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        _check_capacity(float(cpus or 1), address, workers, cpus_per_worker)
        ray.init(num_cpus=cpus or 1, include_dashboard=False, log_to_driver=False)
        return
    try:
        ray.init(address=address, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError, ray.exceptions.RayError) as err:
        raise RayEngineError(f"cannot join the Ray cluster at {address}: {_cause(err)}") from err


def _check_reachable(address: str) -> None:
    """Fail at once when nothing listens at a host:port address (Ray itself retries minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and other forms Ray resolves itself
    try:
        socket.create_connection((host, int(port)), timeout=REACH_TIMEOUT_S).close()
    except OSError as err:
        raise RayEngineError(f"no Ray cluster answers at {address}: {err}") from err


def _check_capacity(cpus: float, address: str | None, workers: int, cpus_per_worker: float) -> None:
    """Refuse more workers than the cluster has CPUs for (their actors would wait forever)."""
    if workers * cpus_per_worker > cpus:
        where = f"the Ray cluster at {address}" if address else "this machine's Ray"
        raise RayEngineError(
            f"{where} has {cpus:g} CPUs: --workers {workers} needs {workers * cpus_per_worker:g}"
        )


def _line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _cause(err: BaseException) -> str:
    """The innermost error a Ray error reports (the last "...Error: ..." line), else its first."""
    lines = [ANSI.sub("", line).strip() for line in str(err).splitlines()]
    causes = [line for line in lines if re.match(r"^[\w.]+(Error|Exception): ", line)]
    return causes[-1] if causes else _line(err)
