"""Hub providers with tiny randomly initialised models saved locally (never a download)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import matplotlib
import pytest

from i2cr.context import Context
from i2cr.tools import get_clue_tool
from i2cr.tools.cache import clue_cache
from i2cr.tools.hub import (
    DEFAULT_MODELS,
    classifier_tags,
    florence_text,
    generate_text,
    hub_model_for,
)

PHOTO = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
WORDS = ["a", "photo", "of", "woman", "in", "uniform", "hat", "flag"]

# Florence-2-base's answer to <DENSE_REGION_CAPTION> on a portrait, as its processor's
# post_process_generation returns it.
RECORDED_DENSE = {
    "<DENSE_REGION_CAPTION>": {
        "bboxes": [[0.3, 1.2, 510.7, 598.9], [140.1, 20.4, 380.2, 350.6], [0.3, 0.9, 200.4, 560.1]],
        "labels": ["woman", "woman wearing glasses", "flag"],
    }
}


@pytest.fixture(scope="module")
def tiny_blip(tmp_path_factory) -> str:
    """A 1-layer BLIP captioner with random weights and a 14-token vocabulary."""
    import torch
    from transformers import (
        BertTokenizer,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipProcessor,
    )

    folder = tmp_path_factory.mktemp("tiny-blip")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", *WORDS]
    layers = {"intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2}
    config = BlipConfig(
        text_config={
            "vocab_size": len(vocab),
            "hidden_size": 16,
            "max_position_embeddings": 64,
            "bos_token_id": 5,
            "sep_token_id": 3,
            "pad_token_id": 0,
            "eos_token_id": 3,
            **layers,
        },
        vision_config={"hidden_size": 16, "image_size": 32, "patch_size": 8, **layers},
        projection_dim=16,
    )
    torch.manual_seed(0)
    model = BlipForConditionalGeneration(config)
    # random weights favour special tokens: forbid them so the caption has words
    model.generation_config.min_new_tokens = 4
    model.generation_config.suppress_tokens = [0, 1, 2, 4, 5]
    model.save_pretrained(folder)
    tokenizer = BertTokenizer(vocab={w: i for i, w in enumerate(vocab)}, bos_token="[DEC]")
    processor = BlipProcessor(BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer)
    processor.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def tiny_vit(tmp_path_factory) -> str:
    """A 1-layer ViT image classifier with random weights and three labels."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    folder = tmp_path_factory.mktemp("tiny-vit")
    labels = {0: "military uniform, military dress", 1: "flag", 2: "mortarboard"}
    config = ViTConfig(
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        image_size=32,
        patch_size=8,
        id2label=labels,
        label2id={v: k for k, v in labels.items()},
    )
    torch.manual_seed(0)
    ViTForImageClassification(config).save_pretrained(folder)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return str(folder)


@pytest.fixture(autouse=True)
def fresh_cache():
    clue_cache.cache_clear()


def test_hub_models_setting_overrides_defaults():
    context = Context(hub_models="caption=my/blip, tags=/models/vit")
    assert hub_model_for("caption", context) == "my/blip"
    assert hub_model_for("tags", context) == "/models/vit"
    assert hub_model_for("dense_caption", context) == DEFAULT_MODELS["dense_caption"]


@pytest.mark.parametrize("setting", ["caption", "colour=x/y", "caption="])
def test_bad_hub_models_entry_is_a_clear_error(setting):
    with pytest.raises(ValueError, match="must be 'tool=model id'"):
        hub_model_for("caption", Context(hub_models=setting))


def test_florence_region_captions_become_one_clue():
    assert florence_text("<DENSE_REGION_CAPTION>", RECORDED_DENSE) == (
        "woman; woman wearing glasses; flag"
    )
    assert florence_text("<OCR>", {"<OCR>": " COMO HOPPER "}) == "COMO HOPPER"


def test_classifier_tags_keep_first_synonym_above_the_cut():
    predictions = [
        {"label": "flag", "score": 0.04},
        {"label": "academic gown, academic robe, judge's robe", "score": 0.3},
        {"label": "mortarboard", "score": 0.2},
    ]
    assert classifier_tags(predictions, min_score=0.05) == "academic gown; mortarboard"


def test_florence_generation_uses_the_task_prompt_and_post_processing(monkeypatch):
    from PIL import Image

    calls: dict[str, Any] = {}

    class Processor:
        def __call__(self, images: Any, text: str | None, return_tensors: str) -> dict[str, Any]:
            calls["prompt"] = text
            return {}

        def batch_decode(self, ids: Any, skip_special_tokens: bool) -> list[str]:
            return ["</s><s>woman<loc_0><loc_0><loc_999><loc_999></s>"]

        def post_process_generation(self, raw: str, task: str, image_size: Any) -> dict[str, Any]:
            calls["post"] = (raw, task, image_size)
            return RECORDED_DENSE

    model = SimpleNamespace(
        config=SimpleNamespace(model_type="florence2"), generate=lambda **kwargs: [[0]]
    )
    monkeypatch.setattr("i2cr.tools.hub.load_generator", lambda model_id: (Processor(), model))
    image = Image.new("RGB", (64, 48))
    text = generate_text("florence-community/Florence-2-base", "dense_caption", image)
    assert text == "woman; woman wearing glasses; flag"
    assert calls["prompt"] == "<DENSE_REGION_CAPTION>"
    assert calls["post"][1:] == ("<DENSE_REGION_CAPTION>", (64, 48))


def test_tiny_random_blip_captions_through_the_tool(tiny_blip, monkeypatch):
    monkeypatch.setenv("I2CR_HUB_MODELS", f"caption={tiny_blip}")
    caption = get_clue_tool("caption", "hub").invoke({"image": str(PHOTO)})
    assert caption and set(caption.split()) <= set(WORDS)


def test_dense_captions_with_a_captioner_is_a_clear_error(tiny_blip, monkeypatch):
    monkeypatch.setenv("I2CR_HUB_MODELS", f"dense_caption={tiny_blip}")
    with pytest.raises(ValueError, match="dense_caption clues need a Florence-2 model"):
        get_clue_tool("dense_caption", "hub").invoke({"image": str(PHOTO)})


def test_tiny_random_vit_tags_through_the_pipeline(tiny_vit, monkeypatch):
    monkeypatch.setenv("I2CR_HUB_MODELS", f"tags={tiny_vit}")
    monkeypatch.setenv("I2CR_TAG_MIN_SCORE", "0.0")
    tags = get_clue_tool("tags", "hub").invoke({"image": str(PHOTO)}).split("; ")
    assert sorted(tags) == ["flag", "military uniform", "mortarboard"]


@pytest.fixture(scope="module")
def tiny_detector(tmp_path_factory) -> str:
    """A 1-layer YOLOS object detector with random weights and three labels."""
    import torch
    from transformers import YolosConfig, YolosForObjectDetection, YolosImageProcessor

    folder = tmp_path_factory.mktemp("tiny-yolos")
    labels = {0: "person", 1: "tie", 2: "flag"}
    config = YolosConfig(
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        image_size=[32, 32],
        patch_size=8,
        num_detection_tokens=4,
        id2label=labels,
        label2id={v: k for k, v in labels.items()},
    )
    torch.manual_seed(0)
    YolosForObjectDetection(config).save_pretrained(folder)
    YolosImageProcessor(size={"shortest_edge": 32, "longest_edge": 32}).save_pretrained(folder)
    return str(folder)


def test_tiny_random_detector_tags_are_object_labels(tiny_detector, monkeypatch):
    monkeypatch.setenv("I2CR_HUB_MODELS", f"tags={tiny_detector}")
    monkeypatch.setenv("I2CR_TAG_MIN_SCORE", "0.0")
    tags = get_clue_tool("tags", "hub").invoke({"image": str(PHOTO)}).split("; ")
    assert tags and set(tags) <= {"person", "tie", "flag"}
