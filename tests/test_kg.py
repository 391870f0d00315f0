"""The KG store: building, indexed search against exhaustive search, errors, graph use."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from i2cr import graph
from i2cr.errors import InputError
from i2cr.kg import Entity, InMemoryKG, SqliteKG, build_store, iter_entities, open_kg
from i2cr.kg.matching import normalize

ENTITIES = [
    {"qid": "Q76", "name": "Barack Obama", "description": "44th president of the USA"},
    {"qid": "Q13133", "name": "Michelle Obama", "description": "lawyer and writer"},
    {"qid": "Q23", "name": "George Washington", "aliases": ["Washington"], "description": ""},
    {"qid": "Q61", "name": "Washington, D.C.", "description": "capital of the USA"},
    {"qid": "Q1", "name": "Ais_people", "description": "an ethnic group"},
    {"qid": "Q2", "name": "Ed Rendell", "desc": "governor", "image": "ed.jpg"},
    {"qid": "Q3", "name": "Ruth Rendell", "desc": "author", "aliases": ["Barbara Vine"]},
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def build(tmp_path, rows=ENTITIES, name="kg.sqlite"):
    source = write_jsonl(tmp_path / (name + ".jsonl"), rows)
    store = tmp_path / name
    build_store(((f"{source}:{n}", e) for n, e in iter_entities(source)), store)
    return store


def names(candidates):
    return [c["name"] for c in candidates]


def test_store_finds_exact_typo_alias_and_partial_mentions(tmp_path):
    kg = SqliteKG(build(tmp_path))
    assert names(kg.search("Barack Obama", 1)) == ["Barack Obama"]
    assert names(kg.search("Barak Obma", 1)) == ["Barack Obama"]
    assert names(kg.search("Barbara Vine", 1)) == ["Ruth Rendell"]
    assert names(kg.search("Ais people", 1)) == ["Ais_people"]
    assert set(names(kg.search("Obama", 2))) == {"Barack Obama", "Michelle Obama"}


def test_store_returns_stored_fields_and_k_distinct_entities(tmp_path):
    kg = SqliteKG(build(tmp_path))
    found = kg.search("Rendell", 10)
    assert len({c["qid"] for c in found}) == len(found)
    ed = next(c for c in found if c["qid"] == "Q2")
    assert ed == {"name": "Ed Rendell", "desc": "governor", "qid": "Q2"}
    entity, _ = next(e for e in kg.search_entities("Ed Rendell", 1))
    assert entity.image == "ed.jpg"
    assert len(kg) == len(ENTITIES)


def test_threads_rank_candidates_at_once_and_get_one_thread_s_answers(tmp_path, monkeypatch):
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from i2cr.kg import trigram_index

    kg = SqliteKG(build(tmp_path))
    mentions = ["Barack Obama", "Obama", "Michele Obama", "Barak Obma"] * 2
    alone = [names(kg.search(m, 3)) for m in mentions]
    rank, running, most = trigram_index.rank_labels, [0], [0]
    guard = threading.Lock()

    def slow_rank(*args, **kwargs):
        with guard:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)  # as a large pool's rapidfuzz ranking would take
        with guard:
            running[0] -= 1
        return rank(*args, **kwargs)

    monkeypatch.setattr(trigram_index, "rank_labels", slow_rank)
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda m: names(kg.search(m, 3)), mentions))
    assert together == alone
    assert most[0] >= 2  # the store's lock does not hold the ranking


def test_mention_with_no_letters_finds_nothing(tmp_path):
    assert SqliteKG(build(tmp_path)).search("?!", 5) == []


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


POOL = 20


def test_indexed_search_matches_exhaustive_search_with_a_small_pool(tmp_path):
    rows = synthetic_entities(3000)
    kg = SqliteKG(build(tmp_path, rows), pool=POOL)
    exhaustive = InMemoryKG([Entity(r["qid"], r["name"]) for r in rows])
    rng = random.Random(1)
    queries = []
    for row in rng.sample(rows, 60):
        name = row["name"]
        cut = rng.randrange(len(name))
        queries += [name, name[:cut] + name[cut + 1 :], name.split()[1]]
    same_top1 = sum(kg.search(q, 1)[0]["qid"] == exhaustive.search(q, 1)[0]["qid"] for q in queries)
    assert same_top1 >= 0.97 * len(queries)
    pool = kg._label_pool(normalize(queries[0]))
    assert 0 < len(pool) <= 3 * POOL < len(rows)


def test_store_and_exhaustive_rank_ties_alike(tmp_path):
    rows = [{"qid": f"Q{i}", "name": f"Smith {suffix}"} for i, suffix in enumerate("ABCDEF")]
    kg = SqliteKG(build(tmp_path, rows))
    exhaustive = InMemoryKG([Entity(r["qid"], r["name"]) for r in rows])
    assert kg.search("Smith", 6) == exhaustive.search("Smith", 6)


def test_malformed_entity_rows_name_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"qid": "Q1", "name": "A"}\n{"qid": "Q2"}\n')
    with pytest.raises(InputError, match=r"bad.jsonl:2 field 'name'"):
        list(iter_entities(bad))
    bad.write_text('{"qid": "Q1", "name": "A", "aliases": "B"}\n')
    with pytest.raises(InputError, match=r"bad.jsonl:1 field 'aliases'"):
        list(iter_entities(bad))
    bad.write_text('{"qid": "Q1", "name": "A"\n')
    with pytest.raises(InputError, match=r"bad.jsonl:1: not valid JSON"):
        list(iter_entities(bad))


def test_duplicate_qid_fails_the_build_and_leaves_no_store(tmp_path):
    rows = [{"qid": "Q1", "name": "A"}, {"qid": "Q2", "name": "B"}, {"qid": "Q1", "name": "C"}]
    with pytest.raises(InputError, match=r"kg.sqlite.jsonl:3: duplicate qid 'Q1'"):
        build(tmp_path, rows)
    assert not (tmp_path / "kg.sqlite").exists()
    assert not (tmp_path / "kg.sqlite.partial").exists()


def test_open_kg_tells_a_store_from_jsonl(tmp_path):
    store = build(tmp_path)
    assert isinstance(open_kg(str(store)), SqliteKG)
    assert isinstance(open_kg(str(tmp_path / "kg.sqlite.jsonl")), InMemoryKG)
    with pytest.raises(InputError, match="not found"):
        open_kg(str(tmp_path / "missing.sqlite"))
    with pytest.raises(InputError, match="not a KG store"):
        SqliteKG(tmp_path / "kg.sqlite.jsonl")


def test_graph_retrieves_candidates_from_a_store(scripted, scores, mention, tmp_path):
    store = build(tmp_path)
    _, context = scripted("<|ANSWER|>: Ed Rendell", kg=str(store), k=2)
    scores(icr={"Ed": 0.9, "Ruth": 0.9}, iav={"Ed": 0.9, "Ruth": 0.9})
    graph_input: Any = {**mention, "candidates": []}
    out = graph.invoke(graph_input, context=context)
    assert out["result"]["qid"] == "Q2"
    assert {e["name"] for e in out["result"]["top_k"]} == {"Ed Rendell", "Ruth Rendell"}
