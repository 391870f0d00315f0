"""A mention's run stops once it has spent `max_seconds_per_mention` (an operator setting)."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from i2cr import graph
from i2cr.batch import run_batch
from i2cr.context import Context
from i2cr.errors import SettingError, TimeBudgetError
from i2cr.jsonl import json_lines
from i2cr.models.chat import register_chat_model
from i2cr.serving import refuse_operator_settings

_specs = itertools.count()
CALL_S = 0.4


class SlowChat(FakeListChatModel):
    """Answers the first candidate after `delay_s`, counting its calls."""

    delay_s: float = CALL_S
    calls: int = 0

    def _call(self, messages: Any, *args: Any, **kwargs: Any) -> str:
        self.calls += 1
        time.sleep(self.delay_s)
        return super()._call(messages, *args, **kwargs)


@pytest.fixture
def slow_context(scores):
    """A slow selector whose every answer fails ICR, so each round re-selects to its limit."""
    scores(icr={"Ruth": 0.0, "Ed": 0.0, "Don": 0.0})

    def make(**settings: Any) -> tuple[SlowChat, Context]:
        spec = f"test:slow-{next(_specs)}"
        model = SlowChat(responses=["<|ANSWER|>: Ruth Rendell"])
        register_chat_model(spec, model)
        fixed = {"ranker": "none", "use_iav": False, "use_vif": False, "max_reselect": 3}
        return model, Context(**{"selector": spec, **fixed, **settings})

    return make


def test_a_run_past_its_budget_stops_before_the_next_selector_call(slow_context, mention):
    model, context = slow_context(max_seconds_per_mention=CALL_S * 1.5)
    started = time.perf_counter()
    with pytest.raises(TimeBudgetError) as raised:
        graph.invoke(mention, context=context)
    assert time.perf_counter() - started < CALL_S * 3
    assert model.calls == 2  # three without the budget (see below)
    message = str(raised.value)
    assert "over max_seconds_per_mention=0.6 (I2CR_MAX_SECONDS_PER_MENTION)" in message
    assert f"stopped after {model.calls} selector calls in round 0" in message


def test_without_a_budget_the_same_run_finishes(slow_context, mention):
    model, context = slow_context(max_seconds_per_mention=0)
    out = graph.invoke(mention, context=context)
    assert model.calls == 3
    assert out["result"]["selector_calls"] == 3


def test_a_run_that_has_its_answer_finishes_past_the_budget(slow_context, mention):
    model, context = slow_context(max_seconds_per_mention=CALL_S / 2, use_icr=False)
    out = graph.invoke(mention, context=context)
    assert model.calls == 1
    assert out["result"]["entity"] == "Ruth Rendell"


def test_batch_records_the_stopped_row_and_goes_on(slow_context, mention, tmp_path):
    _, context = slow_context(max_seconds_per_mention=CALL_S * 1.5)
    rows = [("a", dict(mention)), ("b", dict(mention))]
    output = tmp_path / "out.jsonl"
    summary = run_batch(graph, rows, output, context, progress=False)
    records = [record for _, record in json_lines(output)]
    assert summary.failed == 2
    assert [r["id"] for r in records] == ["a", "b"]
    assert all(r["error"].startswith("TimeBudgetError: the mention's run took") for r in records)


def test_a_server_client_cannot_lift_the_budget():
    with pytest.raises(SettingError, match="cannot set max_seconds_per_mention"):
        refuse_operator_settings(Context(max_seconds_per_mention=0))


def test_a_negative_budget_is_refused():
    with pytest.raises(SettingError, match="max_seconds_per_mention must be at least 0"):
        Context(max_seconds_per_mention=-1)
