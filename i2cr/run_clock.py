"""When each graph run began, kept by the process: the clock of the per-mention time budget.

The start is not in the graph's state, so nothing a client writes there (a command, a thread
state update) can reset it. A run is told apart by its run id (a LangGraph server gives every
run one) or, for in-process calls without one, by its run-scoped `RunControl` object, which
LangGraph creates afresh for each invocation.
"""

from __future__ import annotations

import threading
import time
from typing import Any

# Runs that end in an error never say so; their entries go once this old.
FORGET_AFTER_S = 24 * 3600.0

_starts: dict[object, tuple[Any, float]] = {}
_lock = threading.Lock()


def _run_key(runtime: Any) -> tuple[object, Any]:
    info = getattr(runtime, "execution_info", None)
    run_id = getattr(info, "run_id", None)
    if run_id:
        return ("run", str(run_id)), None
    control = getattr(runtime, "control", None)
    if control is None:
        raise RuntimeError("a graph node runs without LangGraph's run control; cannot time it")
    # The object is kept with its entry, so its id is not reused while the entry lives.
    return ("control", id(control)), control


def run_started(runtime: Any) -> float:
    """`time.monotonic()` when this run's first node began (registered on the first call)."""
    key, keep = _run_key(runtime)
    now = time.monotonic()
    with _lock:
        entry = _starts.get(key)
        if entry is None:
            _forget_old(now)
            _starts[key] = (keep, now)
            return now
        return entry[1]


def run_finished(runtime: Any) -> None:
    """Forget the run's start (its last node ran)."""
    key, _ = _run_key(runtime)
    with _lock:
        _starts.pop(key, None)


def _forget_old(now: float) -> None:
    stale = [key for key, (_, started) in _starts.items() if now - started > FORGET_AFTER_S]
    for key in stale:
        del _starts[key]
