"""Every file under ../shared/data loads, with the counts its README states."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from i2cr.datasets import load_dataset

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

pytestmark = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"real benchmark data not present at {DATA}"
)

# Mentions per dataset file, from ../shared/data/README.md (MELBench: one sample per mention).
README_MENTIONS = {
    "wikimel/wikimel_train.json": 2133,
    "wikimel/wikimel_dev.json": 545,
    "wikimel/wikimel_val.json": 1255,
    "wikidiverse/wikidiverse_dev_fulldesc.json": 35,
    "melbench/Wikidata-MEL.json": 25846,
    "melbench/Richpedia-MEL.json": 17805,
}
# The README does not count this file: it holds a subset of the fulldesc mentions.
SUBSETS = {
    "wikidiverse/wikidiverse_dev_summarydesc.json": "wikidiverse/wikidiverse_dev_fulldesc.json"
}
GOLD_SIBLINGS = ("_label.json", "_gold_qid.json")
SPLITS = ("train", "dev", "val")


@pytest.fixture(scope="module")
def loaded():
    return {name: load_dataset(DATA / name) for name in [*README_MENTIONS, *SUBSETS]}


def test_every_data_file_is_a_dataset_or_the_gold_file_of_one():
    files = {str(p.relative_to(DATA)) for p in DATA.rglob("*") if p.is_file()} - {"README.md"}
    gold = {f for f in files if f.endswith(GOLD_SIBLINGS)}
    assert files - gold == set(README_MENTIONS) | set(SUBSETS)
    for name in gold:
        stem = name.removesuffix("_label.json").removesuffix("_gold_qid.json")
        assert any(d.startswith(stem) for d in files - gold), name


def test_mention_counts_match_the_readme(loaded):
    for name, count in README_MENTIONS.items():
        assert len(loaded[name]) == count, name
        assert len({s.id for s in loaded[name]}) == count, name


def test_melbench_sample_counts_match_the_readme():
    assert len(json.loads((DATA / "melbench/Wikidata-MEL.json").read_text())) == 22136
    assert len(json.loads((DATA / "melbench/Richpedia-MEL.json").read_text())) == 17805


def test_gold_answers_and_candidates_are_attached(loaded):
    for split in SPLITS:
        samples = loaded[f"wikimel/wikimel_{split}.json"]
        assert all(s.gold_name and len(s.candidates) == 10 for s in samples)
        # The QIDs are joined from MELBench, which misses a handful of val's mentions.
        assert sum(bool(s.gold_qid) for s in samples) >= 0.99 * len(samples)
    wikidiverse = loaded["wikidiverse/wikidiverse_dev_fulldesc.json"]
    assert sum(s.is_nil for s in wikidiverse) == 8
    assert all(len(s.candidates) == 10 and s.clues for s in wikidiverse)
    for name in ("melbench/Wikidata-MEL.json", "melbench/Richpedia-MEL.json"):
        assert all(s.gold_qid and not s.candidates for s in loaded[name])


def test_wikimel_splits_share_no_mention(loaded):
    ids = [{s.id for s in loaded[f"wikimel/wikimel_{split}.json"]} for split in SPLITS]
    for i, left in enumerate(ids):
        for right in ids[i + 1 :]:
            assert not left & right


def test_summarised_wikidiverse_is_a_subset_with_shorter_descriptions(loaded):
    for subset, full in SUBSETS.items():
        by_id = {s.id: s for s in loaded[full]}
        assert {s.id for s in loaded[subset]} <= set(by_id)
        short = sum(len(c["desc"]) for s in loaded[subset] for c in s.candidates)
        long = sum(len(c["desc"]) for s in loaded[subset] for c in by_id[s.id].candidates)
        assert short < long
