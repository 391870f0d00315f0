"""Image-text alignment for IAV with open_clip, on CLIP's logit scale (100 x cosine).

The paper's setting is `clip_model="ViT-bigG-14"`, `clip_pretrained="laion2b_s39b_b160k"`
(about 10 GB of weights from the Hugging Face hub: a GPU setting) with beta = 31. Any
open_clip architecture and pretrained tag (or checkpoint path) works; 'random' gives randomly
initialised weights for tests, whose scores mean nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from i2cr.images import ImageLimits, ImageSource, LoadedImage, load_image, run_context
from i2cr.models.precision import Precision, ResolvedPrecision, resolve_precision, torch_dtype

if TYPE_CHECKING:
    import torch

PAPER_MODEL = "ViT-bigG-14"
PAPER_PRETRAINED = "laion2b_s39b_b160k"
RANDOM_WEIGHTS = "random"
LOGIT_SCALE = 100.0
_CACHE_SIZE = 1024

_image_features: OrderedDict[tuple[str, str, ResolvedPrecision, str], torch.Tensor] = OrderedDict()


def load_clip(
    model_name: str, pretrained: str, precision: Precision = "auto"
) -> tuple[Any, Any, Any]:
    """(model, image preprocess, tokenizer) for an open_clip model, in eval mode on the CPU.

    `pretrained` is an open_clip tag (e.g. 'laion2b_s39b_b160k'), a checkpoint path, or
    'random' for randomly initialised weights (tests only: scores are meaningless). The
    weights are cast to `precision`; images go in as that dtype (`clip_scores` does it).
    """
    return _load_clip(model_name, pretrained, resolve_precision(precision))


@lru_cache(maxsize=2)
def _load_clip(
    model_name: str, pretrained: str, precision: ResolvedPrecision
) -> tuple[Any, Any, Any]:
    try:
        import open_clip
    except ImportError as err:
        raise RuntimeError("CLIP scoring needs open_clip: pip install 'i2cr[vision]'") from err
    if model_name not in open_clip.list_models():
        raise ValueError(
            f"unknown open_clip model {model_name!r} (see open_clip.list_models(); "
            f"the paper used {PAPER_MODEL!r})"
        )
    weights = None if pretrained == RANDOM_WEIGHTS else pretrained
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(model_name, pretrained=weights)
    except (RuntimeError, OSError, ValueError) as err:  # unknown tag, no hub access
        tags = [tag for name, tag in open_clip.list_pretrained() if name == model_name]
        raise ValueError(
            f"cannot load open_clip {model_name!r} weights {pretrained!r}: {err} "
            f"(known tags: {tags}, a checkpoint path, or 'random')"
        ) from err
    model.to(torch_dtype(precision)).eval()
    return model, preprocess, open_clip.get_tokenizer(model_name)


def clip_scores(
    model_name: str,
    pretrained: str,
    image: ImageSource | LoadedImage,
    texts: list[str],
    limits: ImageLimits | None = None,
    precision: Precision = "auto",
) -> list[float]:
    """100 x cosine(image, text) for each text, the scale the paper's beta uses.

    The model runs in `precision`, the cosine in float32. The image's features are computed
    once per (model, weights, precision, image content), so IAV's repeated checks of one
    mention image cost only the text side.
    """
    import torch

    if not isinstance(image, LoadedImage):
        image = load_image(image, limits or ImageLimits.from_context(run_context()))
    resolved = resolve_precision(precision)
    model, preprocess, tokenizer = load_clip(model_name, pretrained, resolved)
    key = (model_name, pretrained, resolved, image.content_hash)
    with torch.inference_mode():
        image_features = _image_features.get(key)
        if image_features is None:
            pixels = preprocess(image.image).unsqueeze(0).to(torch_dtype(resolved))
            image_features = _unit(model.encode_image(pixels).float())[0]
            _image_features[key] = image_features
            while len(_image_features) > _CACHE_SIZE:
                _image_features.popitem(last=False)
        text_features = _unit(model.encode_text(tokenizer(texts)).float())
    return [float(s) for s in LOGIT_SCALE * (text_features @ image_features)]


def _unit(features: torch.Tensor) -> torch.Tensor:
    return features / features.norm(dim=-1, keepdim=True)
