"""Dataset loaders: every published format into `Sample`, and clear errors for bad rows."""

from __future__ import annotations

import json
from typing import Any

import pytest

from i2cr.datasets import Sample, load_dataset, load_jsonl, load_release, write_jsonl
from i2cr.errors import InputError

CANDIDATES: list[Any] = [
    {"qid": "Q165824", "name": "Johanna Kinkel", "desc": "German composer."},
    {"qid": "Q1", "name": "Gottfried Kinkel", "desc": "German poet."},
]
AZURE = {"Caption": "a woman", "Dense Captions": "a; b", "Tags": "person", "OCR text": ""}


def write(path, data):
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def release_row(**overrides):
    row = {
        "mention": "Johanna Kinkel",
        "mention_context": "Johanna Kinkel in 1840",
        "mention_imgpath": "20265.jpg",
        "Candentity": CANDIDATES,
        "mention_imgdesc_Azure": AZURE,
    }
    return {**row, **overrides}


def test_release_format_with_gold_labels_from_sibling_files(tmp_path):
    data = write(tmp_path / "wikimel_dev.json", {"20265": release_row()})
    write(tmp_path / "wikimel_dev_label.json", {"20265": "Johanna Kinkel"})
    write(tmp_path / "wikimel_dev_gold_qid.json", {"20265": {"name": "x", "qid": "Q165824"}})
    [sample] = load_dataset(data, image_dir="/images")
    assert sample.mention == "Johanna Kinkel"
    assert sample.candidates[0] == CANDIDATES[0]
    assert sample.clues == {
        "ocr": "",
        "caption": "a woman",
        "dense_caption": "a; b",
        "tags": "person",
    }
    assert (sample.gold_name, sample.gold_qid, sample.image) == (
        "Johanna Kinkel",
        "Q165824",
        "/images/20265.jpg",
    )
    assert load_release(data)[0].image is None


def test_wikidiverse_python_literal_strings_are_parsed_safely(tmp_path):
    literal = str([{"name": "Ais_people", "desc": "It's a people."}])
    row = release_row(Candentity=literal, mention_imgdesc_Azure=str(AZURE))
    data = write(tmp_path / "wikidiverse_dev_fulldesc.json", {"7": row})
    write(tmp_path / "wikidiverse_dev_label.json", {"7": "nil"})
    [sample] = load_dataset(data)
    assert sample.candidates == [{"name": "Ais_people", "desc": "It's a people."}]
    assert sample.clues["caption"] == "a woman"
    assert sample.is_nil


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (release_row(Candentity="__import__('os')"), r"sample 5 field 'Candentity': not a valid"),
        (release_row(Candentity="[{'desc': 'x'}]"), r"sample 5 field 'Candentity'\[0\]: expected"),
        (release_row(Candentity={"name": "x"}), r"sample 5 field 'Candentity': expected a list"),
        ({"Candentity": []}, r"sample 5: missing field 'mention'"),
        (["not", "an", "object"], r"sample 5: expected an object"),
    ],
)
def test_malformed_release_rows_name_file_sample_and_field(tmp_path, row, message):
    data = write(tmp_path / "bad.json", {"4": release_row(), "5": row})
    with pytest.raises(InputError, match=r"bad\.json " + message):
        load_dataset(data)


def test_melbench_gives_one_sample_per_mention_with_i2cr_ids(tmp_path):
    wikidata = write(
        tmp_path / "Wikidata-MEL.json",
        {
            "46351": {
                "id": "46351",
                "sentence": "Powers with Noel Harrison",
                "mentions": ["Noel Harrison", "Powers"],
                "entities": ["Noel Harrison", "Stefanie Powers"],
                "answer": ["Q532915", "Q256474"],
            },
            "21717": {
                "id": "21717",
                "sentence": "Francis Condon",
                "mentions": ["Francis Condon"],
                "entities": ["Francis Condon"],
                "answer": ["Q1441444"],
            },
        },
    )
    samples = load_dataset(wikidata, image_dir="/img")
    assert [(s.id, s.mention, s.gold_name, s.gold_qid) for s in samples] == [
        ("46351-0", "Noel Harrison", "Noel Harrison", "Q532915"),
        ("46351-1", "Powers", "Stefanie Powers", "Q256474"),
        ("21717", "Francis Condon", "Francis Condon", "Q1441444"),
    ]
    assert samples[1].context == "Powers with Noel Harrison"
    assert samples[1].image == "/img/46351.jpg"
    assert samples[0].candidates == []
    richpedia = write(
        tmp_path / "Richpedia-MEL.json",
        {
            "Q23": {
                "id": "Q23",
                "sentence": "Washington resigned.",
                "mentions": "Washington",
                "entities": "George Washington",
                "answer": "Q23",
            }
        },
    )
    [sample] = load_dataset(richpedia)
    assert (sample.id, sample.mention, sample.gold_qid) == ("Q23", "Washington", "Q23")


def test_melbench_length_mismatch_names_sample_and_fields(tmp_path):
    row: dict[str, Any] = {
        "sentence": "s",
        "mentions": ["a", "b"],
        "entities": ["A"],
        "answer": ["Q1"],
    }
    data = write(tmp_path / "Wikidata-MEL.json", {"9": row})
    with pytest.raises(InputError, match=r"Wikidata-MEL.json sample 9 fields .* lengths differ"):
        load_dataset(data)
    row = {"sentence": "s", "mentions": [1], "entities": ["A"], "answer": ["Q1"]}
    write(data, {"9": row})
    with pytest.raises(InputError, match=r"sample 9 field 'mentions'"):
        load_dataset(data)


def test_wikidiverse_own_release(tmp_path):
    rows: list[Any] = [
        [
            "The Lions versus the Packers (2007).",
            "https://upload.wikimedia.org/wikipedia/commons/0/06/Detroit%20Lions.jpg",
            "sports",
            [
                ["Lions", "Organization", 4, 9, "https://en.wikipedia.org/wiki/Detroit_Lions"],
                [
                    "Packers",
                    "Organization",
                    21,
                    28,
                    "https://en.wikipedia.org/wiki/Green_Bay_Packers",
                ],
            ],
        ]
    ]
    samples = load_dataset(write(tmp_path / "train.json", rows), image_dir="/img")
    assert [(s.id, s.mention, s.gold_name) for s in samples] == [
        ("0-0", "Lions", "Detroit_Lions"),
        ("0-1", "Packers", "Green_Bay_Packers"),
    ]
    assert samples[0].context.startswith("The Lions")
    assert samples[0].image == "/img/Detroit Lions.jpg"
    rows[0][3][1] = ["Packers", "Organization", 21]
    with pytest.raises(InputError, match=r"train.json row 0 field 'mentions'\[1\]"):
        load_dataset(write(tmp_path / "train.json", rows))


def test_plain_jsonl_round_trip_and_graph_input(tmp_path):
    sample = Sample(
        id="a1",
        mention="Kinkel",
        context="Kinkel in 1840",
        candidates=list(CANDIDATES),
        clues={"caption": "a woman"},
        gold_name="Johanna Kinkel",
        gold_qid="Q165824",
    )
    path = tmp_path / "mine.jsonl"
    write_jsonl([sample], path)
    assert load_dataset(path) == [sample]
    graph_input = load_jsonl(path)[0].graph_input()
    assert graph_input["sample_id"] == "a1" and "gold_qid" not in graph_input


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"mentoin": "x"}', r"line 2 field 'mentoin': unknown"),
        ('{"mention": ""}', r"line 2 field 'mention': missing or empty"),
        ('{"mention": "x", "candidates": [{"desc": "d"}]}', r"line 2 field 'candidates'\[0\]"),
        ('{"mention": "x", "clues": ["ocr"]}', r"line 2 field 'clues'"),
        ('{"mention": "x", "gold_qid": 5}', r"line 2 field 'gold_qid'"),
        ('{"mention": "x"', r"line 2: not valid JSON"),
    ],
)
def test_malformed_jsonl_rows_name_file_line_and_field(tmp_path, line, message):
    path = tmp_path / "mine.jsonl"
    path.write_text('{"mention": "fine"}\n' + line + "\n")
    with pytest.raises(InputError, match=r"mine\.jsonl " + message):
        load_dataset(path)


def test_unknown_shapes_and_missing_files_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="not a known dataset format"):
        load_dataset(write(tmp_path / "x.json", {"a": {"text": "?"}}))
    with pytest.raises(InputError, match="not valid JSON"):
        (tmp_path / "broken.json").write_text("{")
        load_dataset(tmp_path / "broken.json")
    with pytest.raises(InputError, match="not found"):
        load_dataset(tmp_path / "missing.json")
