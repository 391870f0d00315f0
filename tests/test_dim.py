"""DIM ranker: training on a synthetic set, ranking, save/load, and the retrieve hook."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import numpy as np
import pytest
import torch

from i2cr import graph
from i2cr.datasets import Sample
from i2cr.rankers.dim import features as dim_features
from i2cr.rankers.dim.features import Features, embed_cached, featurize
from i2cr.rankers.dim.model import DimConfig, DimFusion, n_pair_loss
from i2cr.rankers.dim.ranker import DimRanker, load_model, load_ranker, save_model
from i2cr.rankers.dim.train import TrainSettings, top_k_accuracy, train

PEOPLE = [
    {
        "name": "Grace Hopper",
        "desc": "American computer scientist and US Navy rear admiral.",
        "qid": "Q11641",
    },
    {
        "name": "Grace Kelly",
        "desc": "American actress who became Princess of Monaco.",
        "qid": "Q40987",
    },
    {"name": "Grace Jones", "desc": "Jamaican singer, model and actress.", "qid": "Q1192"},
    {"name": "Hopper", "desc": "A genus of insects.", "qid": "Q9"},
]


def synthetic(samples: int, candidates: int = 6, dim: int = 16, seed: int = 0) -> Features:
    """Mentions whose gold candidate is a noisy copy of the mention vector."""
    generator = torch.Generator().manual_seed(seed)
    entities = torch.randn(samples, candidates, dim, generator=generator)
    gold = torch.randint(0, candidates, (samples,), generator=generator)
    mention = entities[torch.arange(samples), gold] + 0.5 * torch.randn(
        samples, dim, generator=generator
    )
    return Features(
        mention=mention,
        context=mention.clone(),
        cue=torch.zeros(samples, dim),
        cue_present=torch.zeros(samples, dtype=torch.bool),
        entities=entities,
        entity_present=torch.ones(samples, candidates, dtype=torch.bool),
        gold=gold,
    )


def small_model(text_dim: int = 384, seed: int = 0) -> DimFusion:
    torch.manual_seed(seed)
    model = DimFusion(DimConfig(text_dim=text_dim, d_model=32, heads=2))
    with torch.no_grad():
        model.skip_weight.zero_()  # rank by the learned part only, so the test sees it
    return model.eval()


def sample(candidates: list[dict], caption: str = "an older woman in a navy uniform") -> Sample:
    return Sample(
        id="s1",
        mention="Grace Hopper",
        context="Grace Hopper at the computer lab in 1960",
        candidates=[dict(c) for c in candidates],  # type: ignore[misc]
        clues={"caption": caption},
    )


def test_n_pair_loss_decreases_and_ranking_improves_on_a_synthetic_set():
    train_set, dev_set = synthetic(64), synthetic(32, seed=1)
    config = DimConfig(text_dim=16, d_model=16, heads=2, dropout=0.0)
    torch.manual_seed(0)
    before = n_pair_loss(DimFusion(config)(train_set), train_set.gold).item()
    model, history = train(
        train_set,
        dev_set,
        config,
        TrainSettings(epochs=15, lr=5e-3, batch_size=32),
        log=lambda _: None,
    )
    assert history[-1]["train_loss"] < 0.5 * before
    assert top_k_accuracy(model(dev_set).detach(), dev_set.gold)[1] > 0.8


def test_samples_without_gold_are_left_out_of_the_loss_and_count_as_misses():
    scores = torch.tensor([[2.0, 1.0], [0.0, 3.0]])
    gold = torch.tensor([0, -1])
    assert n_pair_loss(scores, gold).item() == pytest.approx(
        torch.nn.functional.cross_entropy(scores[:1], gold[:1]).item()
    )
    assert top_k_accuracy(scores, gold, (1, 2)) == {1: 0.5, 2: 0.5}
    with pytest.raises(ValueError, match="gold"):
        n_pair_loss(scores, torch.tensor([-1, -1]))


def test_order_is_a_permutation_and_does_not_depend_on_the_input_order():
    ranker = DimRanker(small_model())
    lab = {"context": "at the computer lab", "clues": {}}
    order = ranker.order(replace(sample(PEOPLE), **lab))
    assert sorted(order) == list(range(len(PEOPLE)))
    shuffled = PEOPLE[:]
    random.Random(3).shuffle(shuffled)
    again = ranker.order(replace(sample(shuffled), **lab))
    assert [shuffled[i]["name"] for i in again] == [PEOPLE[i]["name"] for i in order]


def test_saved_model_loads_and_gives_identical_scores(tmp_path):
    model = small_model(seed=7)
    save_model(model, tmp_path / "dim", {"note": "test"})
    loaded = load_model(tmp_path / "dim")
    samples = [sample(PEOPLE), sample(PEOPLE[:2], caption="")]
    assert DimRanker(loaded).score_samples(samples) == DimRanker(model).score_samples(samples)
    assert json.loads((tmp_path / "dim" / "config.json").read_text())["metadata"] == {
        "note": "test"
    }


def test_missing_weights_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_model(tmp_path)


def test_shipped_weights_load_offline_and_put_the_described_entity_first():
    ranker = load_ranker()
    assert ranker.model.config.embedder == "minilm"
    described = sample(list(reversed(PEOPLE)))
    context = "Rear admiral Grace Hopper, pioneer of computer programming"
    order = ranker.order(replace(described, context=context))
    assert list(reversed(PEOPLE))[order[0]]["name"] == "Grace Hopper"


def test_embeddings_are_cached_on_disk_and_reused(tmp_path, monkeypatch):
    texts = ["Grace Hopper", "Grace Kelly", "Grace Hopper"]
    first = embed_cached("minilm", texts, tmp_path)
    assert first.shape == (3, 384) and np.allclose(first[0], first[2])
    assert len(list(tmp_path.glob("*.npy"))) == 1

    def no_model(*args, **kwargs):
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr(dim_features, "embed", no_model)
    assert np.array_equal(embed_cached("minilm", texts, tmp_path), first)


def test_featurize_marks_gold_missing_cue_and_padding():
    with_gold = sample(PEOPLE)
    with_gold.gold_qid = "Q40987"
    without_cue = sample(PEOPLE[:2], caption="")
    features = featurize([with_gold, without_cue], "minilm")
    assert features.gold.tolist() == [1, -1]
    assert features.cue_present.tolist() == [True, False]
    assert features.entity_present.sum(1).tolist() == [4, 2]
    with pytest.raises(ValueError, match="without candidates"):
        featurize([sample([])], "minilm")


def test_retrieve_reorders_and_trims_the_candidates_with_the_setting_on(scripted, scores, mention):
    expected = load_ranker().order(
        Sample(id="", **{k: mention[k] for k in ("mention", "context", "candidates", "clues")})
    )
    names = [mention["candidates"][i]["name"] for i in expected]
    model, context = scripted(f"<|ANSWER|>: {names[0]}", ranker="dim", ranker_keep=2)
    scores(icr={n.split()[0]: 0.9 for n in names}, iav={n.split()[0]: 0.9 for n in names})
    out = graph.invoke(mention, context=context)
    prompt = model.prompts[0]
    assert prompt.index(f"1. {names[0]}") < prompt.index(f"2. {names[1]}")
    assert names[2] not in prompt
    assert out["result"]["entity"] == names[0]


def test_embedder_ranker_puts_the_closest_description_first(scripted, scores, mention):
    model, context = scripted("<|ANSWER|>: Don Rendell", ranker="embedder", ranker_keep=2)
    scores(icr={"Don": 0.9, "Ruth": 0.1}, iav={"Don": 0.9, "Ruth": 0.1})
    jazz = {**mention, "context": "Rendell played the saxophone in a London jazz quintet."}
    out = graph.invoke(jazz, context=context)
    prompt = model.prompts[0]
    assert "1. Don Rendell" in prompt and "3. " not in prompt
    assert out["result"]["entity"] == "Don Rendell"


def test_without_the_setting_the_candidates_keep_their_order(scripted, scores, mention):
    model, context = scripted("<|ANSWER|>: Ruth Rendell")
    scores(icr={"Ruth": 0.9}, iav={"Ruth": 0.9})
    graph.invoke(mention, context=context)
    assert "1. Ruth Rendell" in model.prompts[0] and "3. Don Rendell" in model.prompts[0]


@pytest.mark.slow
def test_image_token_uses_clip_features_when_an_encoder_is_configured(tmp_path):
    from matplotlib import cbook

    hopper = str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    with_image, without_image = sample(PEOPLE), sample(PEOPLE)
    with_image.image = hopper
    without_image.image = str(tmp_path / "missing.jpg")
    features = featurize(
        [with_image, without_image], "minilm", image_encoder=("ViT-B-32", "random")
    )
    assert features.image is not None and features.image_present is not None
    assert features.image_present.tolist() == [True, False]
    torch.manual_seed(0)
    config = DimConfig(
        image_model="ViT-B-32",
        image_pretrained="random",
        image_dim=int(features.image.shape[1]),
        d_model=32,
        heads=2,
    )
    ranker = DimRanker(DimFusion(config).eval())
    scores = ranker.score_samples([with_image, without_image])
    assert scores[0] != scores[1]
    save_model(ranker.model, tmp_path / "dim")
    loaded = DimRanker(load_model(tmp_path / "dim"))
    assert loaded.score_samples([with_image, without_image]) == scores
    order = ranker.order(replace(sample(PEOPLE), context="", clues={}, image=hopper))
    assert sorted(order) == list(range(len(PEOPLE)))


def test_run_summary_compares_runs_on_the_rows_they_share(tmp_path):
    from i2cr.rankers.dim.evaluate import summarize_runs

    def record(row_id, answer, calls):
        result = {"entity": answer, "qid": None, "selector_calls": calls}
        return {"id": row_id, "gold": {"name": "A", "qid": None}, "result": result, "seconds": 2.0}

    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text("\n".join(json.dumps(r) for r in [record("1", "A", 1), record("2", "B", 3)]))
    second.write_text(json.dumps(record("1", "B", 2)))
    table = summarize_runs([first, second])
    assert "| first | 1 | 100.0 | 1.00 | 2.0 | 0 |" in table
    assert "| second | 1 | 0.0 | 2.00 | 2.0 | 0 |" in table
