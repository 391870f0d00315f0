"""Data and helpers shared by several test modules (imported as `from helpers import ...`)."""

from __future__ import annotations

import bz2
import gzip
import json
import random
import re
import time
from pathlib import Path
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeListChatModel

from i2cr.cli import main

ANSWER = "<|ANSWER|>: Ed Rendell"

CANDIDATES = [
    {
        "name": "Ruth Rendell",
        "desc": "Ruth Rendell was an English author of thrillers.",
        "qid": "Q1",
    },
    {"name": "Ed Rendell", "desc": "Ed Rendell is an American politician, governor.", "qid": "Q2"},
    {"name": "Don Rendell", "desc": "Don Rendell was an English jazz saxophonist.", "qid": "Q3"},
]


RELEASE_CANDIDATES = str([{"name": c["name"], "desc": c["desc"]} for c in CANDIDATES])

# A small KG (test_kg, test_kg_postgres).
KG_ENTITIES = [
    {"qid": "Q76", "name": "Barack Obama", "description": "44th president of the USA"},
    {"qid": "Q13133", "name": "Michelle Obama", "description": "lawyer and writer"},
    {"qid": "Q23", "name": "George Washington", "aliases": ["Washington"], "description": ""},
    {"qid": "Q61", "name": "Washington, D.C.", "description": "capital of the USA"},
    {"qid": "Q1", "name": "Ais_people", "description": "an ethnic group"},
    {"qid": "Q2", "name": "Ed Rendell", "desc": "governor", "image": "ed.jpg"},
    {"qid": "Q3", "name": "Ruth Rendell", "desc": "author", "aliases": ["Barbara Vine"]},
]


# A KG with popularity and aliases, and training mentions for alias priors (test_kg_hybrid,
# test_kg_postgres).
HYBRID_ENTITIES = [
    {
        "qid": "Q76",
        "name": "Barack Obama",
        "aliases": ["Obama"],
        "popularity": 300,
        "description": "44th president of the United States, from 2009 to 2017",
    },
    {
        "qid": "Q125731",
        "name": "Ehud Barak",
        "popularity": 90,
        "description": "Israeli politician, prime minister of Israel",
    },
    {"qid": "Q800", "name": "Barak", "popularity": 2, "description": "village in Kyrgyzstan"},
    {"qid": "Q801", "name": "Barak Obma", "description": "a footballer with a similar name"},
    {
        "qid": "Q23",
        "name": "George Washington",
        "aliases": ["Washington"],
        "popularity": 200,
        "description": "first president of the United States",
    },
    {
        "qid": "Q61",
        "name": "Washington, D.C.",
        "aliases": ["Washington"],
        "popularity": 300,
        "description": "capital city of the United States",
    },
    {
        "qid": "Q1223",
        "name": "Washington",
        "popularity": 99,
        "description": "state of the United States of America",
    },
    {
        "qid": "Q42",
        "name": "Douglas Adams",
        "popularity": 3,
        "description": "English writer and humorist, author of The Hitchhiker's Guide",
    },
]

TRAINING = [
    {"mention": "Washington", "gold_qid": "Q23"},
    {"mention": "Washington", "gold_qid": "Q23"},
    {"mention": "Washington", "gold_qid": "Q1223"},
    {"mention": "the Prez", "gold_qid": "Q76"},
    {"mention": "Nobody", "gold_qid": "Q999999"},
]


class EchoMention(FakeListChatModel):
    """A selector answering the prompt's mention after `delay` seconds: the same row gets the
    same answer on any engine and worker (a Ray worker unpickles it from this module)."""

    delay: float = 0.0
    responses: list[str] = [""]

    def _call(self, messages: Any, *args: Any, **kwargs: Any) -> str:
        time.sleep(self.delay)
        found = re.search(r"'mention': '([^']*)'", str(messages[-1].content))
        return f"<|ANSWER|>: {found.group(1) if found else ''}"


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def synthetic_entities(count, seed=0):
    rng = random.Random(seed)
    firsts = ["Anna", "John", "Maria", "Peter", "Li", "Ahmed", "Olga", "Jean", "Sofia", "Kenji"]
    lasts = ["Smith", "Rossi", "Wang", "Novak", "Garcia", "Kowalski", "Dubois", "Tanaka"]
    seen: set[str] = set()
    rows: list[dict[str, str]] = []
    while len(rows) < count:
        last = f"{rng.choice(lasts)}{rng.choice('abcdefghij')}{rng.randint(0, 99)}"
        name = f"{rng.choice(firsts)} {last}"
        if name not in seen:
            seen.add(name)
            rows.append({"qid": f"Q{len(rows)}", "name": name})
    return rows


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def tes_only(scripted, count):
    return scripted(*([ANSWER] * count), use_icr=False, use_iav=False, use_vif=False)[1]


def cli_link(context: Any, *arguments: str) -> int:
    """`i2cr link` with the context's selector, switches and ranker as `--set` options."""
    settings = ["selector", "use_icr", "use_iav", "use_vif", "ranker"]
    options = [f"{name}={str(getattr(context, name)).lower()}" for name in settings]
    options[0] = f"selector={context.selector}"
    return main(["link", *arguments, *(a for o in options for a in ("--set", o))])


def write_release(path: Path, samples: dict) -> None:
    """An I2CR release file of `samples`."""
    path.write_text(json.dumps(samples))


# Wikidata JSON dumps (test_kg_wikidata, test_kg_postgres).


def label(lang, value):
    return {"language": lang, "value": value}


def image_claim(name, rank="normal"):
    return {
        "mainsnak": {
            "snaktype": "value",
            "property": "P18",
            "datavalue": {"value": name, "type": "string"},
            "datatype": "commonsMedia",
        },
        "type": "statement",
        "id": f"Q$${name}",
        "rank": rank,
    }


def sitelinks(*wikis):
    return {w: {"site": w, "title": "T", "badges": []} for w in wikis}


def item(qid, labels, descriptions=None, aliases=None, images=(), links=()):
    return {
        "type": "item",
        "id": qid,
        "labels": {lang: label(lang, v) for lang, v in labels.items()},
        "descriptions": {lang: label(lang, v) for lang, v in (descriptions or {}).items()},
        "aliases": {lang: [label(lang, v) for v in vs] for lang, vs in (aliases or {}).items()},
        "claims": {"P18": [image_claim(*i) for i in images]} if images else {},
        "sitelinks": sitelinks(*links),
        "lastrevid": 1,
    }


ITEMS = [
    item(
        "Q42",
        {"en": "Douglas Adams", "fr": "Douglas Adams"},
        {"en": "English writer and humorist (1952-2001)", "fr": "écrivain anglais"},
        {"en": ["Douglas Noël Adams", "Douglas Noel Adams", "DNA"]},
        images=[("Douglas adams portrait cropped.jpg",)],
        links=("enwiki", "frwiki", "dewiki"),
    ),
    item(
        "Q76",
        {"en": "Barack Obama"},
        {"en": "president of the United States from 2009 to 2017"},
        {"en": ["Obama", "Barack Hussein Obama II"]},
        images=[("Obama old.jpg", "deprecated"), ("Obama 2012.jpg",), ("Obama.jpg", "preferred")],
        links=tuple(f"wiki{i}" for i in range(300)),
    ),
    item(
        "Q125731",
        {"en": "Ehud Barak"},
        {"en": "Israeli politician and general"},
        links=tuple(f"wiki{i}" for i in range(90)),
    ),
    item("Q90", {"fr": "Paris"}, {"fr": "capitale de la France"}, links=("frwiki",)),
    {"type": "property", "id": "P31", "labels": {"en": label("en", "instance of")}},
]


def dump_text(items=ITEMS):
    """The dump's exact layout: '[', one entity per line ending in ',' but the last, ']'."""
    lines = [json.dumps(i, ensure_ascii=False, separators=(",", ":")) for i in items]
    return "[\n" + ",\n".join(lines) + "\n]\n"


def write_dump(path, text):
    data = text.encode("utf-8")
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(data))
    elif path.name.endswith(".bz2"):
        path.write_bytes(bz2.compress(data))
    else:
        path.write_bytes(data)
    return path


def assert_fields_agree(attempts: list[dict[str, Any]]) -> None:
    """Each try's recorded fields say what its decision says (the rules of `i2cr.state.State`):
    a check's `passed` is set exactly when the decision is that check's, or a later one's."""
    for a in attempts:
        decision = a["decision"]
        ran_iav = decision in ("iav_pass", "iav_fail")
        assert (a["iav_passed"] is not None) == ran_iav, a
        assert (a["iav_score"] is not None) == ran_iav, a
        if ran_iav:
            assert a["iav_passed"] == (decision == "iav_pass"), a
            assert a["iav_method"] in ("clip", "clue_text"), a
        if decision in ("icr_pass", "icr_fail", "icr_best_of_failed", "icr_nil"):
            assert a["icr_passed"] == (decision == "icr_pass"), a
        if decision in ("selected", "nil", "unparsable", "ranker_nil"):
            assert a["icr_passed"] is None and a["iav_method"] in (None, "no_clue", "skipped"), a
