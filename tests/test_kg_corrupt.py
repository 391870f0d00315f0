"""A corrupt or truncated SQLite KG store, or a KG file of no kind: an error naming the file."""

from __future__ import annotations

import json
import random
import sqlite3

import pytest

from i2cr import graph
from i2cr.cli import main
from i2cr.errors import InputError
from i2cr.kg import SqliteKG, open_kg
from i2cr.kg.store import CorruptStoreError

ENTITIES = [
    {"qid": "Q1", "name": "Ed Rendell", "aliases": [], "description": "American politician"},
    {"qid": "Q2", "name": "Ruth Rendell", "aliases": [], "description": "English author"},
    *(
        {"qid": f"Q{i}", "name": f"Entity number {i}", "aliases": [], "description": f"d {i}"}
        for i in range(3, 3000)
    ),
]


@pytest.fixture
def entities(tmp_path):
    path = tmp_path / "entities.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in ENTITIES))
    return path


@pytest.fixture
def store(tmp_path, entities):
    path = tmp_path / "kg.sqlite"
    assert main(["kg", "build", str(path), "--entities", str(entities)]) == 0
    return path


def truncate(path):
    path.write_bytes(path.read_bytes()[:20_000])


def scramble_pages(path):
    data = bytearray(path.read_bytes())
    data[8192:-4096] = b"\xff" * (len(data) - 8192 - 4096)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [truncate, scramble_pages])
def test_kg_search_on_a_damaged_store_names_the_file(store, damage, capsys):
    damage(store)
    assert main(["kg", "search", str(store), "Rendell"]) != 0
    error = capsys.readouterr().err
    assert f"the KG store {store} is corrupt or truncated" in error
    assert f"i2cr kg build {store}" in error
    assert "Traceback" not in error


def test_link_with_a_damaged_store_is_a_clear_error(store, scripted):
    truncate(store)
    _, context = scripted("<|ANSWER|>: Ed Rendell", kg=str(store), use_vif=False)
    with pytest.raises(CorruptStoreError, match=f"the KG store {store} is corrupt"):
        graph.invoke({"mention": "Ed Rendell"}, context=context)


def test_kg_build_over_a_damaged_store_rebuilds_it_in_place(store, entities, capsys):
    truncate(store)
    assert main(["kg", "build", str(store), "--entities", str(entities)]) == 0
    assert f"the store being replaced, {store}, is unreadable" in capsys.readouterr().err
    names = [c["name"] for c in SqliteKG(store).search("Rendell", 2)]
    assert set(names) == {"Ed Rendell", "Ruth Rendell"}


def test_kg_search_refuses_a_negative_k(store, capsys):
    assert main(["kg", "search", str(store), "Rendell", "--set", "k=-1"]) != 0
    assert "k must be at least 1, got -1" in capsys.readouterr().err


def test_an_sqlite_file_that_is_no_store_says_so(tmp_path):
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE x (a)")
    with pytest.raises(ValueError, match=f"not a KG store .*: {other}"):
        open_kg(str(other))


def random_bytes(path):
    path.write_bytes(b"\xec" + random.Random(0).randbytes(4095))


def no_bytes(path):
    path.write_bytes(b"")


KG_FILE_PROBLEMS = [
    (random_bytes, "is neither an SQLite KG store nor an entity JSONL file: {path}: not UTF-8"),
    (no_bytes, "the KG file {path} is empty"),
]


@pytest.mark.parametrize(("damage", "problem"), KG_FILE_PROBLEMS)
def test_a_kg_file_of_no_kind_is_an_error_naming_it(tmp_path, damage, problem):
    path = tmp_path / "kg.bin"
    damage(path)
    with pytest.raises(InputError) as raised:
        open_kg(str(path))
    assert problem.format(path=path) in str(raised.value)


@pytest.mark.parametrize(("damage", "problem"), KG_FILE_PROBLEMS)
@pytest.mark.parametrize("command", [["kg", "search", "{path}", "Rendell"], ["link", "Rendell"]])
def test_the_cli_refuses_a_kg_file_of_no_kind_in_one_line(
    tmp_path, capsys, damage, problem, command
):
    path = tmp_path / "kg.bin"
    damage(path)
    argv = [word.format(path=path) for word in command] + ["--set", f"kg={path}"]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and problem.format(path=path) in err


def test_a_bad_line_after_good_ones_keeps_its_own_error(tmp_path):
    path = tmp_path / "kg.jsonl"
    path.write_text(json.dumps(ENTITIES[0]) + "\n{not json\n")
    with pytest.raises(InputError, match=f"^{path}:2: not valid JSON"):
        open_kg(str(path))
