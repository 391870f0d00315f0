"""The combined first stage: its fit, calibration, scores, signal cache, and the gate it drives."""

from __future__ import annotations

import random

import numpy as np
import pytest

from i2cr import graph
from i2cr.context import Context
from i2cr.datasets.sample import Sample
from i2cr.errors import SettingError
from i2cr.rankers import RANKERS, load_first_stage
from i2cr.rankers.combined import Combination, load_combination
from i2cr.rankers.fitting import (
    calibrated,
    calibration_features,
    expected_calibration_error,
    feature_matrix,
    fit_calibration,
    fit_weights,
)
from i2cr.rankers.signal_cache import attach_signal_cache, detach_signal_cache
from i2cr.rankers.signals import signal_scores

ED = "<|ANSWER|>: Ed Rendell"
RUTH = "<|ANSWER|>: Ruth Rendell"
HIGH = {"Ruth": 0.9, "Ed": 0.9, "Don": 0.9}


def synthetic_mentions(count: int, seed: int = 0):
    """Mentions whose gold candidate follows 3 * strong + 1 * weak (+ noise); `noise` is noise."""
    rng = np.random.default_rng(seed)
    lists, golds = [], []
    for _ in range(count):
        strong, weak, noise = rng.normal(size=(3, 8))
        gold = int(np.argmax(3 * strong + weak + rng.gumbel(size=8)))
        signals = {"strong": strong, "weak": weak, "noise": noise}
        lists.append(feature_matrix(signals, ("strong", "weak", "noise")))
        golds.append(gold)
    return lists, golds


def top1(lists, golds, weights) -> float:
    return float(np.mean([np.argmax(x @ weights) == g for x, g in zip(lists, golds, strict=True)]))


def test_the_listwise_fit_weighs_signals_by_what_they_tell_and_beats_each_alone():
    lists, golds = synthetic_mentions(600)
    weights = fit_weights(lists, golds)
    assert weights[0] > weights[1] > abs(weights[2])
    test_lists, test_golds = synthetic_mentions(400, seed=1)
    fitted = top1(test_lists, test_golds, weights)
    assert fitted > top1(test_lists, test_golds, np.array([1.0, 0, 0])) + 0.02
    assert fitted > top1(test_lists, test_golds, np.array([0, 1.0, 0]))


def test_mentions_without_their_gold_among_the_candidates_are_left_out_of_the_fit():
    lists, golds = synthetic_mentions(200)
    with pytest.raises(ValueError, match="no mention with its gold entity"):
        fit_weights(lists, [-1] * len(golds))
    with_missing = fit_weights([*lists, lists[0]], [*golds, -1])
    assert with_missing == pytest.approx(fit_weights(lists, golds))


def test_calibration_turns_overconfident_probabilities_into_honest_ones():
    rng = random.Random(0)
    # The model says 0.95 but is right 70% of the time, and 0.6 when right 40% of the time.
    said = [0.95] * 500 + [0.6] * 500
    right = [rng.random() < 0.7 for _ in range(500)] + [rng.random() < 0.4 for _ in range(500)]
    assert expected_calibration_error(said, right) > 0.2
    features = [calibration_features(p, []) for p in said]
    calibration = fit_calibration(features, right)
    fixed = [calibrated(f, calibration) for f in features]
    assert expected_calibration_error(fixed, right) < 0.03
    assert fixed[0] == pytest.approx(np.mean(right[:500]), abs=0.03)


def test_calibration_reads_how_well_the_best_candidate_fits_at_all():
    rng = random.Random(1)
    # Equally sure of the best among the candidates, but right only where it fits well.
    fits = [rng.random() for _ in range(1000)]
    right = [rng.random() < (0.95 if fit > 0.5 else 0.2) for fit in fits]
    features = [calibration_features(0.9, [fit]) for fit in fits]
    calibration = fit_calibration(features, right)
    poor, good = (calibrated(calibration_features(0.9, [f]), calibration) for f in (0.1, 0.9))
    assert poor < 0.35 < 0.85 < good


def test_expected_calibration_error_of_a_perfect_forecaster_is_zero():
    assert expected_calibration_error([1.0, 1.0, 0.5, 0.5], [True, True, True, False]) == 0


def test_a_combination_saves_loads_and_refuses_a_bad_file(tmp_path):
    combination = Combination(("name", "embedder"), (2.0, 0.5), (-0.2, 1.1, 0.3, 0.1))
    combination.save(tmp_path)
    assert Combination.load(tmp_path) == combination
    with pytest.raises(FileNotFoundError, match="has no combined.json"):
        Combination.load(tmp_path / "missing")
    (tmp_path / "combined.json").write_text(
        '{"signals": ["name"], "weights": [1, 2], "calibration": [0, 1, 0]}'
    )
    with pytest.raises(ValueError, match="1 signals but 2 weights"):
        Combination.load(tmp_path)
    (tmp_path / "combined.json").write_text(
        '{"signals": ["name"], "weights": [1], "calibration": [1, 0]}'
    )
    with pytest.raises(ValueError, match="the calibration needs 3 weights"):
        Combination.load(tmp_path)


def test_every_ranker_is_in_the_registry_and_none_keeps_the_order():
    assert set(RANKERS) == {"embedder", "dim", "cross_encoder", "combined"}
    assert load_first_stage(Context(ranker="none")) is None


def test_the_shipped_combination_links_a_real_mention_in_any_candidate_order(mention):
    """The real signals (MiniLM, DIM, the cross-encoder, names, clue text) and shipped weights."""
    query = Sample(id="", **{k: mention[k] for k in ("mention", "context", "candidates", "clues")})
    ranker = load_first_stage(Context())
    scored = ranker.rank(query)
    scores = scored.scores
    names = [c["name"] for c in query.candidates]
    assert names[int(np.argmax(scores))] == "Ed Rendell"
    reversed_query = Sample(id="", mention=query.mention, context=query.context)
    reversed_query.candidates, reversed_query.clues = query.candidates[::-1], query.clues
    assert ranker.rank(reversed_query).scores == pytest.approx(scores[::-1])
    confidences = scored.confidences
    assert all(0 <= c <= 1 for c in confidences)
    assert max(confidences) == confidences[int(np.argmax(scores))]
    assert load_combination().metadata["fitted_on"].startswith("wikimel_val")


def test_the_signal_cache_scores_a_pair_once_whatever_the_order(tmp_path, mention, monkeypatch):
    query = Sample(id="", mention=mention["mention"], candidates=mention["candidates"])
    calls = []

    def counted(query, embedder, precision):
        calls.append(len(query.candidates))
        return [float(len(c["name"])) for c in query.candidates]

    monkeypatch.setitem(__import__("i2cr.rankers.signals").rankers.signals.SIGNALS, "name", counted)
    cache = attach_signal_cache(tmp_path / "signals.sqlite")
    try:
        first = signal_scores(query, ("name",), "minilm")["name"]
        query.candidates = query.candidates[::-1]
        again = signal_scores(query, ("name",), "minilm")["name"]
    finally:
        detach_signal_cache()
    assert calls == [3] and again == first[::-1]
    assert (cache.lookups, cache.hits) == (2, 1)


@pytest.fixture
def name_only(tmp_path):
    """First stages that read names alone (no model): `sure` is confident in the closest name,
    `unsure` (its calibration says so) is not."""
    stages = {}
    for kind, calibration in (("sure", (0.0, 1.0, 0.0)), ("unsure", (-2.0, 0.1, 0.0))):
        Combination(("name",), (8.0,), calibration).save(tmp_path / kind)
        stages[kind] = {"ranker": "combined", "ranker_weights": str(tmp_path / kind)}
    load_combination.cache_clear()
    yield stages
    load_combination.cache_clear()


def test_a_confident_first_stage_answers_without_loading_a_selector(mention, name_only):
    # A selector that cannot even load: a confident link must never reach it.
    settings = Context(selector="local:/no/such/model", selector_below=0.9, **name_only["sure"])
    out = graph.invoke({**mention, "mention": "Ed Rendell"}, context=settings)
    result = out["result"]
    assert result["entity"] == "Ed Rendell" and result["selector_calls"] == 0
    assert result["confidence"] >= 0.9 and result["decided_by"].startswith("first stage")
    assert [a["decision"] for a in out["attempts"]] == ["ranker_confident"]
    scores = [entry["score"] for entry in result["top_k"]]
    assert scores == sorted(scores, reverse=True) and scores[0] == result["confidence"]


def test_an_unsure_first_stage_asks_the_selector_whose_supported_pick_wins(
    scripted, scores, mention, name_only
):
    model, settings = scripted(RUTH, selector_below=0.9, **name_only["unsure"])
    scores(icr=HIGH, iav=HIGH)
    out = graph.invoke({**mention, "mention": "Ed Rendell"}, context=settings)
    assert len(model.prompts) == 1
    assert out["result"]["entity"] == "Ruth Rendell"
    assert out["result"]["decided_by"] == "round 0: iav_pass"
    # The confidence is the first stage's in the answer: low, as it was not its best.
    assert 0 <= out["result"]["confidence"] < out["result"]["top_k"][1]["score"]


def test_a_pick_that_fails_its_checks_never_replaces_the_first_stage_best(
    scripted, scores, mention, name_only
):
    model, settings = scripted(RUTH, max_reselect=0, use_vif=False, **name_only["sure"])
    settings.selector_below = 1.0
    scores(icr={"Ruth": 0.1, "Ed": 0.1, "Don": 0.1}, iav=HIGH)
    out = graph.invoke({**mention, "mention": "Ed Rendel"}, context=settings)
    assert len(model.prompts) == 1
    assert out["result"]["entity"] == "Ed Rendell"
    assert "selector's pick 'Ruth Rendell' failed its checks" in out["result"]["decided_by"]


def test_nil_below_answers_nil_where_the_confidence_is_low(mention, name_only, scripted):
    _, settings = scripted(ED, **name_only["unsure"])
    settings.selector_below, settings.nil_below = 0.0, 0.5
    out = graph.invoke({**mention, "mention": "Ed Rendell"}, context=settings)
    assert out["result"]["nil"] and out["result"]["entity"] is None
    assert "below nil_below" in out["result"]["decided_by"]
    with pytest.raises(SettingError, match="nil_below reads the first stage's confidence"):
        Context(ranker="embedder", nil_below=0.5)


def test_an_image_the_first_stage_has_not_read_sends_the_mention_to_the_method(
    scripted, scores, mention, name_only, tmp_path
):
    from PIL import Image

    photo = tmp_path / "photo.png"
    Image.new("RGB", (64, 64), "white").save(photo)
    model, settings = scripted(ED, ED, ED, ED, use_vif=False, **name_only["sure"])
    settings.selector_below, settings.image_root = 0.5, str(tmp_path)
    scores(icr=HIGH, iav=HIGH)
    confident = {**mention, "mention": "Ed Rendell", "image": str(photo)}
    out = graph.invoke({**confident, "clues": {}}, context=settings)
    assert len(model.prompts) == 1 and out["result"]["entity"] == "Ed Rendell"
    # With the image's clue text carried, the first stage has read it: the gate answers.
    out = graph.invoke(confident, context=settings)
    assert len(model.prompts) == 1 and out["result"]["decided_by"].startswith("first stage")
