"""The dense (ANN) index beside a KG store: built with the shipped MiniLM, resumed, queried."""

from __future__ import annotations

import json

import pytest

from i2cr.cli import main
from i2cr.errors import InputError
from i2cr.kg import dense, open_hybrid
from i2cr.kg.dense import DenseFiles, DenseIndex, build_dense_index
from i2cr.kg.hybrid import HybridKG

pytest.importorskip("usearch")

ENTITIES = [
    {"qid": "Q76", "name": "Barack Obama", "description": "44th president of the United States"},
    {"qid": "Q42", "name": "Douglas Adams", "description": "English science fiction writer"},
    {"qid": "Q90", "name": "Paris", "description": "capital and largest city of France"},
    {"qid": "Q1", "name": "Universe", "description": "everything in space and time"},
    {"qid": "Q2", "name": "Earth", "description": "third planet from the Sun"},
    {"qid": "Q5", "name": "Human", "description": "species of primate"},
    {"qid": "Q7186", "name": "Marie Curie", "description": "physicist and chemist, Nobel Prize"},
    {"qid": "Q1339", "name": "Johann Sebastian Bach", "description": "German baroque composer"},
]


@pytest.fixture
def store(tmp_path):
    entities = tmp_path / "entities.jsonl"
    entities.write_text("".join(json.dumps(e) + "\n" for e in ENTITIES))
    path = tmp_path / "kg.sqlite"
    assert main(["kg", "build", str(path), "--entities", str(entities)]) == 0
    return path


def qids(kg, ids):
    return [e.qid for e, _ in kg._entities(ids)]


def test_dense_neighbours_find_an_entity_by_its_description(store, capsys):
    assert main(["kg", "embed", str(store), "--threads", "1"]) == 0
    assert "embedded 8 of 8 entities" in capsys.readouterr().out
    index = DenseIndex(store, "minilm")
    assert len(index) == len(ENTITIES)
    kg = HybridKG(store, index)
    found = qids(kg, index.neighbours("the composer of the Brandenburg concertos", 3))
    assert found[0] == "Q1339"
    # A mention no name matches is found through its context.
    assert (
        kg.search("the Prez", 1, context="the president of the United States spoke")[0]["qid"]
        == "Q76"
    )
    assert "Q76" not in {c.get("qid") for c in HybridKG(store).search("the Prez", 1)}


def test_a_killed_embedding_run_continues_from_the_last_chunk(store, monkeypatch):
    monkeypatch.setattr(dense, "EMBED_CHUNK", 3)
    calls = []

    def die_after_two_chunks(done, total):
        calls.append(done)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_dense_index(store, "minilm", progress=die_after_two_chunks)
    files = DenseFiles.beside(store)
    assert not files.index.exists()
    summary = build_dense_index(store, "minilm", threads=1)
    assert (summary.resumed_from, summary.embedded, summary.total) == (6, 2, 8)
    assert len(DenseIndex(store, "minilm")) == 8


def test_an_index_of_another_embedder_or_none_is_an_error(store, tmp_path):
    with pytest.raises(InputError, match="no dense index.*i2cr kg embed"):
        DenseIndex(store, "minilm")
    build_dense_index(store, "minilm", limit=4, threads=1)
    assert len(DenseIndex(store, "minilm")) == 4
    with pytest.raises(InputError, match="built with embedder 'minilm'"):
        DenseIndex(store, "sentence-transformers/all-mpnet-base-v2")
    assert open_hybrid(str(store), "minilm").dense is not None


def test_embedding_again_with_nothing_new_does_no_work(store):
    build_dense_index(store, "minilm", threads=1)
    index_file = DenseFiles.beside(store).index
    before = index_file.stat().st_mtime_ns
    summary = build_dense_index(store, "minilm", threads=1)
    assert (summary.embedded, summary.resumed_from) == (0, 8)
    assert index_file.stat().st_mtime_ns == before
