"""Every edge of the I2CR graph, with a scripted selector and fixed check scores."""

from __future__ import annotations

import pytest
from helpers import assert_fields_agree

from i2cr import graph
from i2cr.errors import InputError
from i2cr.tools.choice import NO_IMAGE

ED = "<|ANSWER|>: 2. Ed Rendell"
RUTH = "<|ANSWER|>: Ruth Rendell"
DON = "<|ANSWER|>: Don Rendell"
HIGH = {"Ruth": 0.9, "Ed": 0.9, "Don": 0.9}


def run(mention, context):
    out = graph.invoke(mention, context=context)
    assert_fields_agree(out["attempts"])
    return out


def decisions(out):
    return [(a["round"], a["try_index"], a["entity"], a["decision"]) for a in out["attempts"]]


def test_text_answer_passing_both_checks_makes_one_selector_call(scripted, scores, mention):
    model, context = scripted(ED)
    scores(icr=HIGH, iav=HIGH)
    out = run(mention, context)
    assert out["result"]["entity"] == "Ed Rendell"
    assert out["result"]["qid"] == "Q2"
    assert out["result"]["selector_calls"] == 1
    assert decisions(out) == [(0, 0, "Ed Rendell", "iav_pass")]
    assert out["result"]["top_k"][0]["name"] == "Ed Rendell"
    assert len(model.prompts) == 1
    assert "mention image information" not in model.prompts[0]


def test_icr_failure_reselects_with_entity_excluded(scripted, scores, mention):
    model, context = scripted(RUTH, ED)
    scores(icr={"Ruth": 0.1, "Ed": 0.8, "Don": 0.1}, iav=HIGH)
    out = run(mention, context)
    assert decisions(out) == [
        (0, 0, "Ruth Rendell", "icr_fail"),
        (0, 1, "Ed Rendell", "iav_pass"),
    ]
    assert "Note that Ruth Rendell in the candidates has been excluded." in model.prompts[1]
    assert "excluded" not in model.prompts[0]
    assert out["result"]["entity"] == "Ed Rendell"


def test_reference_rule_lets_a_repeated_entity_stand_and_fail_again(scripted, scores, mention):
    model, context = scripted(RUTH, max_reselect=2, use_vif=False, unmatched_answer="reference")
    scores(icr={"Ruth": 0.1, "Ed": 0.9, "Don": 0.9}, iav=HIGH)
    out = run(mention, context)
    assert [(a["entity"], a["match"], a["resolved_by"]) for a in out["attempts"]] == [
        ("Ruth Rendell", "exact", None),
        ("Ruth Rendell", "repeated", "reference"),
        ("Ruth Rendell", "repeated", "reference"),
    ]
    assert [a["icr_passed"] for a in out["attempts"]] == [False, False, False]
    assert model.prompts[1].count("Note that Ruth Rendell") == 1
    assert model.prompts[2] == model.prompts[1]
    assert out["result"]["entity"] == "Ruth Rendell"


@pytest.mark.parametrize(("rule", "picked"), [("ranker", "Don Rendell"), ("fuzzy", "Ed Rendell")])
def test_repeated_excluded_entity_follows_the_named_rule(scripted, scores, mention, rule, picked):
    candidates = [mention["candidates"][i] for i in (0, 2, 1)]  # Ruth, Don, Ed
    _, context = scripted(RUTH, "<|ANSWER|>: Ruth Rendel", unmatched_answer=rule)
    scores(icr={"Ruth": 0.1, "Ed": 0.9, "Don": 0.9}, iav=HIGH)
    out = run({**mention, "candidates": candidates}, context)
    second = out["attempts"][1]
    assert (second["entity"], second["match"], second["resolved_by"]) == (
        picked,
        "repeated",
        rule,
    )
    assert out["result"]["entity"] == picked


def test_reselect_limit_keeps_highest_icr_try(scripted, scores, mention):
    _, context = scripted(RUTH, ED, DON, max_reselect=2, use_vif=False)
    scores(icr={"Ruth": 0.2, "Ed": 0.4, "Don": 0.3}, iav=HIGH)
    out = run(mention, context)
    assert decisions(out) == [
        (0, 0, "Ruth Rendell", "icr_fail"),
        (0, 1, "Ed Rendell", "iav_pass"),
        (0, 2, "Don Rendell", "icr_fail"),
    ]
    assert out["attempts"][1]["icr_passed"] is False
    assert out["result"]["entity"] == "Ed Rendell"
    assert out["result"]["decided_by"] == "round 0: iav_pass"
    assert out["result"]["selector_calls"] == 3


def test_reselection_stops_when_every_candidate_is_excluded(scripted, scores, mention):
    _, context = scripted(RUTH, ED, DON, "<|ANSWER|>: Ruth Rendell", max_reselect=5, use_vif=False)
    scores(icr={"Ruth": 0.1, "Ed": 0.2, "Don": 0.15}, iav=HIGH)
    out = run(mention, context)
    assert out["result"]["selector_calls"] == 3
    assert out["result"]["entity"] == "Ed Rendell"


def test_iav_failure_runs_vif_rounds_in_configured_order(scripted, scores, mention):
    model, context = scripted(RUTH, RUTH, ED, clue_order="tags,caption")
    scores(icr=HIGH, iav={"Ruth": 0.1, "Ed": 0.9, "Don": 0.1})
    out = run(mention, context)
    assert decisions(out) == [
        (0, 0, "Ruth Rendell", "iav_fail"),
        (1, 0, "Ruth Rendell", "iav_fail"),
        (2, 0, "Ed Rendell", "iav_pass"),
    ]
    assert [s["tool"] for s in out["clue_steps"]] == ["tags", "caption"]
    assert [a["clue_tool"] for a in out["attempts"]] == [None, "tags", "caption"]
    assert "person; suit; flag" in model.prompts[1]
    assert "a man at a podium" in model.prompts[2]
    assert out["result"]["entity"] == "Ed Rendell"
    assert out["result"]["decided_by"].startswith("round 2")


def test_empty_clue_is_skipped_without_a_selector_call(scripted, scores, mention):
    _, context = scripted(RUTH, ED, clue_order="ocr,caption")
    scores(icr=HIGH, iav={"Ruth": 0.1, "Ed": 0.9, "Don": 0.1})
    out = run(mention, context)
    assert [(s["tool"], s["used"]) for s in out["clue_steps"]] == [
        ("ocr", False),
        ("caption", True),
    ]
    assert out["result"]["selector_calls"] == 2
    assert out["attempts"][1]["clue_tool"] == "caption"


@pytest.mark.parametrize(
    ("fallback", "expected"), [("text_only", "Ruth Rendell"), ("best_score", "Don Rendell")]
)
def test_all_clues_spent_uses_the_fallback_rule(scripted, scores, mention, fallback, expected):
    _, context = scripted(
        RUTH, ED, DON, clue_order="caption,tags", fallback=fallback, beta_text=0.3
    )
    scores(icr=HIGH, iav={"Ruth": 0.1, "Ed": 0.2, "Don": 0.25})
    out = run(mention, context)
    assert [a["decision"] for a in out["attempts"]] == ["iav_fail"] * 3
    assert out["result"]["entity"] == expected
    assert out["result"]["decided_by"].startswith(f"fallback {fallback}")
    top = [e["name"] for e in out["result"]["top_k"]]
    assert top[0] == expected and set(top) == {"Ruth Rendell", "Ed Rendell", "Don Rendell"}
    assert out["result"]["top_k"][0]["source"] == "answer"


def test_nil_answer_ends_the_run(scripted, scores, mention):
    _, context = scripted("<|ANSWER|>: nil", allow_nil=True)
    scores(icr=HIGH, iav=HIGH)
    out = run(mention, context)
    assert out["result"]["nil"] is True
    assert out["result"]["entity"] is None
    assert out["attempts"][0]["decision"] == "nil"


def test_nil_is_not_an_answer_when_not_allowed(scripted, scores, mention):
    model, context = scripted(
        "<|ANSWER|>: nil", max_reselect=1, use_vif=False, unmatched_answer="reference"
    )
    scores(icr=HIGH, iav=HIGH)
    out = run(mention, context)
    assert out["result"]["nil"] is False
    assert [a["match"] for a in out["attempts"]] == ["unparsable", "unparsable"]
    assert "ANSWER: nil" not in model.prompts[0]


def test_unnamed_answer_fails_as_a_try_and_the_round_keeps_a_named_one(scripted, scores, mention):
    _, context = scripted(
        "<|ANSWER|>: Thomas Thorne", DON, use_vif=False, unmatched_answer="reference"
    )
    scores(icr={"Ruth": 0.1, "Ed": 0.1, "Don": 0.9}, iav=HIGH)
    out = run(mention, context)
    assert decisions(out) == [(0, 0, None, "icr_fail"), (0, 1, "Don Rendell", "iav_pass")]
    assert out["attempts"][0]["match"] == "unparsable"
    assert out["attempts"][0]["icr_score"] is None


def test_round_of_unnamed_answers_keeps_the_first_stage_best(scripted, scores, mention):
    _, context = scripted(
        "<|ANSWER|>: Thomas Thorne", max_reselect=1, use_vif=False, unmatched_answer="reference"
    )
    scores(icr=HIGH, iav=HIGH)
    out = run(mention, context)
    kept = out["attempts"][0]
    assert (kept["entity"], kept["decision"], kept["resolved_by"]) == (
        "Ruth Rendell",
        "iav_pass",
        "ranker",
    )
    assert out["result"]["entity"] == "Ruth Rendell"


def test_close_misspelling_is_a_fuzzy_match(scripted, scores, mention):
    _, context = scripted("I think the governor, Ed Rendel, is meant here")
    scores(icr=HIGH, iav=HIGH)
    out = run(mention, context)
    assert out["attempts"][0]["entity"] == "Ed Rendell"
    assert out["attempts"][0]["match"] == "fuzzy"
    assert out["attempts"][0]["resolved_by"] is None


def test_answer_naming_no_candidate_is_not_guessed_without_icr(scripted, scores, mention):
    _, context = scripted("<|ANSWER|>: SAVE; THE; MT; MUSIC", use_icr=False, use_vif=False)
    scores(iav=HIGH)
    out = run(mention, context)
    first = out["attempts"][0]
    assert (first["match"], first["resolved_by"], first["entity"]) == (
        "unparsable",
        "ranker",
        "Ruth Rendell",
    )


def test_missing_image_is_reported_and_iav_uses_clue_text(scripted, scores, mention, tmp_path):
    _, context = scripted(ED)
    scores(icr=HIGH, iav=HIGH)
    out = run({**mention, "image": str(tmp_path / "nope.jpg")}, context)
    assert any("image not found" in w for w in out["warnings"])
    assert out["attempts"][0]["iav_method"] == "clue_text"


def test_no_image_and_no_clues_asks_vif_then_the_icr_answer_stands(scripted, scores, mention):
    _, context = scripted(ED)
    scores(icr=HIGH)
    out = run({**mention, "clues": {}}, context)
    tried = out["attempts"][0]
    assert (tried["decision"], tried["icr_passed"]) == ("icr_pass", True)
    assert (tried["iav_method"], tried["iav_score"], tried["iav_passed"]) == ("no_clue", None, None)
    assert [(s["tool"], s["provider"], s.get("error")) for s in out["clue_steps"]] == [
        ("ocr", "rapidocr", NO_IMAGE),
        ("caption", "auto", NO_IMAGE),
        ("dense_caption", "auto", NO_IMAGE),
        ("tags", "efficientnet", NO_IMAGE),
    ]
    assert out["result"]["entity"] == "Ed Rendell"
    assert out["result"]["decided_by"] == "round 0: icr_pass"
    assert out["warnings"] == []


def test_iav_skip_setting_accepts_icr_answer(scripted, scores, mention):
    _, context = scripted(ED, iav_without_encoder="skip")
    scores(icr=HIGH, iav={"Ruth": 0.0, "Ed": 0.0, "Don": 0.0})
    out = run(mention, context)
    assert decisions(out) == [(0, 0, "Ed Rendell", "icr_pass")]
    assert out["attempts"][0]["iav_method"] == "skipped"
    assert out["result"]["selector_calls"] == 1
    assert out["clue_steps"] == []


def test_iav_skip_setting_sends_a_failed_icr_round_to_vif(scripted, scores, mention):
    _, context = scripted(
        RUTH, ED, iav_without_encoder="skip", max_reselect=0, clue_order="caption"
    )
    scores(icr={"Ruth": 0.1, "Ed": 0.9, "Don": 0.1})
    out = run(mention, context)
    assert decisions(out) == [
        (0, 0, "Ruth Rendell", "icr_best_of_failed"),
        (1, 0, "Ed Rendell", "icr_pass"),
    ]
    assert out["result"]["decided_by"] == "round 1: icr_pass"


def test_icr_switched_off(scripted, scores, mention):
    _, context = scripted(RUTH, use_icr=False)
    scores(iav=HIGH)
    out = run(mention, context)
    assert out["attempts"][0]["icr_score"] is None
    assert out["attempts"][0]["decision"] == "iav_pass"


def test_iav_switched_off_icr_failure_goes_to_vif(scripted, scores, mention):
    _, context = scripted(RUTH, ED, use_iav=False, max_reselect=0, clue_order="caption")
    scores(icr={"Ruth": 0.1, "Ed": 0.9, "Don": 0.1})
    out = run(mention, context)
    assert decisions(out) == [
        (0, 0, "Ruth Rendell", "icr_best_of_failed"),
        (1, 0, "Ed Rendell", "icr_pass"),
    ]
    assert all(a["iav_score"] is None for a in out["attempts"])


def test_vif_switched_off_stops_after_text_round(scripted, scores, mention):
    _, context = scripted(RUTH, use_vif=False)
    scores(icr=HIGH, iav={"Ruth": 0.1, "Ed": 0.9, "Don": 0.1})
    out = run(mention, context)
    assert out["result"]["selector_calls"] == 1
    assert out["clue_steps"] == []
    assert out["result"]["decided_by"] == "fallback text_only: round 0"


def test_all_checks_off_is_tes_only(scripted, mention):
    _, context = scripted(DON, use_icr=False, use_iav=False, use_vif=False)
    out = run(mention, context)
    assert decisions(out) == [(0, 0, "Don Rendell", "selected")]
    assert out["result"]["entity"] == "Don Rendell"
    assert out["result"]["decided_by"] == "round 0: selected"


def test_checked_top_k_puts_passed_before_failed_then_candidates(scripted, scores, mention):
    _, context = scripted(RUTH, DON, top_k=3, use_vif=False, top_k_rule="checked")
    scores(icr={"Ruth": 0.1, "Ed": 0.1, "Don": 0.9}, iav=HIGH)
    out = run(mention, context)
    assert [(e["name"], e["source"]) for e in out["result"]["top_k"]] == [
        ("Don Rendell", "answer"),
        ("Ruth Rendell", "failed"),
        ("Ed Rendell", "candidate"),
    ]


def test_first_stage_top_k_keeps_the_candidate_order_after_the_answer(scripted, scores, mention):
    _, context = scripted(RUTH, DON, top_k=3, use_vif=False)
    scores(icr={"Ruth": 0.1, "Ed": 0.1, "Don": 0.9}, iav=HIGH)
    out = run(mention, context)
    assert [(e["name"], e["source"]) for e in out["result"]["top_k"]] == [
        ("Don Rendell", "answer"),
        ("Ruth Rendell", "candidate"),
        ("Ed Rendell", "candidate"),
    ]


def test_empty_mention_is_a_clear_error(scripted, mention):
    _, context = scripted(ED)
    with pytest.raises(InputError, match="mention is empty"):
        run({**mention, "mention": "  "}, context)


def test_no_candidates_and_no_kg_is_a_clear_error(scripted, mention):
    _, context = scripted(ED)
    with pytest.raises(InputError, match="no candidates given and no knowledge graph"):
        run({**mention, "candidates": []}, context)


def test_non_image_file_is_reported(scripted, scores, mention, tmp_path):
    fake = tmp_path / "photo.jpg"
    fake.write_text("not an image")
    _, context = scripted(ED)
    scores(icr=HIGH, iav=HIGH)
    out = run({**mention, "image": str(fake)}, context)
    assert any("not a readable image" in w for w in out["warnings"])


def test_candidates_come_from_the_kg_when_not_given(scripted, scores, mention, tmp_path):
    kg = tmp_path / "kg.jsonl"
    kg.write_text(
        '{"qid": "Q2", "name": "Ed Rendell", "desc": "governor"}\n'
        '{"qid": "Q9", "name": "Paris", "desc": "city"}\n'
        '{"qid": "Q1", "name": "Ruth Rendell", "desc": "author"}\n'
    )
    _, context = scripted(ED, kg=str(kg), k=2)
    scores(icr=HIGH, iav=HIGH)
    out = run({**mention, "candidates": []}, context)
    assert out["result"]["qid"] == "Q2"
    assert {e["name"] for e in out["result"]["top_k"]} == {"Ed Rendell", "Ruth Rendell"}


def test_margin_rule_passes_the_candidate_set_best_whatever_its_cosine(scripted, scores, mention):
    # Absolute cosines all below alpha: the relative rule still tells the best from the rest.
    _, context = scripted(RUTH, ED, icr_rule="margin", alpha=0.0, use_iav=False, use_vif=False)
    scores(icr={"Ruth": 0.10, "Ed": 0.25, "Don": 0.05})
    out = run(mention, context)
    assert decisions(out) == [
        (0, 0, "Ruth Rendell", "icr_fail"),
        (0, 1, "Ed Rendell", "icr_pass"),
    ]
    assert out["attempts"][0]["icr_score"] == pytest.approx(0.10 - 0.25)
    assert out["attempts"][1]["icr_score"] == pytest.approx(0.25 - 0.10)


def test_zscore_rule_scores_the_pick_among_all_candidates(scripted, scores, mention):
    _, context = scripted(ED, icr_rule="zscore", alpha=1.0, use_iav=False, use_vif=False)
    scores(icr={"Ruth": 0.1, "Ed": 0.4, "Don": 0.1})
    out = run(mention, context)
    assert out["attempts"][0]["icr_score"] == pytest.approx(2**0.5)
    assert out["result"]["entity"] == "Ed Rendell"


def test_a_round_failing_every_try_can_answer_nil(scripted, scores, mention):
    _, context = scripted(
        RUTH, ED, DON, icr_all_failed="nil", allow_nil=True, max_reselect=2, top_k=3
    )
    scores(icr={"Ruth": 0.1, "Ed": 0.2, "Don": 0.15}, iav=HIGH)
    out = run(mention, context)
    assert [d for *_, d in decisions(out)] == ["icr_fail", "icr_fail", "icr_nil"]
    assert out["result"]["nil"] is True and out["result"]["entity"] is None
    assert out["result"]["decided_by"] == "round 0: every try failed ICR, NIL"
    assert [e["source"] for e in out["result"]["top_k"]] == ["candidate"] * 3


def test_all_failed_nil_needs_nil_answers_allowed(scripted, scores, mention):
    _, context = scripted(RUTH, ED, DON, icr_all_failed="nil", max_reselect=2, use_vif=False)
    scores(icr={"Ruth": 0.1, "Ed": 0.2, "Don": 0.15}, iav=HIGH)
    out = run(mention, context)
    assert out["result"]["entity"] == "Ed Rendell"


def many_candidates(count: int, desc: str) -> list[dict[str, str]]:
    return [{"name": f"Entity {i}", "desc": desc, "qid": f"Q{i}"} for i in range(count)]


def test_a_prompt_over_its_budget_shortens_descriptions_and_still_answers(scripted):
    candidates = many_candidates(100, "A long sentence about this entity. " * 57)
    model, context = scripted(
        "<|ANSWER|>: Entity 7", use_icr=False, use_iav=False, use_vif=False, desc_chars=2000
    )
    out = run({"mention": "Entity 7", "context": "c", "candidates": candidates}, context)
    assert out["result"]["entity"] == "Entity 7"
    (prompt,) = model.prompts
    assert len(prompt) <= context.max_prompt_chars
    assert "'100. Entity 99'" in prompt
    assert (
        "selector prompt over max_prompt_chars (16000): descriptions shortened" in out["warnings"]
    )


def test_a_tight_prompt_budget_shows_only_the_first_candidates(scripted):
    candidates = many_candidates(100, "Short.")
    model, context = scripted(
        "<|ANSWER|>: Entity 2",
        use_icr=False,
        use_iav=False,
        use_vif=False,
        max_prompt_chars=1000,
    )
    out = run({"mention": "Entity 2", "context": "c", "candidates": candidates}, context)
    assert out["result"]["entity"] == "Entity 2"
    (prompt,) = model.prompts
    assert len(prompt) <= 1000
    assert "Entity 1'" in prompt and "Entity 99'" not in prompt
    (warning,) = [w for w in out["warnings"] if "max_prompt_chars" in w]
    assert "only the first" in warning and "of 100 candidates shown" in warning
