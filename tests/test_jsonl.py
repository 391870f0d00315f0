"""The one JSONL reader: plain and gzip files, and bad lines as errors that travel."""

from __future__ import annotations

import gzip
import pickle

import pytest

from i2cr.jsonl import MalformedLine, json_lines


def test_plain_and_packed_files_read_the_same(tmp_path):
    text = '{"id": "a"}\n{"id": "b"}\n'
    (tmp_path / "rows.jsonl").write_text(text)
    with gzip.open(tmp_path / "rows.jsonl.gz", "wt") as packed:
        packed.write(text)
    plain = list(json_lines(tmp_path / "rows.jsonl"))
    assert plain == list(json_lines(tmp_path / "rows.jsonl.gz"))
    assert len(plain) == 2


def test_a_bad_line_error_survives_pickling_to_a_worker():
    error = pickle.loads(pickle.dumps(MalformedLine("rows.jsonl", 9, "not valid JSON")))
    assert str(error) == "rows.jsonl:9: not valid JSON"
    assert (error.number, error.reason) == (9, "not valid JSON")
    with pytest.raises(MalformedLine):
        raise error
