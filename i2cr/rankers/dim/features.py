"""Tensors DIM trains and ranks on: sentence embeddings (cached on disk) and CLIP image features."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from i2cr.datasets import Sample
from i2cr.images import image_problem
from i2cr.models.embedder import embed
from i2cr.models.precision import Precision, resolve_precision, torch_dtype
from i2cr.rankers.dim.texts import candidate_texts, cue_text
from i2cr.texts import mention_in_sentence

EMBED_BATCH = 256


@dataclass
class Features:
    """DIM's inputs for S samples of at most N candidates (masks: True where present)."""

    mention: torch.Tensor  # (S, D) the mention alone
    context: torch.Tensor  # (S, D) the mention in its sentence
    cue: torch.Tensor  # (S, D) the image caption
    cue_present: torch.Tensor  # (S,)
    entities: torch.Tensor  # (S, N, D) name and description of each candidate
    entity_present: torch.Tensor  # (S, N)
    gold: torch.Tensor  # (S,) index of the gold candidate, -1 when it is not among them
    image: torch.Tensor | None = None  # (S, I) CLIP image features
    image_present: torch.Tensor | None = None  # (S,)

    def __len__(self) -> int:
        """The number of samples."""
        return int(self.mention.shape[0])

    def select(self, index: torch.Tensor) -> Features:
        """The samples at `index` (a batch)."""
        picked: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            picked[f.name] = None if value is None else value[index]
        return Features(**picked)


def cache_dir() -> Path:
    """Where embeddings are cached: `$I2CR_CACHE_DIR/dim-embeddings` (default ~/.cache/i2cr)."""
    root = Path(os.environ.get("I2CR_CACHE_DIR", "~/.cache/i2cr")).expanduser()
    return root / "dim-embeddings"


def embed_cached(
    embedder: str, texts: list[str], cache: Path | None = None, precision: Precision = "auto"
) -> np.ndarray:
    """Embeddings of `texts` (one row each), computed once per embedder and text list.

    With `cache`, the unique texts' vectors are stored as `<embedder>-<hash>.npy`, keyed by the
    embedder spec, its precision (float32 keeps the key of the files cached before precision
    was a setting) and the set of texts (so any order of the same texts reads the same file).
    """
    unique = sorted(set(texts))
    resolved = resolve_precision(precision)
    path = None
    if cache is not None:
        spec = embedder if resolved == "float32" else f"{embedder}|{resolved}"
        digest = hashlib.sha256("\0".join([spec, *unique]).encode()).hexdigest()[:24]
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", embedder)[-40:]
        path = cache / f"{slug}-{digest}.npy"
        if path.is_file():
            vectors = np.load(path)
            if vectors.shape[0] == len(unique):
                return _gather(vectors, unique, texts)
    vectors = np.concatenate(
        [
            embed(embedder, unique[i : i + EMBED_BATCH], precision=resolved)
            for i in range(0, len(unique), EMBED_BATCH)
        ]
    ).astype(np.float32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp.npy")
        np.save(partial, vectors)
        partial.replace(path)
    return _gather(vectors, unique, texts)


def _gather(vectors: np.ndarray, unique: list[str], texts: list[str]) -> np.ndarray:
    row = {text: i for i, text in enumerate(unique)}
    return vectors[[row[t] for t in texts]]


def gold_index(sample: Sample) -> int:
    """Position of the gold entity among the candidates (by QID, else by name), or -1."""
    for i, candidate in enumerate(sample.candidates):
        if sample.gold_qid and candidate.get("qid") == sample.gold_qid:
            return i
    for i, candidate in enumerate(sample.candidates):
        if sample.gold_name and candidate["name"] == sample.gold_name:
            return i
    return -1


def image_features(
    model_name: str, pretrained: str, images: list[str | None], precision: Precision = "auto"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit-normalised float32 CLIP image features and a presence mask (bad image: absent)."""
    from PIL import Image

    from i2cr.models.clip import load_clip

    model, preprocess, _ = load_clip(model_name, pretrained, precision)
    dtype = torch_dtype(precision)
    rows: list[torch.Tensor | None] = []
    for path in images:
        if path is None or image_problem(path) is not None:
            rows.append(None)
            continue
        with Image.open(path) as image, torch.inference_mode():
            pixels = preprocess(image.convert("RGB")).unsqueeze(0).to(dtype)
            feature = model.encode_image(pixels)[0].float()
        rows.append(feature / feature.norm())
    width = next((r.shape[0] for r in rows if r is not None), 0)
    if width == 0:
        width = int(model.visual.output_dim)
    stacked = torch.stack([torch.zeros(width) if r is None else r for r in rows])
    return stacked, torch.tensor([r is not None for r in rows])


def featurize(
    samples: list[Sample],
    embedder: str,
    *,
    cache: Path | None = None,
    image_encoder: tuple[str, str] | None = None,
    precision: Precision = "auto",
) -> Features:
    """Features of `samples`; `image_encoder` is (open_clip model, pretrained) or None.

    The embedder and the image encoder run in `precision`; the features are float32.
    """
    if not samples:
        raise ValueError("no samples to featurize")
    empty = [s.id for s in samples if not s.candidates]
    if empty:
        raise ValueError(f"samples without candidates: {empty[:5]}")
    width = max(len(s.candidates) for s in samples)
    entity_texts = [candidate_texts(s.candidates) for s in samples]
    flat = [t for texts in entity_texts for t in texts]
    entity_rows = torch.from_numpy(embed_cached(embedder, flat, cache, precision))
    dim = entity_rows.shape[1]
    entities = torch.zeros(len(samples), width, dim)
    present = torch.zeros(len(samples), width, dtype=torch.bool)
    start = 0
    for i, texts in enumerate(entity_texts):
        entities[i, : len(texts)] = entity_rows[start : start + len(texts)]
        present[i, : len(texts)] = True
        start += len(texts)
    cues = [cue_text(s.clues) for s in samples]

    def vectors(texts: list[str]) -> torch.Tensor:
        return torch.from_numpy(embed_cached(embedder, texts, cache, precision))

    features = Features(
        mention=vectors([s.mention for s in samples]),
        context=vectors([mention_in_sentence(s.mention, s.context) for s in samples]),
        cue=vectors(cues),
        cue_present=torch.tensor([bool(c) for c in cues]),
        entities=entities,
        entity_present=present,
        gold=torch.tensor([gold_index(s) for s in samples]),
    )
    if image_encoder is not None:
        features.image, features.image_present = image_features(
            *image_encoder, [s.image for s in samples], precision
        )
    return features
