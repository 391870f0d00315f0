import numpy as np

from i2cr.models import embedder
from i2cr.models.embedder import cosine, embed, load_embedder


def test_texts_embedded_before_are_not_encoded_again(monkeypatch):
    model = load_embedder("minilm")
    encoded: list[list[str]] = []
    original = model.encode

    def counting(texts, **kwargs):
        encoded.append(list(texts))
        return original(texts, **kwargs)

    monkeypatch.setattr(model, "encode", counting)
    monkeypatch.setattr(embedder, "_embeddings", embedder.OrderedDict())
    first = embed("minilm", ["Ruth Rendell, English author", "Ed Rendell, politician"])
    again = embed(
        "minilm", ["Ed Rendell, politician", "a jazz saxophonist", "Ed Rendell, politician"]
    )
    assert encoded == [
        ["Ruth Rendell, English author", "Ed Rendell, politician"],
        ["a jazz saxophonist"],
    ]
    assert np.allclose(again[0], first[1]) and np.allclose(again[2], first[1])
    assert np.allclose(np.linalg.norm(again, axis=1), 1.0, atol=1e-5)


def test_the_cache_keeps_only_the_most_recent_texts(monkeypatch):
    monkeypatch.setattr(embedder, "_embeddings", embedder.OrderedDict())
    monkeypatch.setattr(embedder, "EMBEDDING_CACHE_SIZE", 2)
    scores = cosine("minilm", "the governor", ["a politician", "an author"])
    assert len(embedder._embeddings) == 2
    assert cosine("minilm", "the governor", ["a politician", "an author"]) == scores
    assert scores[0] > scores[1]
