"""Image-text alignment for IAV with open_clip, on CLIP's logit scale (100 x cosine)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

RANDOM_WEIGHTS = "random"


@lru_cache(maxsize=2)
def load_clip(model_name: str, pretrained: str) -> tuple[Any, Any, Any]:
    """(model, image preprocess, tokenizer) for an open_clip model.

    `pretrained` is an open_clip tag (e.g. 'laion2b_s39b_b160k'), a checkpoint path, or
    'random' for randomly initialised weights (tests only: scores are meaningless).
    """
    import open_clip

    weights = None if pretrained == RANDOM_WEIGHTS else pretrained
    model, _, preprocess = open_clip.create_model_and_transforms(model_name, pretrained=weights)
    model.eval()
    return model, preprocess, open_clip.get_tokenizer(model_name)


def clip_scores(model_name: str, pretrained: str, image_path: str, texts: list[str]) -> list[float]:
    """100 x cosine(image, text) for each text, the scale the paper's beta uses."""
    import torch
    from PIL import Image

    model, preprocess, tokenizer = load_clip(model_name, pretrained)
    with Image.open(image_path) as image:
        pixels = preprocess(image.convert("RGB")).unsqueeze(0)
    with torch.inference_mode():
        image_features = model.encode_image(pixels)
        text_features = model.encode_text(tokenizer(texts))
    image_features = image_features / image_features.norm(dim=-1, keepdim=True)
    text_features = text_features / text_features.norm(dim=-1, keepdim=True)
    return [float(s) for s in (100.0 * text_features @ image_features.T).squeeze(-1)]
