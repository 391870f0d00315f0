from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from i2cr.context import Context
from i2cr.datasets import Sample, load_release
from i2cr.errors import SettingError
from i2cr.evals.baselines import FirstStageRanking
from i2cr.graph import graph
from i2cr.rankers.cross_encoder import ranker as ranker_module
from i2cr.rankers.cross_encoder.model import (
    WEIGHTS_FILE,
    CrossEncoderConfig,
    load_model,
    save_model,
)
from i2cr.rankers.cross_encoder.nil import learn_threshold
from i2cr.rankers.cross_encoder.ranker import (
    CrossEncoderRanker,
    load_cross_encoder,
    save_nil_threshold,
    shipped_weights,
)
from i2cr.rankers.cross_encoder.train import TrainSettings, top1, train

WORDS = ["jazz", "saxophone", "novel", "author", "governor", "budget", "senate", "thriller"]


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A randomly initialised 2-layer BERT and a word-level tokenizer (no download)."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-bert")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "rendell", ".", "|", *WORDS]
    BertTokenizerFast(vocab={word: i for i, word in enumerate(vocab)}).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        initializer_range=0.2,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    BertModel(config).save_pretrained(folder)
    return str(folder)


def toy_samples() -> list[Sample]:
    """Each mention's context names a topic; the gold candidate's description shares it."""
    topics = [("jazz", "saxophone"), ("novel", "author"), ("governor", "budget")]
    candidates: list[Any] = [
        {"name": f"Rendell {i}", "desc": f"{a} {b}.", "qid": f"Q{i}"}
        for i, (a, b) in enumerate(topics)
    ]
    return [
        Sample(
            id=str(i),
            mention="Rendell",
            context=f"Rendell {a} {b}",
            candidates=[*candidates[i:], *candidates[:i]][::-1],
            gold_qid=f"Q{i}",
        )
        for i, (a, b) in enumerate(topics)
    ]


@pytest.fixture(scope="module")
def trained(tiny_base: str) -> CrossEncoderRanker:
    config = CrossEncoderConfig(base=tiny_base, trained_layers=1, max_length=32)
    settings = TrainSettings(epochs=30, lr=1e-2, head_lr=1e-2, mentions_per_step=3)
    ranker, _ = train(toy_samples(), config, settings, log=lambda _: None)
    return ranker


def test_training_learns_to_put_the_gold_candidate_first(trained):
    assert top1(trained, toy_samples()) == 1.0


def test_saved_ranker_holds_only_the_trained_layers_and_scores_the_same(trained, tmp_path):
    folder = save_model(trained.model, trained.config, tmp_path / "ce", {"seed": 0})
    loaded = load_cross_encoder(str(folder))
    names = json.loads((folder / "config.json").read_text())
    assert names["metadata"] == {"seed": 0}
    from safetensors.torch import load_file

    saved = load_file(str(folder / WEIGHTS_FILE))
    assert all(t.dtype == torch.float16 for t in saved.values())
    assert any(n.startswith("bert.encoder.layer.1.") for n in saved)
    assert not any(n.startswith(("bert.encoder.layer.0.", "bert.embeddings.")) for n in saved)
    sample = toy_samples()[0]
    texts = {"mention": sample.mention, "context": sample.context}
    before = trained.scores(candidates=sample.candidates, **texts)
    after = loaded.scores(candidates=sample.candidates, **texts)
    assert after == pytest.approx(before, abs=0.05)
    assert loaded.nil_threshold is None


def test_a_folder_without_weights_is_refused(trained, tmp_path):
    folder = save_model(trained.model, trained.config, tmp_path / "ce")
    (folder / WEIGHTS_FILE).unlink()
    with pytest.raises(FileNotFoundError, match=WEIGHTS_FILE):
        load_model(folder)


def test_nil_threshold_separates_low_top_scores():
    tops, nil = [3.0, 2.5, -1.0, 4.0, -2.0], [False, False, True, False, True]
    rule = learn_threshold(tops, nil, [True, True, False, True, False])
    assert -1.0 < rule.threshold < 2.5
    assert (rule.nil_precision, rule.nil_recall, rule.top1) == (1.0, 1.0, 1.0)


def test_nil_threshold_weighs_the_answers_it_would_lose():
    # Saying NIL below 2.0 finds the NIL mention but loses a right answer at 1.0: no gain.
    tops, nil = [1.0, 1.5, 3.0], [False, True, False]
    assert learn_threshold(tops, nil, [True, False, True]).nil_recall == 0.0
    # When the low-scoring answer was wrong anyway, the rule pays.
    rule = learn_threshold(tops, nil, [False, False, True])
    assert rule.nil_recall == 1.0 and rule.top1 == pytest.approx(2 / 3)


class StubRanker:
    """Scores by candidate name; NIL below its threshold."""

    def __init__(self, table: dict[str, float], nil_threshold: float | None = None) -> None:
        self.table, self.nil_threshold, self.calls = table, nil_threshold, 0

    def sample_scores(self, sample: Sample) -> list[float]:
        self.calls += 1
        return [self.table[c["name"]] for c in sample.candidates]

    says_nil = CrossEncoderRanker.says_nil


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch):
    def install(table: dict[str, float], nil_threshold: float | None = None) -> StubRanker:
        ranker = StubRanker(table, nil_threshold)
        monkeypatch.setattr(ranker_module, "load_cross_encoder", lambda folder="": ranker)
        return ranker

    return install


TABLE = {"Ruth Rendell": 0.5, "Ed Rendell": 4.0, "Don Rendell": 1.0}


def test_the_graph_orders_the_selector_candidates_by_the_cross_encoder(
    scripted, scores, mention, stub
):
    stub(TABLE)
    model, context = scripted("<|ANSWER|>: Ed Rendell", ranker="cross_encoder", ranker_keep=2)
    scores(icr={"Ed": 0.9, "Don": 0.1}, iav={"Ed": 0.9, "Don": 0.1})
    out = graph.invoke(mention, context=context)
    prompt = model.prompts[0]
    assert prompt.index("1. Ed Rendell") < prompt.index("2. Don Rendell")
    assert "Ruth Rendell" not in prompt
    assert out["result"]["entity"] == "Ed Rendell"


def test_icr_by_the_ranker_margin_rejects_a_pick_the_ranker_disagrees_with(
    scripted, scores, mention, stub
):
    stub(TABLE)
    model, context = scripted(
        "<|ANSWER|>: Don Rendell",
        "<|ANSWER|>: Ed Rendell",
        ranker="cross_encoder",
        icr_rule="ranker_margin",
        alpha=-1.0,
    )
    scores(iav={"Ed": 0.9, "Don": 0.9})
    out = graph.invoke(mention, context=context)
    tries = out["attempts"]
    assert [t["entity"] for t in tries[:2]] == ["Don Rendell", "Ed Rendell"]
    assert tries[0]["icr_score"] == pytest.approx(1.0 - 4.0)
    assert tries[0]["icr_passed"] is False and tries[1]["icr_passed"] is True
    assert out["result"]["entity"] == "Ed Rendell"


def test_the_nil_rule_answers_nil_without_asking_the_selector(scripted, mention, stub):
    stub(TABLE, nil_threshold=5.0)
    model, context = scripted(
        "<|ANSWER|>: Ed Rendell", ranker="cross_encoder", ranker_nil=True, allow_nil=True
    )
    out = graph.invoke(mention, context=context)
    assert out["result"]["nil"] and out["result"]["entity"] is None
    assert out["result"]["selector_calls"] == 0 and model.prompts == []


def test_the_nil_rule_stays_quiet_above_its_threshold_or_without_allow_nil(
    scripted, scores, mention, stub
):
    stub(TABLE, nil_threshold=3.0)
    scores(icr={"Ed": 0.9}, iav={"Ed": 0.9})
    for allow_nil in (True, False):
        _, context = scripted(
            "<|ANSWER|>: Ed Rendell", ranker="cross_encoder", ranker_nil=True, allow_nil=allow_nil
        )
        assert graph.invoke(mention, context=context)["result"]["entity"] == "Ed Rendell"
    stub(TABLE, nil_threshold=5.0)
    _, context = scripted("<|ANSWER|>: Ed Rendell", ranker="cross_encoder", ranker_nil=True)
    assert graph.invoke(mention, context=context)["result"]["entity"] == "Ed Rendell"


def test_ranker_alone_baseline_ranks_and_says_nil(mention, stub):
    stub(TABLE, nil_threshold=5.0)
    ranked = FirstStageRanking("cross_encoder").invoke(
        mention, context=Context(ranker="cross_encoder")
    )
    assert [r["name"] for r in ranked["result"]["top_k"]][:2] == ["Ed Rendell", "Don Rendell"]
    assert not ranked["result"]["nil"]
    nil = FirstStageRanking("cross_encoder").invoke(
        mention, context=Context(ranker="cross_encoder", ranker_nil=True, allow_nil=True)
    )
    assert nil["result"]["nil"] and nil["result"]["entity"] is None


def test_the_ranker_rules_need_the_cross_encoder():
    with pytest.raises(SettingError, match="cross_encoder"):
        Context(ranker="embedder", icr_rule="ranker_margin")
    with pytest.raises(SettingError, match="cross_encoder"):
        Context(ranker="dim", ranker_nil=True)


def test_nil_threshold_is_read_from_the_weights_folder(trained, tmp_path):
    folder = save_model(trained.model, trained.config, tmp_path / "ce")
    save_nil_threshold(folder, {"threshold": 1.25, "nil_recall": 0.5})
    loaded = load_cross_encoder(str(folder))
    assert loaded.nil_threshold == 1.25
    assert loaded.says_nil([1.0, 1.2]) and not loaded.says_nil([1.0, 1.3])


DEV = Path("../shared/data/wikimel/wikimel_dev.json")


@pytest.mark.skipif(
    not DEV.is_file() or not (shipped_weights() / WEIGHTS_FILE).is_file(),
    reason="needs the shared WikiMEL dev split and the shipped weights",
)
def test_shipped_ranker_puts_gold_first_on_real_dev_mentions():
    samples = load_release(DEV)
    chosen = [s for s in samples if s.id in {"21", "52"}] or samples[:2]
    assert top1(load_cross_encoder(), chosen) == 1.0


def test_scores_follow_the_candidates_in_any_order(trained):
    sample = toy_samples()[1]
    texts = {"mention": sample.mention, "context": sample.context}
    forward = trained.scores(candidates=sample.candidates, **texts)
    backward = trained.scores(candidates=sample.candidates[::-1], **texts)
    assert backward == forward[::-1]


def test_dim_blend_reorders_by_both_rankers(mention, stub, monkeypatch):
    from i2cr.rankers.dim import ranker as dim_ranker
    from i2cr.rankers.fitting import standard_scores
    from i2cr.ranking import first_stage_scores, rank_candidates

    stub(TABLE)

    class Dim:
        def score_samples(self, samples: list[Sample], precision: str) -> list[list[float]]:
            return [
                [
                    {"Ruth Rendell": 9.0, "Ed Rendell": 0.0, "Don Rendell": 1.0}[c["name"]]
                    for c in samples[0].candidates
                ]
            ]

    monkeypatch.setattr(dim_ranker, "load_ranker", lambda folder="": Dim())
    query = Sample(id="", **{k: mention[k] for k in ("mention", "context", "candidates", "clues")})
    alone = Context(ranker="cross_encoder")
    assert rank_candidates(alone, query).candidates[0]["name"] == "Ed Rendell"
    blended = Context(ranker="cross_encoder", ranker_dim_weight=0.8)
    assert rank_candidates(blended, query).candidates[0]["name"] == "Ruth Rendell"
    expected = [
        0.2 * a + 0.8 * b
        for a, b in zip(
            standard_scores([0.5, 4.0, 1.0]), standard_scores([9.0, 0.0, 1.0]), strict=True
        )
    ]
    assert first_stage_scores(blended, query) == pytest.approx(expected)
    assert list(standard_scores([2.0, 2.0])) == [0.0, 0.0]
