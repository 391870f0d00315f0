from __future__ import annotations

import math

import pytest

from i2cr.evals.metrics import (
    cost,
    hit_at,
    nil_scores,
    per_round_accuracy,
    summarize,
    top_k_accuracy,
    wilson,
)
from i2cr.evals.sweep import fallback_top1


def record(gold, ranked, *, nil=False, calls=1, seconds=1.0, attempts=None, rid="m", cached=0):
    return {
        "id": rid,
        "gold": {"name": gold, "qid": None},
        "result": {
            "entity": None if nil else ranked[0],
            "nil": nil,
            "top_k": [{"name": n, "qid": None, "source": "candidate"} for n in ranked],
            "selector_calls": calls,
            "selector_cached": cached,
        },
        "attempts": attempts or [],
        "seconds": seconds,
    }


def attempt(round_, entity, decision, *, try_index=0, icr=None, iav=None, tool=None):
    return {
        "round": round_,
        "try_index": try_index,
        "clue_tool": tool,
        "selected": None if entity is None else 0,
        "entity": entity,
        "icr_score": icr,
        "icr_passed": None if icr is None else icr > 0.5,
        "iav_score": iav,
        "iav_passed": None if iav is None else iav >= 0.3,
        "decision": decision,
    }


def test_top_k_counts_the_gold_among_the_first_k():
    r = record("B", ["A", "B", "C", "D", "E"])
    assert [hit_at(r, k) for k in (1, 3, 5)] == [False, True, True]


def test_names_match_across_underscores_and_case_and_duplicates_tie():
    assert hit_at(record("North_Korea", ["north korea"]), 1)
    # Two candidates share the gold's name: matching is by name, as in the paper, so both count.
    same_name = record("John Smith", ["John Smith", "John Smith", "X"])
    assert hit_at(same_name, 1) and hit_at(same_name, 3)


def test_k_larger_than_the_ranking_uses_what_is_there():
    records = [record("B", ["A", "B"]), record("Z", ["A", "B"])]
    accuracy = top_k_accuracy(records, 5)
    assert (accuracy.hits, accuracy.total) == (1, 2)


def test_nil_answer_takes_rank_one():
    nil_right = record("nil", ["A", "B"], nil=True)
    nil_wrong = record("B", ["A", "B"], nil=True)
    entity_for_nil_gold = record("nil", ["A"])
    assert all(hit_at(nil_right, k) for k in (1, 3, 5))
    assert not hit_at(nil_wrong, 1) and not hit_at(nil_wrong, 2) and hit_at(nil_wrong, 3)
    assert not any(hit_at(entity_for_nil_gold, k) for k in (1, 3, 5))


def test_nil_precision_and_recall():
    records = [
        record("nil", ["A"], nil=True),  # right NIL
        record("B", ["A"], nil=True),  # NIL for a linkable mention
        record("nil", ["A"]),  # missed NIL
        record("nil", ["A"]),  # missed NIL
        record("A", ["A"]),
    ]
    scores = nil_scores(records)
    assert (scores["precision"].hits, scores["precision"].total) == (1, 2)
    assert (scores["recall"].hits, scores["recall"].total) == (1, 3)
    assert "nil" in summarize(records) and "nil" not in summarize(records[4:])


def test_errors_are_misses_and_unlabelled_records_are_left_out():
    failed = {"id": "e", "gold": {"name": "A"}, "error": "InputError: empty mention"}
    unlabelled = {**record("A", ["A"]), "gold": None}
    summary = summarize([record("A", ["A"]), failed, unlabelled])
    assert summary["accuracy"]["top1"]["hits"] == 1
    assert summary["accuracy"]["top1"]["total"] == 2
    assert (summary["errors"], summary["labelled"]) == (1, 2)


def test_wilson_interval_matches_known_values():
    half = wilson(5, 10)
    assert half.rate == 0.5 and half.low == pytest.approx(0.2366, abs=1e-4)
    assert half.high == pytest.approx(0.7634, abs=1e-4)
    none = wilson(0, 10)
    assert none.low == 0.0 and none.high == pytest.approx(0.2775, abs=1e-4)
    assert math.isnan(wilson(0, 0).rate)


def test_cost_times_only_mentions_without_cached_calls():
    records = [
        record("A", ["A"], calls=2, seconds=3.0),
        record("A", ["A"], calls=2, seconds=0.01, cached=1),
    ]
    c = cost(records)
    assert (c["timed"], c["cached_calls"], c["seconds_mean"]) == (1, 1, 3.0)
    assert math.isnan(cost([records[1]])["seconds_median"])


def test_cost_mean_and_median_with_ties():
    records = [record("A", ["A"], calls=c, seconds=s) for c, s in [(1, 1.0), (1, 1.0), (7, 4.0)]]
    c = cost(records)
    assert (c["calls_mean"], c["calls_median"]) == (3.0, 1.0)
    assert (c["seconds_mean"], c["seconds_median"]) == (2.0, 1.0)
    assert c["seconds_mean_low"] <= 2.0 <= c["seconds_mean_high"]


def test_per_round_accuracy_carries_finished_runs_forward():
    corrected = record(
        "B",
        ["B", "A"],
        attempts=[
            attempt(0, "A", "iav_fail", icr=0.9, iav=0.1),
            attempt(1, "B", "iav_pass", icr=0.9, iav=0.8, tool="caption"),
        ],
        rid="1",
    )
    done_early = record(
        "A", ["A"], attempts=[attempt(0, "A", "iav_pass", icr=0.9, iav=0.9)], rid="2"
    )
    rows = per_round_accuracy([corrected, done_early])
    assert [row["accuracy"]["hits"] for row in rows] == [1, 2]
    assert [row["reached"] for row in rows] == [2, 1]
    assert rows[1]["clue_tools"] == {"caption": 1}


def test_fallback_rules_are_scored_from_the_same_records():
    # IAV never passed: text_only keeps round 0 (A), best_score takes round 1's higher IAV (B).
    r = record(
        "B",
        ["A", "B"],
        attempts=[
            attempt(0, "A", "iav_fail", icr=0.9, iav=0.1),
            attempt(1, "B", "iav_fail", icr=0.9, iav=0.2, tool="ocr"),
        ],
    )
    assert fallback_top1([r], "text_only")["hits"] == 0
    assert fallback_top1([r], "best_score")["hits"] == 1


def test_calibration_reports_the_error_of_the_answers_confidence():
    def sure(confidence, right, rid):
        out = record("Ed", ["Ed" if right else "Ruth", "Don"], rid=rid, calls=0)
        out["result"]["confidence"] = confidence
        return out

    # Said 0.9 and right 9 times out of 10; said 0.55 and right half the time.
    records = [sure(0.9, i < 9, f"a{i}") for i in range(10)]
    records += [sure(0.55, i < 5, f"b{i}") for i in range(10)]
    summary = summarize(records)
    assert summary["calibration"]["answers"] == 20
    assert summary["calibration"]["ece"] == pytest.approx(0.025)
    assert [b["answers"] for b in summary["calibration"]["reliability"]] == [10, 10]
    assert summary["selector_asked"] == 0
    assert "calibration" not in summarize([record("Ed", ["Ed"])])
