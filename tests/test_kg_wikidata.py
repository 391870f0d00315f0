"""`i2cr kg build --wikidata`: the dump format, languages, images, popularity, bad lines, resume."""

from __future__ import annotations

import bz2
import gzip
import json
import sqlite3

import pytest

from i2cr.cli import main
from i2cr.errors import InputError
from i2cr.kg import SqliteKG
from i2cr.kg import wikidata as wd


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


def test_empty_maps_written_as_lists_as_the_dumps_do_are_read_as_empty():
    bare = {
        "type": "item",
        "id": "Q7",
        "labels": {"en": label("en", "Seven")},
        "aliases": [],
        "descriptions": [],
        "claims": [],
        "sitelinks": [],
    }
    seven = wd.item_entity(bare, ["en"])
    assert seven is not None
    assert (seven.aliases, seven.description, seven.image, seven.popularity) == ((), "", None, 0)
    assert wd.item_entity({**bare, "labels": []}, ["en"]) is None


def test_an_item_keeps_label_aliases_description_image_and_sitelink_count():
    douglas = wd.item_entity(ITEMS[0], ["en"])
    assert douglas is not None
    assert (douglas.qid, douglas.name) == ("Q42", "Douglas Adams")
    assert douglas.aliases == ("Douglas Noël Adams", "Douglas Noel Adams", "DNA")
    assert douglas.description.startswith("English writer")
    assert (douglas.image, douglas.popularity) == ("Douglas adams portrait cropped.jpg", 3)
    obama = wd.item_entity(ITEMS[1], ["en"])
    assert obama is not None and obama.image == "Obama.jpg"
    assert wd.item_entity(ITEMS[3], ["en"]) is None
    assert wd.item_entity(ITEMS[4], ["en"]) is None
    paris = wd.item_entity(ITEMS[3], ["en", "fr"])
    assert paris is not None and (paris.name, paris.description) == (
        "Paris",
        "capitale de la France",
    )


@pytest.mark.parametrize("name", ["dump.json", "dump.json.gz", "dump.json.bz2"])
def test_build_from_a_dump_finds_items_by_label_and_alias(tmp_path, capsys, name):
    dump = write_dump(tmp_path / name, dump_text())
    store = tmp_path / "kg.sqlite"
    assert main(["kg", "build", str(store), "--wikidata", str(dump)]) == 0
    kg = SqliteKG(store)
    assert len(kg) == 3
    assert kg.search("Douglas Noel Adams", 1)[0]["qid"] == "Q42"
    entity, _ = kg.search_entities("Obama", 1)[0]
    assert (entity.qid, entity.image) == ("Q76", "Obama.jpg")
    db = sqlite3.connect(store)
    popularity = dict(
        db.execute("SELECT e.qid, p.count FROM popularity p JOIN entities e ON e.id = p.entity")
    )
    assert popularity == {"Q42": 3, "Q76": 300, "Q125731": 90}
    assert not (tmp_path / "kg.sqlite.import").exists()
    assert "3 items with a label in en staged" in capsys.readouterr().err


def test_more_languages_keep_more_items(tmp_path):
    dump = write_dump(tmp_path / "dump.json", dump_text())
    store = tmp_path / "kg.sqlite"
    assert main(["kg", "build", str(store), "--wikidata", str(dump), "--languages", "en,fr"]) == 0
    assert SqliteKG(store).search("Paris", 1)[0]["qid"] == "Q90"


def test_a_corrupt_or_truncated_line_is_reported_with_its_number_and_skipped(tmp_path, capsys):
    lines = dump_text().splitlines()
    lines[2] = lines[2][:40]  # Q76 cut mid-object
    dump = write_dump(tmp_path / "dump.json", "\n".join(lines[:-1]))  # and no closing bracket
    store = tmp_path / "kg.sqlite"
    assert main(["kg", "build", str(store), "--wikidata", str(dump)]) == 0
    err = capsys.readouterr().err
    assert f"{dump}:3: not a valid entity line, skipped" in err
    assert {c["qid"] for c in SqliteKG(store).search("Adams Barak", 5)} == {"Q42", "Q125731"}


def test_a_truncated_compressed_dump_keeps_what_was_read(tmp_path, capsys):
    dump = tmp_path / "dump.json.gz"
    dump.write_bytes(gzip.compress(dump_text().encode())[:-30])
    store = tmp_path / "kg.sqlite"
    assert main(["kg", "build", str(store), "--wikidata", str(dump)]) == 0
    assert "truncated or corrupt at line" in capsys.readouterr().err
    assert len(SqliteKG(store)) >= 1


def test_a_corrupt_compressed_dump_keeps_what_was_read(tmp_path, capsys):
    many = [
        item(f"Q{1000 + i}", {"en": f"Entity {i}"}, {"en": f"thing number {i}" * 20})
        for i in range(300)
    ]
    data = bytearray(gzip.compress(dump_text(many).encode(), compresslevel=1))
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    dump = tmp_path / "dump.json.gz"
    dump.write_bytes(bytes(data))
    store = tmp_path / "kg.sqlite"
    assert main(["kg", "build", str(store), "--wikidata", str(dump)]) == 0
    assert "truncated or corrupt at line" in capsys.readouterr().err
    assert 0 < len(SqliteKG(store)) < 300


@pytest.mark.parametrize("text", ["", "[\n]\n"])
def test_an_empty_dump_is_an_error(tmp_path, capsys, text):
    dump = write_dump(tmp_path / "dump.json", text)
    store = tmp_path / "kg.sqlite"
    assert main(["kg", "build", str(store), "--wikidata", str(dump)]) == 2
    assert "empty dump" in capsys.readouterr().err
    assert not store.exists() and not (tmp_path / "kg.sqlite.import").exists()


def test_a_dump_without_items_in_the_languages_is_an_error(tmp_path, capsys):
    dump = write_dump(tmp_path / "dump.json", dump_text(ITEMS[3:]))
    assert main(["kg", "build", str(tmp_path / "kg.sqlite"), "--wikidata", str(dump)]) == 2
    assert "no item has a label in the languages ['en']" in capsys.readouterr().err


class Killed(BaseException):
    """Stands in for the import being killed."""


@pytest.mark.parametrize("name", ["dump.json", "dump.json.gz"])
def test_a_killed_import_continues_where_it_stopped(tmp_path, monkeypatch, capsys, name):
    many = [
        item(f"Q{1000 + i}", {"en": f"Entity {i}"}, links=("enwiki",) * (i % 2)) for i in range(50)
    ]
    dump = write_dump(tmp_path / name, dump_text(many))
    store = tmp_path / "kg.sqlite"
    monkeypatch.setattr(wd, "COMMIT_EVERY", 10)
    parsed: list[int] = []
    real_parse = wd.parse_line

    def parse_and_die(line):
        parsed.append(len(parsed))
        if len(parsed) == 25:
            raise Killed
        return real_parse(line)

    monkeypatch.setattr(wd, "parse_line", parse_and_die)
    with pytest.raises(Killed):
        main(["kg", "build", str(store), "--wikidata", str(dump)])
    staging = sqlite3.connect(tmp_path / "kg.sqlite.import")
    assert staging.execute("SELECT count(*) FROM items").fetchone()[0] == 20
    staging.close()
    lines_seen: list[bytes] = []

    def parse_and_record(line):
        lines_seen.append(line)
        return real_parse(line)

    monkeypatch.setattr(wd, "parse_line", parse_and_record)
    assert main(["kg", "build", str(store), "--wikidata", str(dump)]) == 0
    assert "resuming the import" in capsys.readouterr().err
    # Line 1 is '[', lines 2..21 the 20 items committed before the kill: never read again.
    assert json.loads(lines_seen[0].rstrip(b",\n"))["id"] == "Q1020"
    kg = SqliteKG(store)
    assert len(kg) == 50
    assert kg.search("Entity 7", 1)[0]["qid"] == "Q1007"


def test_staging_from_another_dump_starts_over(tmp_path):
    first = write_dump(tmp_path / "a.json", dump_text())
    staging = wd.StagingFile(tmp_path / "s.import", wd.fingerprint(first, ["en"]))
    wd.import_dump(first, staging, ["en"], warn=print)
    staging.close()
    second = write_dump(tmp_path / "b.json", dump_text(ITEMS[2:3]))
    again = wd.StagingFile(tmp_path / "s.import", wd.fingerprint(second, ["en"]))
    assert again.reset and again.count() == 0
    assert wd.import_dump(second, again, ["en"], warn=print).items == 1


def test_missing_dump_is_an_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        wd.import_dump(tmp_path / "none.json", None, ["en"], warn=print)  # type: ignore[arg-type]


def test_an_index_spilled_to_disk_in_runs_equals_one_built_in_memory(tmp_path, monkeypatch):
    rows = [item(f"Q{i}", {"en": f"Person {i} of {i % 7} family"}) for i in range(300)]
    dump = write_dump(tmp_path / "dump.json", dump_text(rows))
    in_memory, spilled = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    assert main(["kg", "build", str(in_memory), "--wikidata", str(dump)]) == 0
    monkeypatch.setattr("i2cr.kg.trigram_index.SPILL_PAIRS", 100)
    assert main(["kg", "build", str(spilled), "--wikidata", str(dump)]) == 0

    def grams(path):
        return dict(sqlite3.connect(path).execute("SELECT gram, postings FROM grams"))

    assert grams(spilled) == grams(in_memory)
    assert SqliteKG(spilled).search("Person 17 of 3", 1)[0]["qid"] == "Q17"
