"""Hugging Face models as image-to-text tools (for users who can download from the hub).

Captions come from an image-to-text generator (BLIP by default), dense region captions and OCR
from Florence-2's task prompts, tags from an image-classification pipeline or, when the model
is an object detector (e.g. facebook/detr-resnet-50), the labels of the objects it finds. The
model of each tool is set by the setting `hub_models` ('tool=model id', comma-separated).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from i2cr.context import CLUE_TOOLS, Context
from i2cr.images import LoadedImage
from i2cr.tools.base import ClueTool
from i2cr.tools.image_tool import ImageClueTool, unsupported_kind

PROVIDER = "hub"
DEFAULT_MODELS = {
    "caption": "Salesforce/blip-image-captioning-base",
    "dense_caption": "florence-community/Florence-2-base",
    "ocr": "florence-community/Florence-2-base",
    "tags": "google/vit-base-patch16-224",
}
FLORENCE_TASKS = {
    "caption": "<CAPTION>",
    "dense_caption": "<DENSE_REGION_CAPTION>",
    "ocr": "<OCR>",
}
MAX_NEW_TOKENS = 64
MAX_TAGS = 5


def named_hub_models(settings: Context) -> dict[str, str]:
    """The model id (or local directory) `hub_models` names for each tool it names."""
    models = {}
    for part in (p.strip() for p in settings.hub_models.split(",") if p.strip()):
        name, sep, model_id = (s.strip() for s in part.partition("="))
        if not sep or name not in CLUE_TOOLS or not model_id:
            raise ValueError(
                f"hub_models entry {part!r} must be 'tool=model id' with tool in {list(CLUE_TOOLS)}"
            )
        models[name] = model_id
    return models


def hub_model_for(kind: str, settings: Context) -> str:
    """The model id (or local directory) for a tool: the one named, else the default."""
    return {**DEFAULT_MODELS, **named_hub_models(settings)}[kind]


@lru_cache(maxsize=4)
def load_generator(model_id: str) -> tuple[Any, Any]:
    """(processor, model) of an image-to-text generator such as BLIP or Florence-2."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(model_id)
    model = AutoModelForImageTextToText.from_pretrained(model_id)
    model.eval()
    return processor, model


@lru_cache(maxsize=2)
def load_tagger(model_id: str) -> Any:
    """An image-classification pipeline, or object-detection for a detector (e.g. DETR)."""
    from transformers import AutoConfig, pipeline

    architectures = AutoConfig.from_pretrained(model_id).architectures or []
    detects = any(name.endswith("ForObjectDetection") for name in architectures)
    return pipeline("object-detection" if detects else "image-classification", model=model_id)


def predicted_tags(model_id: str, image: Any, min_score: float) -> str:
    """Tags from a classifier (top labels) or a detector (labels of the objects found)."""
    tagger = load_tagger(model_id)
    if tagger.task == "object-detection":
        return classifier_tags(tagger(image, threshold=min_score), min_score)
    return classifier_tags(tagger(image, top_k=MAX_TAGS), min_score)


def florence_text(task: str, parsed: Mapping[str, Any]) -> str:
    """Clue text from Florence-2's post-processed answer: text, or region labels joined."""
    answer = parsed.get(task, "")
    if isinstance(answer, str):
        return answer.strip()
    labels = (label.strip() for label in answer.get("labels", []))
    return "; ".join(dict.fromkeys(label for label in labels if label))


def classifier_tags(predictions: list[dict[str, Any]], min_score: float) -> str:
    """Predicted labels at or above `min_score`, best first, each once (first synonym)."""
    labels = (
        str(p["label"]).split(",")[0].strip()
        for p in sorted(predictions, key=lambda p: p["score"], reverse=True)
        if p["score"] >= min_score
    )
    return "; ".join(dict.fromkeys(label for label in labels if label))


def generate_text(model_id: str, kind: str, image: Any) -> str:
    """Caption (BLIP-like) or Florence-2 task output for one PIL image."""
    import torch

    processor, model = load_generator(model_id)
    is_florence = model.config.model_type == "florence2"
    if not is_florence and kind != "caption":
        raise ValueError(
            f"{kind} clues need a Florence-2 model; {model_id} is a {model.config.model_type} "
            "model (set hub_models, e.g. 'dense_caption=florence-community/Florence-2-base')"
        )
    task = FLORENCE_TASKS[kind] if is_florence else None
    inputs = processor(images=image, text=task, return_tensors="pt")
    with torch.inference_mode():
        ids = model.generate(**inputs, max_new_tokens=MAX_NEW_TOKENS)
    if task is None:
        return str(processor.batch_decode(ids, skip_special_tokens=True)[0]).strip()
    raw = processor.batch_decode(ids, skip_special_tokens=False)[0]
    return florence_text(
        task, processor.post_process_generation(raw, task=task, image_size=image.size)
    )


class HubTool(ImageClueTool):
    """A Hugging Face model turning the image into one kind of clue text."""

    provider: str = PROVIDER

    def settings_key(self, settings: Context) -> str:
        """Outputs depend on the model (and, for tags, the probability cut)."""
        model_id = hub_model_for(self.name, settings)
        return f"{model_id}/min_score={settings.tag_min_score}" if self.name == "tags" else model_id

    def describe(self, image: LoadedImage, settings: Context) -> str:
        """Run the configured model on the decoded image."""
        model_id = hub_model_for(self.name, settings)
        if self.name == "tags":
            return predicted_tags(model_id, image.image, settings.tag_min_score)
        return generate_text(model_id, self.name, image.image)


def hub_tool(kind: str) -> ClueTool:
    """The Hugging Face tool for one clue kind."""
    if kind not in DEFAULT_MODELS:
        raise unsupported_kind(PROVIDER, kind, tuple(DEFAULT_MODELS))
    return HubTool(name=kind, description=f"Describe the mention image ({kind}) with a hub model.")
