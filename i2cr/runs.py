"""What the process keeps about each graph run: when it began and its resolved settings.

Both are resolved at the run's first node and read by every later node and router, so the
settings are checked once per run, and the time budget's clock is not in the graph's state,
where a client's command or thread state update could reset it. A run is told apart by its
run id (a LangGraph server gives every run one) or, for in-process calls without one, by its
run-scoped `RunControl` object, which LangGraph creates afresh for each invocation.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from i2cr.context import Context
from i2cr.serving import resolve_settings

# Runs that end in an error never say so; their entries go once this old.
FORGET_AFTER_S = 24 * 3600.0


@dataclass(frozen=True)
class RunFacts:
    """A run's start (`time.monotonic()`) and its settings, checked."""

    started: float
    settings: Context
    # Keeps the run's control object alive, so its id is not reused while the entry lives.
    control: Any = None


_runs: dict[object, RunFacts] = {}
_lock = threading.Lock()


def this_run(runtime: Any) -> RunFacts:
    """The facts of the run `runtime` belongs to (registered on its first call)."""
    key, control = _run_key(runtime)
    with _lock:
        facts = _runs.get(key)
    if facts is not None:
        return facts
    facts = RunFacts(started=time.monotonic(), settings=resolve_settings(runtime), control=control)
    with _lock:
        _forget_old(facts.started)
        return _runs.setdefault(key, facts)


def run_finished(runtime: Any) -> None:
    """Forget the run (its last node ran)."""
    key, _ = _run_key(runtime)
    with _lock:
        _runs.pop(key, None)


def _run_key(runtime: Any) -> tuple[object, Any]:
    info = getattr(runtime, "execution_info", None)
    run_id = getattr(info, "run_id", None)
    if run_id:
        return ("run", str(run_id)), None
    control = getattr(runtime, "control", None)
    if control is None:
        raise RuntimeError("a graph node runs without LangGraph's run control; cannot tell runs")
    return ("control", id(control)), control


def _forget_old(now: float) -> None:
    stale = [key for key, facts in _runs.items() if now - facts.started > FORGET_AFTER_S]
    for key in stale:
        del _runs[key]
