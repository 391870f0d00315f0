"""Alias priors, the dense index and hybrid candidate generation over an SQLite KG store."""

from __future__ import annotations

import sqlite3

import pytest
from helpers import HYBRID_ENTITIES as ENTITIES
from helpers import TRAINING, write_jsonl

from i2cr import graph
from i2cr.cli import main
from i2cr.context import Context
from i2cr.errors import InputError
from i2cr.kg import build_store, iter_entities
from i2cr.kg.fusion import fuse
from i2cr.kg.hybrid import HybridKG


def build_kg(tmp_path, name, rows):
    """An SQLite KG of `rows` with the training priors, built by `i2cr kg build`."""
    entities = write_jsonl(tmp_path / f"{name}.jsonl", rows)
    training = write_jsonl(tmp_path / "train.jsonl", TRAINING)
    path = tmp_path / f"{name}.sqlite"
    args = ["kg", "build", str(path), "--entities", str(entities), "--priors", str(training)]
    assert main(args) == 0
    return path


@pytest.fixture
def store(tmp_path):
    return build_kg(tmp_path, "kg", ENTITIES)


def priors(store, alias):
    db = sqlite3.connect(store)
    rows = db.execute(
        "SELECT e.qid, a.prior, a.mentions FROM alias_priors a JOIN entities e ON e.id = a.entity "
        "WHERE a.alias = ?",
        (alias,),
    )
    return {qid: (round(prior, 4), mentions) for qid, prior, mentions in rows}


def qids(kg, ids):
    return [e.qid for e, _ in kg._entities(ids)]


def test_priors_split_an_alias_by_popularity_and_training_counts(store):
    # 3 training mentions: 2 x Q23, 1 x Q1223; smoothing 1 shared by popularity + 1.
    weights = {"Q23": 201, "Q61": 301, "Q1223": 100}
    share = {q: w / sum(weights.values()) for q, w in weights.items()}
    expected = {
        "Q23": (round((2 + share["Q23"]) / 4, 4), 2),
        "Q61": (round(share["Q61"] / 4, 4), 0),
        "Q1223": (round((1 + share["Q1223"]) / 4, 4), 1),
    }
    assert priors(store, "washington") == expected
    assert priors(store, "barack obama") == {"Q76": (1.0, 0)}


def test_a_training_mention_becomes_an_alias_and_unknown_qids_are_dropped(store):
    assert priors(store, "the prez") == {"Q76": (1.0, 1)}
    assert priors(store, "nobody") == {}
    kg = HybridKG(store)
    assert qids(kg, kg.alias_ids("The Prez!", 1)) == ["Q76"]
    assert "Q76" not in qids(kg, kg.ranked_ids("fuzzy", "The Prez!", "", 3))


def test_alias_source_ranks_an_ambiguous_alias_by_prior(store):
    kg = HybridKG(store)
    assert qids(kg, kg.alias_ids("Washington", 3)) == ["Q23", "Q1223", "Q61"]


def build_from(tmp_path, rows, name="kg.sqlite"):
    entities = write_jsonl(tmp_path / f"{name}.jsonl", rows)
    path = tmp_path / name
    assert main(["kg", "build", str(path), "--entities", str(entities)]) == 0
    return HybridKG(path)


def test_a_misspelt_famous_name_finds_the_famous_entity_with_popularity(tmp_path):
    kg = build_from(tmp_path, [e for e in ENTITIES if e["qid"] != "Q801"])
    assert qids(kg, kg.alias_ids("Barak Obma", 1)) == ["Q76"]
    assert kg.search("Barak Obma", 1)[0]["qid"] == "Q76"
    # An exact name still wins over popularity.
    assert qids(kg, kg.alias_ids("Barak", 1)) == ["Q800"]


@pytest.mark.parametrize("famous", ["Q41421", "Q3308285"])
def test_popularity_decides_between_entities_of_one_name(tmp_path, famous):
    jordans = [
        {"qid": "Q3308285", "name": "Michael Jordan", "description": "American mycologist"},
        {"qid": "Q41421", "name": "Michael Jordan", "description": "American basketball player"},
    ]
    rows = [{**j, "popularity": 150 if j["qid"] == famous else 4} for j in jordans]
    kg = build_from(tmp_path, rows)
    assert qids(kg, kg.alias_ids("Micheal Jordan", 2))[0] == famous
    assert kg.search("Micheal Jordan", 1)[0]["qid"] == famous


def test_fusion_adds_reciprocal_ranks_and_keeps_first_named_order_on_ties():
    # 3: 1/63 + 1/61 beats 2: 1/62 + 1/62; 1 beats 4 (rank 1 vs 3).
    assert fuse([[1, 2, 3], [3, 2, 4]]) == [3, 2, 1, 4]
    assert fuse([[1, 2], [2, 1]]) == [1, 2]
    assert fuse([[5], [6]]) == [5, 6]
    assert fuse([]) == []


def test_hybrid_search_needs_the_prior_tables(tmp_path):
    entities = write_jsonl(tmp_path / "entities.jsonl", ENTITIES)
    path = tmp_path / "old.sqlite"
    build_store(((str(n), e) for n, e in iter_entities(entities)), path)
    with pytest.raises(InputError, match="no alias priors.*rebuild"):
        HybridKG(path)
    assert main(["kg", "build", str(path), "--entities", str(entities)]) == 0
    assert len(HybridKG(path)) == len(ENTITIES)
    with pytest.raises(InputError, match="unknown candidate sources"):
        HybridKG(path, sources=["bm25"])  # type: ignore[list-item]


def test_kg_search_hybrid_on_the_command_line(store, capsys):
    assert (
        main(
            ["kg", "search", str(store), "the prez", "--set", "k=1", "--set", "kg_retrieval=hybrid"]
        )
        == 0
    )
    assert "Barack Obama (Q76)" in capsys.readouterr().out


def obama_kg(tmp_path):
    return build_kg(tmp_path, "obama", [e for e in ENTITIES if e["qid"] != "Q801"])


def prefer_ehud_barak(monkeypatch):
    def cosine(spec, left, rights, **settings):
        return [0.9 if text.startswith("Ehud Barak") else 0.1 for text in rights]

    monkeypatch.setattr("i2cr.rankers.signals.cosine", cosine)


def test_the_embedder_ranker_keeps_the_kg_search_order_of_retrieved_candidates(
    scripted, scores, tmp_path, monkeypatch
):
    prefer_ehud_barak(monkeypatch)
    scores(icr={"": 0.9}, iav={"": 0.9})
    store = str(obama_kg(tmp_path))
    model, context = scripted("<|ANSWER|>: Barack Obama", kg=store, ranker="embedder")
    out = graph.invoke({"mention": "Barak Obma", "context": ""}, context=context)
    assert "1. Barack Obama" in model.prompts[0]
    assert out["result"]["qid"] == "Q76"
    # Candidates given with the input are ranked by the embedder alone, as before.
    given = [
        {"name": "Barack Obama", "desc": "president", "qid": "Q76"},
        {"name": "Ehud Barak", "desc": "Israeli politician", "qid": "Q125731"},
    ]
    model, context = scripted("<|ANSWER|>: Ehud Barak", ranker="embedder")
    graph.invoke({"mention": "Barak Obma", "candidates": given}, context=context)
    assert "1. Ehud Barak" in model.prompts[0]


def test_the_graph_takes_hybrid_candidates_when_set(scripted, scores, tmp_path):
    scores(icr={"": 0.9}, iav={"": 0.9})
    store = str(obama_kg(tmp_path))
    model, context = scripted("<|ANSWER|>: Barack Obama", kg=store, kg_retrieval="hybrid", k=3)
    out = graph.invoke({"mention": "the Prez", "context": ""}, context=context)
    assert "1. Barack Obama" in model.prompts[0]
    assert out["result"]["qid"] == "Q76"


def test_hybrid_retrieval_over_a_jsonl_kg_is_a_clear_error(scripted, scores, tmp_path):
    entities = write_jsonl(tmp_path / "entities.jsonl", ENTITIES)
    _, context = scripted("<|ANSWER|>: Barack Obama", kg=str(entities), kg_retrieval="hybrid")
    with pytest.raises(InputError, match="kg_retrieval=hybrid needs an SQLite KG store"):
        graph.invoke({"mention": "Obama", "context": ""}, context=context)


@pytest.mark.parametrize("mention", ["Barak Obma", "Barack Obamma", "Barak Obama"])
def test_a_misspelt_famous_name_from_the_kg_is_checked_as_its_entity(scripted, tmp_path, mention):
    """The real embedder: ICR reads the misspelling as the name the KG search matched."""
    store = str(obama_kg(tmp_path))
    answers = ["<|ANSWER|>: Barack Obama", "<|ANSWER|>: Ehud Barak", "<|ANSWER|>: Barak"]
    text_round = {"use_iav": False, "use_vif": False, "alpha": Context().alpha, "k": 3}

    def first_try(name: str, **given: object) -> tuple[dict, dict]:
        _, context = scripted(*answers, kg=store, **text_round)
        said = f"President {name} spoke about the economy of the United States."
        out = graph.invoke({"mention": name, "context": said, **given}, context=context)
        return out["result"], out["attempts"][0]

    result, misspelt = first_try(mention)
    _, spelt_right = first_try("Barack Obama")
    assert result["qid"] == "Q76"
    assert misspelt["icr_score"] == pytest.approx(spelt_right["icr_score"])
    # Given with the input, the same candidate is checked against the mention as written.
    given = [{"name": "Barack Obama", "desc": ENTITIES[0]["description"], "qid": "Q76"}]
    _, as_written = first_try(mention, candidates=given)
    assert as_written["icr_score"] < misspelt["icr_score"]
