"""A trained DIM model on disk (config.json + weights.pt) and ranking candidates with it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path

import torch

from i2cr.datasets import Sample
from i2cr.models.precision import Precision
from i2cr.rankers.dim.features import featurize
from i2cr.rankers.dim.model import DimConfig, DimFusion

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.pt"


def shipped_weights() -> Path:
    """The folder of the DIM weights shipped with the package (trained on WikiMEL train)."""
    return Path(str(resources.files("i2cr") / "assets" / "dim"))


def save_model(
    model: DimFusion, folder: str | Path, metadata: Mapping[str, object] | None = None
) -> Path:
    """Write the model's config (with `metadata`, e.g. how it was trained) and weights."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    config = {**model.config.as_dict(), "metadata": dict(metadata or {})}
    (target / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    torch.save(model.state_dict(), target / WEIGHTS_FILE)
    return target


def load_model(folder: str | Path) -> DimFusion:
    """A DIM model saved by `save_model`, in evaluation mode."""
    source = Path(folder)
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (source / name).is_file():
            raise FileNotFoundError(f"DIM weights folder {source} has no {name}")
    raw = json.loads((source / CONFIG_FILE).read_text(encoding="utf-8"))
    raw.pop("metadata", None)
    model = DimFusion(DimConfig(**raw))
    model.load_state_dict(torch.load(source / WEIGHTS_FILE, weights_only=True))
    model.eval()
    return model


class DimRanker:
    """Scores and orders a mention's candidates with a trained DIM model."""

    def __init__(self, model: DimFusion) -> None:
        """Wrap a trained model."""
        self.model = model

    def score_samples(
        self, samples: list[Sample], precision: Precision = "auto"
    ) -> list[list[float]]:
        """Each sample's candidate scores, in the samples' candidate order.

        `precision` is that of the feature encoders; the DIM model itself runs in float32.
        """
        features = featurize(
            samples,
            self.model.config.embedder,
            image_encoder=self.model.config.image_encoder,
            precision=precision,
        )
        with torch.inference_mode():
            scores = self.model(features)
        return [row[: len(s.candidates)].tolist() for row, s in zip(scores, samples, strict=True)]

    def order(self, sample: Sample, precision: Precision = "auto") -> list[int]:
        """The sample's candidate positions, best first (ties keep the input order)."""
        scores = self.score_samples([sample], precision)[0]
        return sorted(range(len(scores)), key=lambda i: -scores[i])


@lru_cache(maxsize=4)
def load_ranker(folder: str = "") -> DimRanker:
    """The ranker saved in `folder` (the shipped weights when empty), loaded once."""
    return DimRanker(load_model(folder or shipped_weights()))
