"""Every node runs behind the guard: state that did not pass `retrieve` is refused by name.

A run `command` can start the graph at any node, and a thread's state can be written directly;
neither may hand a node input past the limits, and neither can move the time budget's clock.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from i2cr import graph
from i2cr.errors import InputError, TimeBudgetError
from i2cr.state import State


def with_memory():
    return graph.copy(update={"checkpointer": InMemorySaver()})


def test_a_command_to_select_with_an_overlong_mention_is_refused_before_the_selector(
    scripted, mention
):
    model, context = scripted("<|ANSWER|>: Ed Rendell", max_mention_chars=50)
    update = {**mention, "mention": "Rendell " * 3000}
    with pytest.raises(InputError, match=r"mention cut from 24000 to 50 characters"):
        graph.invoke(Command(update=update, goto="select"), context=context)
    assert model.prompts == []


def test_a_command_within_the_limits_runs_from_the_node_it_names(scripted, mention, scores):
    scores(icr={"Ed": 0.9, "Ruth": 0.1, "Don": 0.1})
    model, context = scripted("<|ANSWER|>: Ed Rendell", use_iav=False)
    out = graph.invoke(Command(update=mention, goto="select"), context=context)
    assert out["result"]["entity"] == "Ed Rendell"
    assert out["warnings"] == []


@pytest.mark.parametrize(
    ("field", "value", "limit"),
    [
        ("context", "budget " * 1000, "max_context_chars"),
        ("candidates", "many", "max_candidates"),
        ("clue", "a man " * 10_000, "max_clue_chars"),
        ("excluded", [7], "excluded must list candidate positions"),
        ("confidences", [1.0, 7.0, 0.0], "confidences must be probabilities"),
        ("confidences", [0.9], "confidences must be probabilities, one per candidate"),
    ],
)
def test_state_written_as_retrieve_is_checked_before_the_next_node(
    scripted, mention, field, value, limit
):
    model, context = scripted("<|ANSWER|>: Ed Rendell", max_context_chars=100, max_candidates=5)
    linker = with_memory()
    config: dict[str, Any] = {"configurable": {"thread_id": f"t-{field}"}}
    if value == "many":
        value = [{"name": f"Entity {i}", "desc": "x"} for i in range(50)]
    linker.update_state(config, {**mention, field: value}, as_node="retrieve")
    with pytest.raises(InputError, match=limit):
        linker.invoke(None, config, context=context)
    assert model.prompts == []


def test_an_image_written_into_the_state_must_lie_in_the_image_root(scripted, mention, tmp_path):
    model, context = scripted("<|ANSWER|>: Ed Rendell", image_root=str(tmp_path))
    linker = with_memory()
    config: dict[str, Any] = {"configurable": {"thread_id": "image"}}
    state = {**mention, "image": "/etc/passwd", "image_ok": True}
    linker.update_state(config, state, as_node="retrieve")
    with pytest.raises(InputError, match="outside the allowed image folder"):
        linker.invoke(None, config, context=context)
    assert model.prompts == []


def test_the_state_has_no_clock_for_a_client_to_write():
    assert "started_at" not in State.__dataclass_fields__


def test_the_budget_counts_from_the_run_however_it_starts(scripted, mention, scores, monkeypatch):
    scores(icr={"Ruth": 0.0, "Ed": 0.0, "Don": 0.0})
    model, context = scripted(
        *["<|ANSWER|>: Ruth Rendell"] * 4,
        max_seconds_per_mention=0.3,
        use_iav=False,
        use_vif=False,
    )
    original = model._call

    def slow(*args: Any, **kwargs: Any) -> str:
        time.sleep(0.2)
        return original(*args, **kwargs)

    monkeypatch.setattr(type(model), "_call", lambda self, *a, **k: slow(*a, **k))
    with pytest.raises(TimeBudgetError, match="over max_seconds_per_mention=0.3"):
        graph.invoke(Command(update=mention, goto="select"), context=context)
    assert len(model.prompts) == 2
