"""KG enrichment with a fake chat model: summaries, briefs, the per-entity cache, the CLI."""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from i2cr.cli import main
from i2cr.errors import InputError
from i2cr.kg import SqliteKG, build_store, iter_entities
from i2cr.kg.enrich import enrich_store, fit

LONG = "Ruth Rendell was an English author of thrillers and psychological murder mysteries. " * 5


def build(tmp_path, rows):
    source = tmp_path / "entities.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    store = tmp_path / "kg.sqlite"
    build_store(((str(n), e) for n, e in iter_entities(source)), store)
    return store


ROWS: list[dict[str, Any]] = [
    {"qid": "Q1", "name": "Ruth Rendell", "description": LONG},
    {"qid": "Q2", "name": "Ed Rendell", "description": "American politician."},
    {"qid": "Q3", "name": "Don Rendell", "aliases": ["Donald Rendell"]},
]


def test_long_descriptions_are_summarised_and_empty_ones_get_a_brief(scripted, tmp_path):
    store = build(tmp_path, ROWS)
    model, _ = scripted("English crime novelist (1930-2015).", "British jazz saxophonist.")
    summary = enrich_store(store, model, max_chars=120)
    assert (summary.written, summary.cached) == (2, 0)
    assert "Summarise this description of the entity Ruth Rendell" in model.prompts[0]
    assert "Donald Rendell" in model.prompts[1]
    found = {c["qid"]: c["desc"] for c in SqliteKG(store).search("Rendell", 3)}
    assert found == {
        "Q1": "English crime novelist (1930-2015).",
        "Q2": "American politician.",
        "Q3": "British jazz saxophonist.",
    }


def test_rerun_asks_the_model_nothing_and_a_changed_description_is_redone(scripted, tmp_path):
    store = build(tmp_path, ROWS)
    model, _ = scripted("summary one", "brief", "summary two")
    enrich_store(store, model, max_chars=120)
    again = enrich_store(store, model, max_chars=120)
    assert (again.written, again.cached) == (0, 2)
    assert len(model.prompts) == 2
    changed = [{**ROWS[0], "description": LONG + " Also a peer."}, *ROWS[1:]]
    store = build(tmp_path, changed)
    assert SqliteKG(store).search("Ruth Rendell", 1)[0]["desc"] == changed[0]["description"]
    third = enrich_store(store, model, max_chars=120)
    assert (third.written, third.cached) == (1, 1)
    assert SqliteKG(store).search("Ruth Rendell", 1)[0]["desc"] == "summary two"
    assert SqliteKG(store).search("Don Rendell", 1)[0]["desc"] == "brief"


def test_model_answers_are_cut_to_the_limit_at_a_sentence_or_word():
    assert fit("One two three.  Four five six seven.", 20) == "One two three."
    assert fit("alpha beta gamma delta epsilon", 18) == "alpha beta gamma"
    assert fit("  short \n text ", 40) == "short text"


def test_enrich_needs_a_built_store(scripted, tmp_path):
    model, _ = scripted("x")
    plain = tmp_path / "entities.jsonl"
    plain.write_text('{"qid": "Q1", "name": "A"}\n')
    with pytest.raises(InputError, match="not a KG store"):
        enrich_store(plain, model)


def test_cli_builds_searches_and_enriches(scripted, tmp_path, capsys):
    source = tmp_path / "entities.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    store = tmp_path / "kg.sqlite"
    assert main(["kg", "build", str(store), "--entities", str(source)]) == 0
    assert "3 entities" in capsys.readouterr().out
    assert main(["kg", "search", str(store), "Ed Rendel", "--set", "k=1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["qid"] == "Q2"
    _, context = scripted("a summary", "a brief")
    command = ["kg", "enrich", str(store), "--set", f"selector={context.selector}"]
    assert main(command) == 0
    assert "wrote 2 texts, 0 already made" in capsys.readouterr().out
    assert main(command) == 0
    assert "wrote 0 texts, 2 already made" in capsys.readouterr().out


def test_cli_build_reports_a_bad_row_and_fails(tmp_path, capsys):
    source = tmp_path / "entities.jsonl"
    source.write_text('{"qid": "Q1"}\n')
    assert main(["kg", "build", str(tmp_path / "kg.sqlite"), "--entities", str(source)]) == 2
    assert "entities.jsonl:1 field 'name'" in capsys.readouterr().err


COUNTING = threading.Lock()


class SlowNamingChat(FakeListChatModel):
    """After `delay_s`, answers a text naming the prompt's entity; counts calls in flight."""

    delay_s: float = 0.2
    in_flight: int = 0
    most_in_flight: int = 0

    def _call(self, messages: Any, *args: Any, **kwargs: Any) -> str:
        with COUNTING:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        time.sleep(self.delay_s)
        with COUNTING:
            self.in_flight -= 1
        name = re.search(r"entity (\w+ \w+)", str(messages[-1].content))
        return f"A text about {name.group(1) if name else '?'}."


def test_workers_ask_at_once_and_each_text_lands_on_its_entity(tmp_path):
    names = [f"Person{i} Rendell" for i in range(8)]
    store = build(
        tmp_path, [{"qid": f"Q{i}", "name": n, "description": LONG} for i, n in enumerate(names)]
    )
    model = SlowNamingChat(responses=["unused"])
    started = time.perf_counter()
    summary = enrich_store(store, model, max_chars=120, workers=4)
    assert time.perf_counter() - started < 8 * model.delay_s / 2
    assert model.most_in_flight == 4
    assert summary.written == 8
    found = {c["name"]: c["desc"] for c in SqliteKG(store).search("Rendell", 8)}
    assert found == {name: f"A text about {name}." for name in names}


def test_cli_refuses_zero_workers(scripted, tmp_path, capsys):
    store = build(tmp_path, ROWS)
    _, context = scripted("x")
    command = [
        "kg",
        "enrich",
        str(store),
        "--workers",
        "0",
        "--set",
        f"selector={context.selector}",
    ]
    assert main(command) == 2
    assert "workers must be at least 1" in capsys.readouterr().err
