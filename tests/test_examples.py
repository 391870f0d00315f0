"""The README's first commands run on files shipped in `examples/`."""

from __future__ import annotations

import json
from pathlib import Path

from i2cr import graph
from i2cr.batch import read_jsonl_rows
from i2cr.datasets import load_release

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_example_mentions_link_with_the_shipped_candidates(scripted, scores):
    rows = list(read_jsonl_rows(EXAMPLES / "mentions.jsonl"))
    assert [row_id for row_id, _ in rows] == ["rendell-governor", "rendell-novel", "rendell-jazz"]
    candidates = json.loads((EXAMPLES / "candidates.json").read_text())
    assert all(row["candidates"] == candidates for _, row in rows)
    _, context = scripted("<|ANSWER|>: Ed Rendell")
    scores(icr={"Ruth": 0.9, "Ed": 0.9, "Don": 0.9}, iav={"Ruth": 0.9, "Ed": 0.9, "Don": 0.9})
    out = graph.invoke(rows[0][1], context=context)
    assert out["result"]["qid"] == "Q1282411"


def test_example_dataset_loads_in_the_release_format_with_its_gold():
    samples = load_release(EXAMPLES / "dataset.json")
    assert [(s.id, s.gold_qid) for s in samples] == [
        ("rendell-1", "Q1282411"),
        ("rendell-2", "Q272101"),
        ("rendell-3", "Q5293988"),
    ]
    assert all(s.candidates and s.clues for s in samples)


def test_example_knowledge_graph_gives_candidates_for_a_mention(scripted, scores):
    _, context = scripted("<|ANSWER|>: Ed Rendell", kg=str(EXAMPLES / "entities.jsonl"))
    scores(icr={"Ed": 0.9}, iav={"Ed": 0.9})
    out = graph.invoke({"mention": "Ed Rendell", "context": "Governor"}, context=context)
    assert out["result"]["qid"] == "Q1282411"
    assert {c["name"] for c in out["result"]["top_k"]} >= {"Ed Rendell", "Ruth Rendell"}
