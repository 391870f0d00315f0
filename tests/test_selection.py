from __future__ import annotations

from i2cr.selection import (
    build_messages,
    closest_open_candidate,
    lead_sentences,
    parse_answer,
)

CANDS = [
    {"name": "Pennsylvania_(state)", "desc": "A state. It is in the US. Big."},
    {"name": "Pennsylvania", "desc": "Pennsylvania is a state located in the Mid-Atlantic."},
]


def test_prompt_is_the_reference_prompt():
    system, user = build_messages(
        mention="PA", context="Route 33, PA", candidates=CANDS, desc_chars=10
    )
    assert system.content == (
        "Your task is to create matches between the mention and candidate entities to select "
        "the best-matched entity for the given mention."
    )
    assert user.content == (
        "GIVEN:\n{'mention': 'PA', 'mention context text': 'Route 33, PA', 'candidate entities': "
        "{'1. Pennsylvania (state)': 'A state. It is in the US.', "
        "'2. Pennsylvania': 'Pennsylvania is a state located in the Mid-Atlantic.'}}\n"
        "Choose only one option from candidate entities; no explanations or multiple choices.\n"
        "Must use this format for the final answer: <|ANSWER|>: <The entity name you selected>."
    )


def test_prompt_with_clue_exclusion_and_nil():
    system, user = build_messages(
        mention="PA",
        context="c",
        candidates=CANDS,
        clue="a road",
        excluded=["Pennsylvania"],
        allow_nil=True,
    )
    assert system.content.endswith("If no candidate matches the mention, you ANSWER: nil.")
    assert (
        "'mention image information': 'Pay special attention to the mention image " in user.content
    )
    assert "a road'" in user.content
    assert (
        "}}\n Note that Pennsylvania in the candidates has been excluded.\nChoose" in user.content
    )


def test_lead_sentences_keeps_whole_sentences():
    assert lead_sentences("One two. Three four. Five.", 5) == "One two."
    assert lead_sentences("One two. Three four. Five.", 12) == "One two. Three four."
    assert lead_sentences("No end", 100) == "No end"


def test_lead_sentences_cuts_a_run_on_text_at_a_word():
    run_on = "word " * 1000
    cut = lead_sentences(run_on, 200)
    assert cut.endswith("word…")
    assert len(cut) <= 4 * 200 + 1
    assert len(lead_sentences("x" * 5000, 200)) == 4 * 200 + 1
    assert len(lead_sentences("x" * 5000, 10)) == 500 + 1


def test_parse_answer_variants():
    assert parse_answer("<|ANSWER|>: 2. Pennsylvania", CANDS, False).index == 1
    exact = parse_answer("<|ANSWER|>: Pennsylvania (state)", CANDS, False)
    assert (exact.index, exact.match) == (0, "exact")
    contained = parse_answer("The answer is Pennsylvania (state) clearly", CANDS, False)
    assert (contained.index, contained.match) == (0, "contained")
    assert parse_answer("<|ANSWER|>: nil", CANDS, True).match == "nil"
    fuzzy = parse_answer("<|ANSWER|>: Pensylvania state", CANDS, False)
    assert fuzzy.match == "fuzzy" and fuzzy.index == 0


def test_parse_answer_names_a_repeated_excluded_candidate():
    parsed = parse_answer("<|ANSWER|>: Pennsylvania", CANDS, False, excluded={1})
    assert (parsed.index, parsed.match) == (1, "repeated")


def test_parse_answer_refuses_a_far_or_ambiguous_fuzzy_match():
    far = parse_answer("<|ANSWER|>: Thomas Thorne", CANDS, False)
    assert (far.index, far.match) == (None, "unparsable")
    close = parse_answer("<|ANSWER|>: Pensylvania state", CANDS, False, fuzzy_margin=100)
    assert close.match == "unparsable"
    strict = parse_answer("<|ANSWER|>: Pensylvania state", CANDS, False, fuzzy_min_score=99)
    assert strict.match == "unparsable"


def test_closest_open_candidate_skips_excluded():
    assert closest_open_candidate("<|ANSWER|>: Pennsylvania", CANDS, {1}) == 0
