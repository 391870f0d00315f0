"""CLIP image-text scores with open_clip (random weights: no download)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest
import torch

from i2cr.images import ImageError, ImageLimits
from i2cr.models.clip import LOGIT_SCALE, PAPER_MODEL, clip_scores, load_clip

SAMPLES = Path(matplotlib.get_data_path()) / "sample_data"
PHOTO = SAMPLES / "grace_hopper.jpg"
MODEL = "ViT-S-32"
TEXTS = ["Grace Hopper, American computer scientist and United States Navy rear admiral", "a logo"]


def test_scores_are_100_times_the_cosine_of_the_embeddings():
    from PIL import Image

    scores = clip_scores(MODEL, "random", str(PHOTO), TEXTS, precision="float32")
    model, preprocess, tokenizer = load_clip(MODEL, "random", "float32")
    with torch.inference_mode(), Image.open(PHOTO) as image:
        image_vector = model.encode_image(preprocess(image.convert("RGB")).unsqueeze(0))[0]
        text_vectors = model.encode_text(tokenizer(TEXTS))
    expected = torch.nn.functional.cosine_similarity(text_vectors, image_vector[None], dim=-1)
    assert scores == pytest.approx((LOGIT_SCALE * expected).tolist(), abs=1e-3)
    assert all(-100.0 <= s <= 100.0 for s in scores)


def test_image_is_encoded_once_for_repeated_checks(monkeypatch):
    model, _, _ = load_clip(MODEL, "random")
    logo = str(SAMPLES / "logo2.png")
    first = clip_scores(MODEL, "random", logo, ["matplotlib"])
    calls = []
    original = model.encode_image

    def counting(pixels: torch.Tensor) -> torch.Tensor:
        calls.append(pixels)
        return original(pixels)

    monkeypatch.setattr(model, "encode_image", counting)
    again = clip_scores(MODEL, "random", (SAMPLES / "logo2.png").read_bytes(), ["matplotlib"])
    assert again == pytest.approx(first) and calls == []


def test_bad_image_is_a_clear_error(tmp_path):
    with pytest.raises(ImageError, match="image not found"):
        clip_scores(MODEL, "random", str(tmp_path / "nope.jpg"), ["x"])
    with pytest.raises(ImageError, match="more than image_max_pixels=10"):
        clip_scores(MODEL, "random", str(PHOTO), ["x"], ImageLimits(max_pixels=10))


def test_unknown_model_names_the_paper_setting():
    with pytest.raises(ValueError, match=f"unknown open_clip model 'ViT-Q-99'.*{PAPER_MODEL}"):
        load_clip("ViT-Q-99", "random")


def test_unknown_weights_tag_lists_the_known_ones():
    with pytest.raises(ValueError, match="cannot load open_clip 'ViT-S-32' weights 'nope'"):
        load_clip(MODEL, "nope")
